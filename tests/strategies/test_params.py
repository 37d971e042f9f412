"""Strategy specs in raw.strategy_params: one row per change, the history kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from strategies.params import record_params
from strategies.spec import load_specs

MONDAY = datetime(2024, 3, 4, 15, 5, tzinfo=UTC)
TUESDAY = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)


def rows(engine: Engine) -> list[tuple[str, datetime, int, int]]:
    with engine.connect() as conn:
        return [
            (name, at, int(spec["parameters"]["fast"]), int(spec["parameters"]["slow"]))
            for name, at, spec in conn.execute(
                text(
                    "select strategy, effective_from, spec from raw.strategy_params "
                    "order by strategy, effective_from"
                )
            )
        ]


def test_an_unchanged_spec_adds_nothing_and_a_change_adds_a_row(engine: Engine) -> None:
    (spec,) = [s for s in load_specs() if s.name == "sma_crossover"]
    assert record_params(engine, [spec], MONDAY) == ["sma_crossover"]
    assert record_params(engine, [spec], TUESDAY) == []
    faster = spec.model_copy(update={"parameters": spec.parameters.model_copy(update={"fast": 5})})
    assert record_params(engine, [faster], TUESDAY) == ["sma_crossover"]
    assert rows(engine) == [
        ("sma_crossover", MONDAY, spec.parameters.fast, spec.parameters.slow),
        ("sma_crossover", TUESDAY, 5, spec.parameters.slow),
    ]
