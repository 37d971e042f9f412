"""marts.indicators equals TA-Lib's SMA(20) and RSI(14) for every symbol and timeframe."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import talib
from sqlalchemy import Engine, text

from config.database import Connection

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

START = datetime(2026, 1, 5, 14, tzinfo=UTC)
STEP = {"1Hour": timedelta(hours=1), "1Day": timedelta(days=1)}


def _random_walk(seed: int, length: int) -> list[Decimal]:
    rng = np.random.default_rng(seed)
    closes = 100 + np.cumsum(rng.normal(0, 1.5, length))
    return [Decimal(f"{max(c, 1.0):.4f}") for c in closes]


SERIES: dict[tuple[str, str], list[Decimal]] = {
    ("AAA", "1Hour"): _random_walk(1, 300),
    ("AAA", "1Day"): _random_walk(2, 260),
    ("BBB", "1Hour"): _random_walk(3, 280),
    ("BBB", "1Day"): _random_walk(4, 200),
    ("FLAT", "1Hour"): [Decimal("50.00")] * 40,
    ("RISE", "1Day"): [Decimal(20 + i) / 4 for i in range(40)],
    ("SHORT", "1Hour"): _random_walk(5, 12),
}


@pytest.fixture(scope="module")
def indicators(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Iterator[dict]:
    """Build the project once over SERIES and return marts.indicators per series."""
    insert_bars(
        module_engine,
        [
            {
                "symbol": symbol,
                "timeframe": timeframe,
                "ts": START + i * STEP[timeframe],
                "open": close,
                "high": close + 1,
                "low": close - 1,
                "close": close,
                "volume": 1000,
            }
            for (symbol, timeframe), closes in SERIES.items()
            for i, close in enumerate(closes)
        ],
    )
    dbt_ok(["build", "--select", "+indicators"], module_database)
    with module_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select symbol, timeframe, close, sma_20, rsi_14, is_warm"
                " from marts.indicators order by symbol, timeframe, ts"
            )
        ).all()
    by_series: dict[tuple[str, str], list] = {}
    for row in rows:
        by_series.setdefault((row.symbol, row.timeframe), []).append(row)
    yield by_series


def _as_array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values])


@pytest.mark.parametrize("series", list(SERIES), ids=lambda s: f"{s[0]}-{s[1]}")
def test_sma_20_matches_talib(indicators: dict, series: tuple[str, str]) -> None:
    rows = indicators[series]
    closes = np.array([float(c) for c in SERIES[series]])
    expected = talib.SMA(closes, 20)
    actual = _as_array([r.sma_20 for r in rows])
    assert [float(r.close) for r in rows] == closes.tolist()
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("series", list(SERIES), ids=lambda s: f"{s[0]}-{s[1]}")
def test_rsi_14_matches_talib(indicators: dict, series: tuple[str, str]) -> None:
    rows = indicators[series]
    expected = talib.RSI(np.array([float(c) for c in SERIES[series]]), 14)
    actual = _as_array([r.rsi_14 for r in rows])
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)


def test_constant_price_has_rsi_0_like_talib(indicators: dict) -> None:
    rsi = [r.rsi_14 for r in indicators[("FLAT", "1Hour")]]
    assert rsi[:14] == [None] * 14
    assert rsi[14:] == [0.0] * 26


def test_only_rising_price_has_rsi_100(indicators: dict) -> None:
    rsi = [r.rsi_14 for r in indicators[("RISE", "1Day")]]
    assert rsi[:14] == [None] * 14
    assert rsi[14:] == [100.0] * 26


def test_short_series_has_no_indicator_values(indicators: dict) -> None:
    rows = indicators[("SHORT", "1Hour")]
    assert len(rows) == 12
    assert all(r.sma_20 is None and r.rsi_14 is None and not r.is_warm for r in rows)


def test_bars_are_warm_from_the_20th_bar(indicators: dict) -> None:
    warm = [r.is_warm for r in indicators[("AAA", "1Hour")]]
    assert warm == [False] * 19 + [True] * 281
