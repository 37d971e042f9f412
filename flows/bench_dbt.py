"""`trading bench dbt`: the indicator and signal models, full refresh and hourly, against polars."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import text

from config.database import Connection, make_engine
from flows.bench import synthetic_bars
from flows.dbt import run_dbt
from flows.indicators_polars import indicators
from flows.pipeline import TEST_SINCE_ENV
from ingestion.db import copy_frame
from ingestion.migrate import scratch_database
from strategies.params import record_params
from strategies.spec import dbt_vars, load_specs

BENCH_DATABASE = "trading_bench_dbt"
SELECT = ["+indicators", "+signals", "--exclude-resource-type", "unit_test"]
INDICATOR_MODELS = ("int_bars_indicators_computed", "indicators")
LANDED_EARLIER = timedelta(hours=2)


@dataclass(frozen=True)
class DbtTiming:
    """One dbt invocation: wall seconds, and the seconds its models took (tests excluded)."""

    wall: float
    models: float
    indicators: float


@dataclass(frozen=True)
class DbtBenchResult:
    """The full build against polars, and the hourly update at two history lengths."""

    bars: int
    polars: float
    full_refresh: DbtTiming
    hourly: DbtTiming
    long_bars: int
    long_hourly: DbtTiming


def _vars() -> str:
    return json.dumps(dbt_vars(load_specs()))


def _build(connection: Connection, *flags: str, test_since: datetime | None = None) -> DbtTiming:
    """`dbt build` of the indicator and signal models and their staging (data tests included).

    With `test_since`, the big tables' data tests check only the rows written since then, as the
    hourly flow's builds do (env var TRADING_TEST_SINCE); without it, every row.
    """
    if test_since is None:
        os.environ.pop(TEST_SINCE_ENV, None)
    else:
        os.environ[TEST_SINCE_ENV] = test_since.isoformat()
    began = time.perf_counter()
    result = run_dbt(
        ["build", "--quiet", "--select", *SELECT, "--vars", _vars(), *flags], connection
    )
    wall = time.perf_counter() - began
    if not result.success:
        failed = [
            f"{r.node.unique_id}: {r.message}"
            for r in (result.result.results if result.result else [])  # type: ignore[union-attr]
            if str(r.status) in ("error", "fail")
        ]
        raise RuntimeError(f"dbt build failed: {result.exception or '; '.join(failed)}")
    models = [r for r in result.result.results if r.node.resource_type == "model"]  # type: ignore[union-attr]
    indicators = [r for r in models if r.node.name in INDICATOR_MODELS]
    return DbtTiming(
        wall=wall,
        models=float(sum(r.execution_time for r in models)),
        indicators=float(sum(r.execution_time for r in indicators)),
    )


def _land(connection: Connection, bars: pl.DataFrame, ago: timedelta = timedelta(0)) -> None:
    """Put bars straight into raw.bars as if landed `ago` (setup, not measured)."""
    engine = make_engine(connection)
    landed_at = datetime.now(UTC) - ago
    with engine.begin() as conn:
        copy_frame(
            conn,
            "raw.bars",
            bars.with_columns(
                pl.lit("bench").alias("source"), pl.lit(landed_at).alias("ingested_at")
            ),
        )
        conn.execute(text("analyze raw.bars"))
    engine.dispose()


def _trade_every_symbol(connection: Connection, bars: pl.DataFrame) -> None:
    """Every shipped strategy trades every bench symbol (setup, not measured)."""
    universe = sorted(bars["symbol"].unique())
    engine = make_engine(connection)
    specs = [spec.model_copy(update={"universe": universe}) for spec in load_specs()]
    record_params(engine, specs, datetime.now(UTC))
    engine.dispose()


def _next_hour(bars: pl.DataFrame) -> pl.DataFrame:
    """One new bar per symbol, an hour after each symbol's last."""
    last = bars.sort("ts").group_by("symbol").last()
    return last.with_columns(pl.col("ts") + timedelta(hours=1))


def _hourly(connection: Connection, symbols: int, hours: int) -> tuple[int, DbtTiming]:
    """Build `hours` of history, then time the build after one new bar per symbol."""
    bars = synthetic_bars(symbols, hours)
    _land(connection, bars, LANDED_EARLIER)
    _trade_every_symbol(connection, bars)
    _build(connection, "--full-refresh")
    since = datetime.now(UTC)
    _land(connection, _next_hour(bars))
    return bars.height, _build(connection, test_since=since)


def bench_dbt(server: Connection, symbols: int, hours: int) -> DbtBenchResult:
    """Run the three measurements, each in its own scratch database (dropped afterwards)."""
    bars = synthetic_bars(symbols, hours)
    began = time.perf_counter()
    indicators(bars)
    in_memory = time.perf_counter() - began
    with scratch_database(server, BENCH_DATABASE) as database:
        # The history landed before the hour being measured, as after a backfill.
        _land(database, bars, LANDED_EARLIER)
        _trade_every_symbol(database, bars)
        full = _build(database, "--full-refresh")
        # The hourly flow's tests check the rows written in its window (GATE_TEST_WINDOW); once
        # the history is older than that, those are the rows of the last cycles: here, the hour's.
        since = datetime.now(UTC)
        _land(database, _next_hour(bars))
        hourly = _build(database, test_since=since)
    with scratch_database(server, BENCH_DATABASE) as database:
        long_bars, long_hourly = _hourly(database, symbols, hours * 4)
    return DbtBenchResult(
        bars=bars.height,
        polars=in_memory,
        full_refresh=full,
        hourly=hourly,
        long_bars=long_bars,
        long_hourly=long_hourly,
    )
