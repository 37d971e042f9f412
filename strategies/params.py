"""Load the validated strategy specs into raw.strategy_params, keeping every change's history."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine, text

from strategies.spec import StrategySpec

LATEST = text(
    "select distinct on (strategy) strategy, spec from raw.strategy_params "
    "order by strategy, effective_from desc"
)
INSERT = text(
    "insert into raw.strategy_params (strategy, effective_from, spec, spec_file) "
    "values (:strategy, :effective_from, cast(:spec as jsonb), :spec_file)"
)


def record_params(
    engine: Engine, specs: list[StrategySpec], effective_from: datetime, spec_file: str = ""
) -> list[str]:
    """Add a row for each strategy whose spec differs from its latest row; returns their names.

    An unchanged spec adds nothing, so loading on every cycle is cheap and the table holds one
    row per change: the parameters, universe and limits in force from `effective_from` on.
    """
    with engine.begin() as conn:
        conn.execute(text("lock table raw.strategy_params in share row exclusive mode"))
        latest = {str(name): spec for name, spec in conn.execute(LATEST)}
        changed = [s for s in specs if latest.get(s.name) != s.model_dump(mode="json")]
        if changed:
            conn.execute(
                INSERT,
                [
                    {
                        "strategy": spec.name,
                        "effective_from": effective_from,
                        "spec": json.dumps(spec.model_dump(mode="json")),
                        "spec_file": spec_file or f"strategies/specs/{spec.name}.yaml",
                    }
                    for spec in changed
                ],
            )
    return [spec.name for spec in changed]
