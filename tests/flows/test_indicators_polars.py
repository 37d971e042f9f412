"""The benchmark's polars yardstick computes the same indicators as TA-Lib."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib

from flows.bench import synthetic_bars
from flows.indicators_polars import indicators


@pytest.fixture(scope="module")
def computed() -> pl.DataFrame:
    return indicators(synthetic_bars(2, 300)).filter(pl.col("symbol") == "S0001")


def references(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    close, high, low = (frame[c].to_numpy() for c in ("close", "high", "low"))
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2, 2, 0)
    return {
        "sma_20": talib.SMA(close, 20),
        "sma_50": talib.SMA(close, 50),
        "ema_12": talib.EMA(close, 12),
        "ema_26": talib.EMA(close, 26),
        "rsi_14": talib.RSI(close, 14),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
        "bb_upper_20": upper,
        "bb_middle_20": middle,
        "bb_lower_20": lower,
        "atr_14": talib.ATR(high, low, close, 14),
    }


def test_every_talib_indicator_matches_with_nulls_in_the_same_places(
    computed: pl.DataFrame,
) -> None:
    for name, expected in references(computed).items():
        ours = computed[name].to_numpy().astype(float)
        assert np.array_equal(np.isnan(ours), np.isnan(expected)), name
        assert np.nanmax(np.abs(ours - expected)) <= 1e-9, name


def test_returns_and_volatility_follow_numpy(computed: pl.DataFrame) -> None:
    close = computed["close"].to_numpy()
    log_returns = np.log(close[1:] / close[:-1])
    assert computed["log_return_1"][1:].to_numpy() == pytest.approx(log_returns, abs=1e-12)
    expected = np.std(log_returns[-20:], ddof=1)
    assert computed["volatility_20"][-1] == pytest.approx(expected, abs=1e-12)
    assert computed["is_warm"].arg_true()[0] == 49  # sma_50's first value
