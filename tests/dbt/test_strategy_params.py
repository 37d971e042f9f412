"""Strategy parameter history through dbt: which spec was in force when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from config.database import Connection
from strategies.params import record_params
from strategies.spec import load_specs

MONDAY = datetime(2024, 3, 4, 15, 5, tzinfo=UTC)
TUESDAY = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)


def test_each_change_is_in_force_until_the_next(
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: Callable[[list[str], Connection], None],
) -> None:
    (spec,) = [s for s in load_specs() if s.name == "sma_crossover"]
    slower = spec.model_copy(update={"parameters": {"full_strength_gap": 0.05}})
    record_params(module_engine, [spec], MONDAY)
    record_params(module_engine, [slower], TUESDAY)
    dbt_ok(["build", "--select", "stg_trading__strategy_params"], module_database)
    with module_engine.connect() as conn:
        history = conn.execute(
            text(
                "select effective_from, effective_to, isfinite(applies_from), is_current, "
                "(parameters ->> 'full_strength_gap')::float, universe[1], timeframe "
                "from staging.stg_trading__strategy_params order by effective_from"
            )
        ).all()
    assert history == [
        (MONDAY, TUESDAY, False, False, 0.02, spec.universe[0], "1Hour"),
        (TUESDAY, None, True, True, 0.05, spec.universe[0], "1Hour"),
    ]
