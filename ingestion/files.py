"""Import a user's own bar history (CSV or Parquet) through the same validation as Alpaca's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from ingestion.bars import land_fetched
from ingestion.db import RunRecord
from ingestion.timeframes import Timeframe
from ingestion.validate import BARS_SCHEMA, MARKET_TZ

PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"


class BarsFileError(ValueError):
    """The file cannot be read as bars; the message names the file, line, column and value."""


def _read_as_text(path: Path) -> pl.DataFrame:
    """Every column as text with lower-case names, whatever the format."""
    if not path.exists():
        raise BarsFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
        elif suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
            frame = frame.with_columns(pl.all().cast(pl.String))
        else:
            raise BarsFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")
    except (pl.exceptions.PolarsError, OSError) as error:
        raise BarsFileError(f"{path}: cannot be read: {error}") from error
    lowered = [name.strip().lower() for name in frame.columns]
    if len(set(lowered)) != len(lowered):
        raise BarsFileError(f"{path}: column names repeat when case is ignored: {frame.columns}")
    return frame.rename(dict(zip(frame.columns, lowered, strict=True)))


def _where(path: Path, row: int) -> str:
    """'file, line N' for CSV (header is line 1), 'file, row N' for Parquet."""
    if path.suffix.lower() == ".csv":
        return f"{path}, line {row + 2}"
    return f"{path}, row {row + 1}"


def _first_failure(path: Path, frame: pl.DataFrame, parsed: pl.Series, column: str) -> None:
    """Raise for the first value that was present but did not parse."""
    failed = frame[column].is_not_null() & (frame[column].str.strip_chars() != "")
    failed = failed & parsed.is_null()
    bad = failed.arg_true()
    if len(bad):
        row = int(bad[0])
        raise BarsFileError(
            f"{_where(path, row)}, column {column!r}: cannot parse {frame[column][row]!r}"
        )
    missing = frame[column].is_null() | (frame[column].str.strip_chars() == "")
    if column not in PRICE_COLUMNS and missing.any():
        row = int(missing.arg_true()[0])
        raise BarsFileError(f"{_where(path, row)}, column {column!r}: value is missing")


def _timestamps(path: Path, frame: pl.DataFrame) -> pl.Series:
    """Bar start in UTC from `timestamp` (naive = New York time) or `date` (midnight New York)."""
    if "timestamp" in frame.columns:
        column = "timestamp"
        raw = frame[column].str.strip_chars()
        aware = raw.str.contains(_OFFSET)
        aware_text = pl.when(aware).then(raw)
        naive_text = pl.when(~aware).then(raw)
        parsed = pl.select(
            pl.coalesce(
                aware_text.str.to_datetime(time_unit="us", time_zone="UTC", strict=False),
                naive_text.str.to_datetime(time_unit="us", strict=False)
                .dt.replace_time_zone(MARKET_TZ, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC"),
            )
        ).to_series()
    else:
        column = "date"
        dates = frame[column].str.strip_chars().str.to_date(strict=False)
        parsed = pl.select(
            dates.cast(pl.Datetime("us"))
            .dt.replace_time_zone(MARKET_TZ)
            .dt.convert_time_zone("UTC")
        ).to_series()
    _first_failure(path, frame, parsed, column)
    return parsed


def read_bars_file(path: Path, timeframe: Timeframe, symbol: str | None = None) -> pl.DataFrame:
    """Parse a bars file into BARS_SCHEMA, or raise BarsFileError naming what is wrong."""
    frame = _read_as_text(path)
    if frame.is_empty():
        raise BarsFileError(f"{path}: no rows")
    required = [*PRICE_COLUMNS]
    missing = [c for c in required if c not in frame.columns]
    if "date" not in frame.columns and "timestamp" not in frame.columns:
        missing.insert(0, "date or timestamp")
    if missing:
        raise BarsFileError(f"{path}: missing column(s) {', '.join(missing)}")
    if "symbol" in frame.columns:
        if symbol is not None:
            raise BarsFileError(f"{path}: has a symbol column; do not also pass --symbol {symbol}")
        symbols = frame["symbol"].str.strip_chars().str.to_uppercase()
        _first_failure(path, frame, symbols.replace("", None), "symbol")
    elif symbol:
        symbols = pl.Series("symbol", [symbol.strip().upper()] * frame.height)
    else:
        raise BarsFileError(f"{path}: no symbol column; pass --symbol")
    columns = {"symbol": symbols, "ts": _timestamps(path, frame)}
    for name in PRICE_COLUMNS:
        text = frame[name].str.strip_chars()
        number = text.cast(pl.Float64, strict=False)
        _first_failure(path, frame, number, name)
        columns[name] = number
    return pl.DataFrame(
        {
            **columns,
            "timeframe": [timeframe.name] * frame.height,
            "trade_count": pl.Series([None] * frame.height, dtype=pl.Int64),
            "vwap": pl.Series([None] * frame.height, dtype=pl.Float64),
        }
    ).select([pl.col(c).cast(t) for c, t in BARS_SCHEMA.items()])


def import_bars(
    engine: Engine, path: Path, timeframe: Timeframe, symbol: str | None = None
) -> RunRecord:
    """Validate a whole file, then land it in one transaction (bad rows go to quarantine)."""
    bars = read_bars_file(path, timeframe, symbol)
    run = RunRecord(
        kind="bars",
        source=f"file:{path.name}",
        params={"file": str(path), "timeframe": timeframe.name, "symbol": symbol},
    )
    return land_fetched(engine, bars, timeframe, run, datetime.now(UTC))
