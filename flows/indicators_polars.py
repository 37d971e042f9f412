"""The indicator set of marts.indicators computed in memory with polars: the benchmark's yardstick.

Same conventions as the dbt models (TA-Lib's): EMAs seeded with the simple average of their first
N values, Wilder smoothing for RSI and ATR, MACD's fast EMA aligned to the slow one, population
standard deviation for Bollinger bands, sample standard deviation for volatility_20, VWAP reset
each New York day. Windows count bars, per symbol and timeframe.
"""

from __future__ import annotations

import polars as pl

MARKET_TZ = "America/New_York"
SERIES = ["symbol", "timeframe"]


def _seeded(values: pl.Expr, length: int, alpha: float, first: int = 0) -> pl.Expr:
    """An exponential average seeded with the mean of `length` values starting at `first`.

    Values before the seed are null; from the seed on, avg = alpha * x + (1 - alpha) * avg.
    """
    position = pl.col("bar_index")
    seed_at = first + length - 1
    seed = values.rolling_mean(length).over(SERIES)
    prepared = (
        pl.when(position < seed_at)
        .then(None)
        .when(position == seed_at)
        .then(seed)
        .otherwise(values)
    )
    return prepared.ewm_mean(alpha=alpha, adjust=False, ignore_nulls=True).over(SERIES)


def _ema(values: pl.Expr, length: int, first: int = 0) -> pl.Expr:
    return _seeded(values, length, 2 / (length + 1), first)


def _wilder(values: pl.Expr, length: int, first: int = 1) -> pl.Expr:
    return _seeded(values, length, 1 / length, first)


def indicators(bars: pl.DataFrame) -> pl.DataFrame:
    """Add the indicator columns to bars (symbol, timeframe, ts, open, high, low, close, volume)."""
    close, high, low = pl.col("close"), pl.col("high"), pl.col("low")
    previous = close.shift(1).over(SERIES)
    change = close - previous
    true_range = pl.max_horizontal(high - low, (high - previous).abs(), (low - previous).abs())
    typical = (high + low + close) / 3
    session = pl.col("ts").dt.convert_time_zone(MARKET_TZ).dt.date()
    frame = bars.sort([*SERIES, "ts"]).with_columns(
        pl.int_range(pl.len()).over(SERIES).alias("bar_index")
    )
    frame = frame.with_columns(
        close.rolling_mean(20).over(SERIES).alias("sma_20"),
        close.rolling_mean(50).over(SERIES).alias("sma_50"),
        _ema(close, 12).alias("ema_12"),
        _ema(close, 26).alias("ema_26"),
        _ema(close, 12, first=14).alias("macd_fast"),
        _wilder(change.clip(lower_bound=0), 14).alias("avg_gain"),
        _wilder((-change).clip(lower_bound=0), 14).alias("avg_loss"),
        _wilder(true_range, 14).alias("atr_14"),
        close.rolling_std(20, ddof=0).over(SERIES).alias("bb_sd"),
        (close / previous - 1).alias("return_1"),
        (close / previous).log().alias("log_return_1"),
        ((typical * pl.col("volume")).cum_sum() / pl.col("volume").cum_sum())
        .over([*SERIES, session])
        .alias("vwap"),
    )
    gain_plus_loss = pl.col("avg_gain") + pl.col("avg_loss")
    frame = frame.with_columns(
        (pl.col("macd_fast") - pl.col("ema_26")).alias("macd"),
        pl.col("sma_20").alias("bb_middle_20"),
        (pl.col("sma_20") + 2 * pl.col("bb_sd")).alias("bb_upper_20"),
        (pl.col("sma_20") - 2 * pl.col("bb_sd")).alias("bb_lower_20"),
        pl.when(gain_plus_loss == 0)
        .then(0.0)
        .otherwise(100 * pl.col("avg_gain") / gain_plus_loss)
        .alias("rsi_14"),
        pl.col("log_return_1").rolling_std(20, ddof=1).over(SERIES).alias("volatility_20"),
    )
    frame = frame.with_columns(_ema(pl.col("macd"), 9, first=25).alias("macd_signal"))
    # TA-Lib gives the MACD line only once its signal exists (bar 34).
    frame = frame.with_columns(
        pl.when(pl.col("macd_signal").is_not_null()).then(pl.col("macd")).alias("macd"),
        (pl.col("macd") - pl.col("macd_signal")).alias("macd_hist"),
    )
    warm = pl.all_horizontal(
        pl.col(c).is_not_null()
        for c in ("sma_50", "macd_signal", "rsi_14", "atr_14", "volatility_20", "bb_upper_20")
    )
    return frame.with_columns(warm.alias("is_warm")).drop(
        "bar_index", "macd_fast", "avg_gain", "avg_loss", "bb_sd"
    )
