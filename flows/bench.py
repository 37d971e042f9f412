"""`trading bench ingest`: the bar landing path against plain COPY and pandas `to_sql`."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Engine, text

from config.database import Connection, make_engine
from ingestion import quality
from ingestion.bars import land_fetched
from ingestion.db import RunRecord, copy_frame
from ingestion.migrate import scratch_database
from ingestion.timeframes import parse_timeframe
from ingestion.validate import BARS_SCHEMA

BENCH_DATABASE = "trading_bench"
HOUR = parse_timeframe("1Hour")


@dataclass(frozen=True)
class BenchResult:
    """Rows per second of each way of landing the same bars."""

    rows: int
    landing: float
    unchanged: float
    plain_copy: float
    to_sql: float
    landing_memory_mb: float
    peak_memory_mb: float


def synthetic_bars(symbols: int, hours: int, seed: int = 7) -> pl.DataFrame:
    """Valid hourly bars: `symbols` × `hours`, on the UTC hour grid, ending a day ago."""
    rng = np.random.default_rng(seed)
    n = symbols * hours
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    start = end - timedelta(hours=hours)
    hours_index = pl.datetime_range(start, end, "1h", closed="left", eager=True, time_zone="UTC")
    # One random walk per symbol (a single walk over every row would drift towards 0).
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (symbols, hours)), axis=1)).ravel()
    open_ = close * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n))
    return pl.DataFrame(
        {
            "symbol": np.repeat([f"S{i:04d}" for i in range(symbols)], hours),
            "timeframe": "1Hour",
            "ts": pl.concat([hours_index] * symbols),
            "open": open_.round(2),
            "high": high.round(2),
            "low": low.round(2),
            "close": close.round(2),
            "volume": rng.integers(100, 100_000, n).astype(float),
            "trade_count": rng.integers(1, 1000, n),
            "vwap": ((high + low) / 2).round(4),
        },
        schema=BARS_SCHEMA,
    )


def _comparison_tables(engine: Engine) -> None:
    """Empty unlogged copies of raw.bars for the plain COPY and the to_sql runs."""
    with engine.begin() as conn:
        for copy in ("bench_copy", "bench_to_sql"):
            conn.execute(
                text(f"create unlogged table raw.{copy} (like raw.bars including defaults)")
            )


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ingest(server: Connection, symbols: int, hours: int) -> BenchResult:
    """Land symbols × hours bars three ways in a scratch database (dropped afterwards).

    Great Expectations is imported before the clock starts (a once-per-process cost of seconds).
    The landing path's peak memory is read before pandas runs `to_sql`.
    """
    quality.warm()
    bars = synthetic_bars(symbols, hours)
    with scratch_database(server, BENCH_DATABASE) as database:
        engine = make_engine(database)
        _comparison_tables(engine)
        now = datetime.now(UTC)
        began = time.perf_counter()
        run = land_fetched(engine, bars, HOUR, RunRecord("bars", "bench", {}), now)
        landing = time.perf_counter() - began
        if run.landed != bars.height:
            raise RuntimeError(f"landed {run.landed} of {bars.height} bars")

        began = time.perf_counter()
        again = land_fetched(engine, bars, HOUR, RunRecord("bars", "bench", {}), now)
        unchanged = time.perf_counter() - began
        if again.unchanged != bars.height:
            raise RuntimeError(f"re-landing changed {again.landed + again.corrected} bars")
        landing_memory = _peak_mb()

        frame = bars.with_columns(pl.lit("bench").alias("source"))
        began = time.perf_counter()
        with engine.begin() as conn:
            copy_frame(conn, "raw.bench_copy", frame)
        plain = time.perf_counter() - began

        pandas_frame = frame.to_pandas()
        began = time.perf_counter()
        pandas_frame.to_sql("bench_to_sql", engine, schema="raw", if_exists="append", index=False)
        to_sql = time.perf_counter() - began
        engine.dispose()
    rows = bars.height
    return BenchResult(
        rows=rows,
        landing=_rate(rows, landing),
        unchanged=_rate(rows, unchanged),
        plain_copy=_rate(rows, plain),
        to_sql=_rate(rows, to_sql),
        landing_memory_mb=landing_memory,
        peak_memory_mb=_peak_mb(),
    )
