"""Volatility-targeted sizing: a wanted position's weight is scaled to the spec's annual
volatility (realized or ATR), never above the fixed fraction; fixed_fraction is unchanged."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from strategies.params import record_params
from strategies.spec import Sizing, load_specs

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

SYMBOLS = ("AAA", "BBB")
START = datetime(2025, 11, 3, 14, tzinfo=UTC)
HOURLY_BARS_PER_YEAR = 252 * 6.5


def _bars() -> list[dict[str, Any]]:
    rows = []
    for number, symbol in enumerate(SYMBOLS):
        rng = random.Random(10 + number)  # noqa: S311 - test data
        price = 50.0
        for i in range(160):
            close = round(
                price * math.exp(rng.gauss(0, 0.01 * (1 + number)) + 0.02 * math.sin(i / 8)), 2
            )
            rows.append(
                {
                    "symbol": symbol,
                    "timeframe": "1Hour",
                    "ts": START + timedelta(hours=i),
                    "open": price,
                    "high": max(price, close) + 0.05,
                    "low": min(price, close) - 0.05,
                    "close": close,
                    "volume": 1000,
                }
            )
            price = close
    return rows


def test_volatility_target_scales_the_weight_and_fixed_fraction_does_not(
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
) -> None:
    sizing = {
        "sma_crossover": Sizing(method="volatility_target", annual_volatility=0.02),
        "rsi_mean_reversion": Sizing(
            method="volatility_target", annual_volatility=0.03, measure="atr"
        ),
        "bollinger_breakout": Sizing(),
    }
    specs = [
        spec.model_copy(update={"universe": list(SYMBOLS), "sizing": sizing[spec.name]})
        for spec in load_specs()
    ]
    record_params(module_engine, specs, START)
    insert_bars(module_engine, _bars())
    dbt_ok(["build", "--select", "+signals", "--exclude", "test_type:unit"], module_database)

    with module_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select s.strategy, s.in_position, s.target_weight, i.volatility_20,"
                " i.atr_14, i.close from marts.signals s"
                " join marts.indicators i using (symbol, timeframe, ts)"
            )
        ).all()
    fixed = {spec.name: spec.limits.target_weight for spec in specs}
    held = [row for row in rows if row.in_position]
    assert {row.strategy for row in held} == set(sizing), "every strategy should hold something"
    scaled = 0
    for row in rows:
        if not row.in_position:
            assert row.target_weight == 0
            continue
        spec_sizing = sizing[row.strategy]
        if spec_sizing.method == "fixed_fraction":
            expected = fixed[row.strategy]
        else:
            per_bar = (
                row.volatility_20
                if spec_sizing.measure == "realized"
                else row.atr_14 / float(row.close)
            )
            target = spec_sizing.annual_volatility or 0.0
            expected = min(
                fixed[row.strategy], target / (per_bar * math.sqrt(HOURLY_BARS_PER_YEAR))
            )
            scaled += expected < fixed[row.strategy]
        assert float(row.target_weight) == pytest.approx(expected, rel=1e-12), row
    assert scaled > 0, "the data should make volatility targeting bind"
