"""Strategy specs in raw.strategy_params: one row per change, the history kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from strategies.params import record_params
from strategies.spec import load_specs

MONDAY = datetime(2024, 3, 4, 15, 5, tzinfo=UTC)
TUESDAY = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)


def rows(engine: Engine) -> list[tuple[str, datetime, float, int]]:
    with engine.connect() as conn:
        return [
            (name, at, spec["parameters"]["oversold"], spec["limits"]["max_positions"])
            for name, at, spec in conn.execute(
                text(
                    "select strategy, effective_from, spec from raw.strategy_params "
                    "order by strategy, effective_from"
                )
            )
        ]


def test_an_unchanged_spec_adds_nothing_and_a_change_adds_a_row(engine: Engine) -> None:
    (spec,) = [s for s in load_specs() if s.name == "rsi_mean_reversion"]
    assert record_params(engine, [spec], MONDAY) == ["rsi_mean_reversion"]
    assert record_params(engine, [spec], TUESDAY) == []
    deeper = spec.model_copy(update={"parameters": {**spec.parameters, "oversold": 20}})
    assert record_params(engine, [deeper], TUESDAY) == ["rsi_mean_reversion"]
    assert rows(engine) == [
        ("rsi_mean_reversion", MONDAY, spec.parameters["oversold"], spec.limits.max_positions),
        ("rsi_mean_reversion", TUESDAY, 20, spec.limits.max_positions),
    ]
