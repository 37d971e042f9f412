"""Validate a batch of bars: each rejected row gets a reason naming the field and the value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from ingestion.timeframes import Timeframe

MARKET_TZ = "America/New_York"
KEY = ["symbol", "timeframe", "ts"]
PRICES = ["open", "high", "low", "close"]

BARS_SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "timeframe": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "trade_count": pl.Int64(),
    "vwap": pl.Float64(),
}


@dataclass(frozen=True)
class Checked:
    """A validated batch: rows to land, and rows to quarantine with a `reason` column."""

    valid: pl.DataFrame
    rejected: pl.DataFrame


def _show(name: str) -> pl.Expr:
    """A column as text for a reason message; a null shows as 'null'."""
    return pl.col(name).cast(pl.String).fill_null("null")


def _rules(
    timeframe: Timeframe, now: datetime, known: set[str] | None
) -> list[tuple[pl.Expr, pl.Expr]]:
    """(is-bad condition, reason) pairs, checked in order; the first failing one is reported."""
    rules: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col("ts").is_null(), pl.lit("missing ts")),
        (pl.col("symbol").is_null() | (pl.col("symbol") == ""), pl.lit("missing symbol")),
    ]
    if known is not None:
        rules.append(
            (
                ~pl.col("symbol").is_in(sorted(known)),
                pl.format("unknown symbol: symbol = {} (not an Alpaca asset)", _show("symbol")),
            )
        )
    for price in PRICES:
        rules.append(
            (
                pl.col(price).is_null() | pl.col(price).is_nan() | pl.col(price).is_infinite(),
                pl.format(f"missing price: {price} is {{}}", _show(price)),
            )
        )
    for price in PRICES:
        rules.append(
            (pl.col(price) <= 0, pl.format(f"non-positive price: {price} = {{}}", _show(price)))
        )
    rules += [
        (
            pl.col("high") < pl.col("low"),
            pl.format("high {} < low {}", _show("high"), _show("low")),
        ),
        (
            (pl.col("open") > pl.col("high")) | (pl.col("open") < pl.col("low")),
            pl.format(
                "open {} outside [low {}, high {}]", _show("open"), _show("low"), _show("high")
            ),
        ),
        (
            (pl.col("close") > pl.col("high")) | (pl.col("close") < pl.col("low")),
            pl.format(
                "close {} outside [low {}, high {}]", _show("close"), _show("low"), _show("high")
            ),
        ),
        (
            pl.col("volume").is_null() | pl.col("volume").is_nan() | (pl.col("volume") < 0),
            pl.format("invalid volume: volume = {}", _show("volume")),
        ),
        (
            ~_on_grid(timeframe),
            pl.format(f"ts {{}} not on the {timeframe.name} grid", _show("ts")),
        ),
        (pl.col("ts") > pl.lit(now), pl.format("ts {} is in the future", _show("ts"))),
        # Which copy of a key is right cannot be told, so none lands.
        (
            (_copy() == 0).sum().over(KEY) > 1,
            pl.format(
                "duplicate key with different values: {} {} {}",
                _show("symbol"),
                _show("timeframe"),
                _show("ts"),
            ),
        ),
        # Last, so a copy of a bad row is rejected for what is wrong with it; a copy that gets
        # here passed every rule, and so did the first, which lands.
        (
            _copy() > 0,
            pl.format(
                "exact duplicate of a landed row: {} {} {}",
                _show("symbol"),
                _show("timeframe"),
                _show("ts"),
            ),
        ),
    ]
    return rules


def _copy() -> pl.Expr:
    """0 for a row's first occurrence in the batch, 1 for its first exact copy, and so on."""
    return pl.int_range(pl.len()).over(list(BARS_SCHEMA))


def _on_grid(timeframe: Timeframe) -> pl.Expr:
    """Intraday bars start on a multiple of their length in UTC; daily bars at midnight ET."""
    if timeframe.is_intraday:
        seconds = int(timeframe.length.total_seconds())
        return (pl.col("ts").dt.epoch("s") % seconds) == 0
    local = pl.col("ts").dt.convert_time_zone(MARKET_TZ)
    return (local.dt.hour() == 0) & (local.dt.minute() == 0) & (local.dt.second() == 0)


def check_bars(
    bars: pl.DataFrame, timeframe: Timeframe, now: datetime, known: set[str] | None = None
) -> Checked:
    """Split a batch of bars (BARS_SCHEMA columns) into valid rows and rejected rows.

    Rows sharing a key with different values are all rejected; of exact copies of a row, the
    first is kept and the others are rejected as such. `known` is the broker's asset list for
    data fetched from Alpaca; a file brings its own symbols.
    """
    reasons = [pl.when(bad).then(reason) for bad, reason in _rules(timeframe, now, known)]
    marked = bars.with_columns(pl.coalesce(reasons).alias("reason"))
    valid = marked.filter(pl.col("reason").is_null()).drop("reason")
    rejected = marked.filter(pl.col("reason").is_not_null())
    return Checked(valid=valid, rejected=rejected)
