"""`trading bench backtest`: backtests at scale, against vectorbt and backtrader on the same bars.

Synthetic bars (a seeded geometric random walk per symbol with overnight gaps, missing hours and
a halted day) are COPY'd into raw.bars of a scratch database and dbt builds the indicators
(setup, not measured). Then, in order:

(a) one signal-mode backtest of rsi_mean_reversion over every symbol, as `trading backtest` runs
    it after a cycle (`run_backtest(..., upstream_built=True)`);
(b) a grid of its parameters, as `trading sweep` runs it (`flows.sweep.run_sweep`): the whole
    grid in one build unless --chunk-size splits it;
(c) the same grid in vectorbt and (d) backtrader on a subset (flows/bench_backtest_yardsticks.py);
(e) a portfolio-mode backtest of each of the three shipped strategies (one account per run, the
    live risk rules replayed bar by bar: marts.backtest_portfolio_decisions).

A step that fails says why instead of a number.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine, text

from config.database import Connection, make_engine
from config.settings import Settings
from flows.backtest import (
    BacktestInputError,
    BacktestRequest,
    check_request,
    run_backtest,
)
from flows.bench_dbt import _land as land_bars
from flows.dbt import run_dbt
from ingestion.migrate import scratch_database
from ingestion.validate import BARS_SCHEMA
from strategies.spec import StrategySpec, dbt_vars, load_specs

BENCH_DATABASE = "trading_bench_backtest"
STRATEGY = "rsi_mean_reversion"
# The grid: oversold from 20 and exit_above from 47, both in steps of 2. The default 10 × 10
# holds the shipped point (30, 55), and every point has exit_above above oversold.
OVERSOLD_FROM, EXIT_ABOVE_FROM, GRID_STEP = 20.0, 47.0, 2.0
# Synthetic sessions: 7 hourly bars a weekday (bar starts 14:00-20:00 UTC, as the hourly backtest
# tests use), from a fixed first day so the bars are the same on every run.
FIRST_SESSION = date(2024, 1, 2)
SESSION_HOURS_UTC = tuple(range(14, 21))
MISSING_HOURS = 0.02
HOURLY_VOLATILITY = 0.006
OVERNIGHT_VOLATILITY = 0.012
SAMPLE_SECONDS = 0.25
PRIVATE = ("Private_Clean", "Private_Dirty")
# Setup: everything the backtest models read (the indicators, the seeds), without their own
# models and without data tests.
UPSTREAM_BUILD = [
    "build",
    "--select",
    "+tag:backtest",
    "--exclude",
    "tag:backtest",
    "--exclude-resource-type",
    "test",
    "unit_test",
    "--quiet",
]


class BenchInputError(ValueError):
    """An option of `trading bench backtest` is refused; the message names it and its value."""


@dataclass(frozen=True)
class BenchOptions:
    """How big the bench is."""

    symbols: int = 500
    bars: int = 3500
    grid_size: int = 100
    backtrader_symbols: int = 10
    database: str = BENCH_DATABASE
    chunk_size: int | None = None
    """Trials per build of the sweep; None: the whole grid in one build."""
    workers: int = 1
    seed: int = 12


@dataclass(frozen=True)
class Step:
    """One row of the bench: a measurement, or why there is none."""

    key: str
    name: str
    status: str = "measured"
    seconds: float | None = None
    evaluations: int | None = None
    peak_mb: float | None = None
    note: str = ""

    @property
    def measured(self) -> bool:
        """Whether the step ran and has figures."""
        return self.status == "measured"

    def describe(self) -> str:
        """The step's figures on one line (printed as each step ends)."""
        if self.seconds is None:
            return f"{self.name}: {'; '.join(filter(None, (self.status, self.note)))}"
        figures = [f"{self.seconds:.1f} s"]
        if self.rate is not None:
            figures.append(f"{self.evaluations:,} bar-evaluations, {self.rate:,.0f}/s")
        if self.peak_mb is not None:
            figures.append(f"peak {self.peak_mb:,.0f} MB")
        return f"{self.name}: {', '.join(figures)}"

    @property
    def rate(self) -> float | None:
        """Bar-evaluations per second."""
        if self.seconds is None or self.evaluations is None or self.seconds <= 0:
            return None
        return self.evaluations / self.seconds


@dataclass
class BenchResult:
    """Every step of one bench run, in order."""

    symbols: int
    bars: int
    grid: list[tuple[float, float]]
    steps: list[Step] = field(default_factory=list)

    def step(self, key: str) -> Step:
        """The step with this key."""
        return next(s for s in self.steps if s.key == key)


def grid_points(size: int) -> list[tuple[float, float]]:
    """`size` (oversold, exit_above) points: as square a grid as divides `size`, steps of 2."""
    if size < 1:
        raise BenchInputError(f"--grid-size {size} must be at least 1")
    rows = max(d for d in range(1, math.isqrt(size) + 1) if size % d == 0)
    columns = size // rows
    oversold = [OVERSOLD_FROM + GRID_STEP * i for i in range(rows)]
    exit_above = [EXIT_ABOVE_FROM + GRID_STEP * j for j in range(columns)]
    if exit_above[-1] >= 100 or oversold[-1] >= exit_above[0]:
        raise BenchInputError(
            f"--grid-size {size} makes a {rows} x {columns} grid, exit_above up to "
            f"{exit_above[-1]:g} and oversold up to {oversold[-1]:g}: it needs exit_above "
            "below 100 and above every oversold (try a size with a squarer factorisation)"
        )
    return [(o, e) for o in oversold for e in exit_above]


def check_options(options: BenchOptions) -> list[tuple[float, float]]:
    """The grid of valid options; a refused option raises BenchInputError naming it."""
    if options.symbols < 1:
        raise BenchInputError(f"--symbols {options.symbols} must be at least 1")
    if options.bars < 100:
        raise BenchInputError(
            f"--bars {options.bars} must be at least 100 (the indicators warm up over 50)"
        )
    if options.chunk_size is not None and options.chunk_size < 1:
        raise BenchInputError(f"--chunk-size {options.chunk_size} must be at least 1")
    if options.workers < 1:
        raise BenchInputError(f"--workers {options.workers} must be at least 1")
    if options.backtrader_symbols < 1:
        raise BenchInputError(
            f"--backtrader-symbols {options.backtrader_symbols} must be at least 1"
        )
    return grid_points(options.grid_size)


def session_hours(bars: int) -> list[datetime]:
    """The first `bars` session hours from FIRST_SESSION: 7 a weekday."""
    hours: list[datetime] = []
    day = FIRST_SESSION
    while len(hours) < bars:
        if day.weekday() < 5:
            hours += [
                datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                for hour in SESSION_HOURS_UTC
            ]
        day += timedelta(days=1)
    return hours[:bars]


def synthetic_bars(symbols: int, bars: int, seed: int = 12) -> pl.DataFrame:
    """Seeded hourly bars of symbols B0000…: a geometric random walk per symbol over `bars`
    session hours, the first bar of a day opening with an overnight gap; about 2% of hours have
    no bar, and each symbol misses one whole day (a halt)."""
    rng = np.random.default_rng(seed)
    stamps = session_hours(bars)
    opens_day = np.array([ts.hour == SESSION_HOURS_UTC[0] for ts in stamps])
    gaps = rng.normal(0, OVERNIGHT_VOLATILITY, (symbols, bars)) * opens_day
    moves = rng.normal(0, HOURLY_VOLATILITY, (symbols, bars))
    first = np.log(rng.uniform(20, 200, (symbols, 1)))
    log_close = first + np.cumsum(gaps + moves, axis=1)
    close = np.exp(log_close)
    open_ = np.exp(log_close - moves)
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, (symbols, bars)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, (symbols, bars)))
    kept = rng.random((symbols, bars)) >= MISSING_HOURS
    day_of_bar = np.cumsum(opens_day) - 1
    halted = rng.integers(1, max(2, day_of_bar[-1]), symbols)
    kept &= day_of_bar[None, :] != halted[:, None]
    names = np.array([f"B{i:04d}" for i in range(symbols)])
    frame = pl.DataFrame(
        {
            "symbol": np.repeat(names, bars),
            "timeframe": "1Hour",
            "ts": pl.Series(stamps * symbols, dtype=pl.Datetime("us", "UTC")),
            "open": open_.ravel().round(2),
            "high": high.ravel().round(2),
            "low": low.ravel().round(2),
            "close": close.ravel().round(2),
            "volume": rng.integers(100, 100_000, symbols * bars).astype(float),
            "trade_count": rng.integers(1, 1000, symbols * bars),
            "vwap": ((high + low) / 2).ravel().round(4),
        },
        schema=BARS_SCHEMA,
    )
    return frame.filter(pl.Series(kept.ravel()))


# --- peak memory --------------------------------------------------------------------------


def _kilobytes(path: Path, fields: tuple[str, ...]) -> int | None:
    """The sum of `fields` (kB lines of a /proc file), or None if it cannot be read."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return sum(int(line.split()[1]) for line in lines if line.split(":")[0] in fields)


class MemorySampler:
    """Samples, every SAMPLE_SECONDS, this process' resident memory plus the private memory
    (Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) of every Postgres backend and
    parallel worker connected to the bench database; keeps the largest sum. Shared buffers are
    not a backend's own and are not counted. The backends of a server that is not a process on
    this machine cannot be read: then `backends_seen` is False and only this process counts."""

    def __init__(self, server: Connection, database: str) -> None:
        self._engine = make_engine(server.with_dbname("postgres"))
        self._database = database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_kb = 0
        self.backends_seen = False

    def _server_is_local(self) -> bool:
        """Whether this monitor's own backend is a postgres process here whose memory reads."""
        with self._engine.connect() as conn:
            pid: int = conn.execute(text("select pg_backend_pid()")).scalar_one()
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return False
            readable = _kilobytes(Path(f"/proc/{pid}/smaps_rollup"), PRIVATE) is not None
        return command.startswith(b"postgres") and readable

    def _sample(self) -> int:
        own = _kilobytes(Path("/proc/self/status"), ("VmRSS",)) or 0
        if not self.backends_seen:
            return own
        with self._engine.connect() as conn:
            pids: Sequence[int] = (
                conn.execute(
                    text("select pid from pg_stat_activity where datname = :db"),
                    {"db": self._database},
                )
                .scalars()
                .all()
            )
            # A backend that ended since the query counts as nothing.
            private = [_kilobytes(Path(f"/proc/{pid}/smaps_rollup"), PRIVATE) or 0 for pid in pids]
        return own + sum(private)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self._sample())
            self._stop.wait(SAMPLE_SECONDS)

    @property
    def peak_mb(self) -> float:
        """The largest sample so far, in MB."""
        return self.peak_kb / 1024

    def __enter__(self) -> MemorySampler:
        self.backends_seen = self._server_is_local()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._engine.dispose()


# --- the bench ------------------------------------------------------------------------------


@dataclass
class Bench:
    """The scratch database with the bars landed and the indicators built; what steps share."""

    settings: Settings
    server: Connection
    connection: Connection
    engine: Engine
    specs: list[StrategySpec]
    frame: pl.DataFrame
    grid: list[tuple[float, float]]

    @property
    def symbols(self) -> list[str]:
        """The synthetic symbols: every backtest runs over all of them."""
        return sorted(self.frame["symbol"].unique())

    def spec(self, name: str) -> StrategySpec:
        """The shipped spec of this strategy."""
        return next(spec for spec in self.specs if spec.name == name)

    def measure(self, key: str, name: str, work: Callable[[], tuple[int, str]]) -> Step:
        """Time `work` (which returns its bar-evaluations and a note) and sample memory; a
        failure becomes the step's status."""
        try:
            with MemorySampler(self.server, self.connection.dbname) as memory:
                began = time.perf_counter()
                evaluations, note = work()
                seconds = time.perf_counter() - began
        except Exception as error:  # noqa: BLE001 - the row says why
            message = f"{type(error).__name__}: {error}"
            return Step(key, name, f"failed: {message[:300]}")
        if not memory.backends_seen:
            note = f"{note}; peak memory is this process only (the server is not on this machine)"
        return Step(key, name, "measured", seconds, evaluations, memory.peak_mb, note.strip("; "))


def _backtest(bench: Bench, strategy: str, mode: str = "signal") -> dict[str, Any]:
    """`trading backtest --strategy STRATEGY --symbols <every synthetic symbol>` after a cycle
    (the indicators current): check, record, `dbt build --select tag:backtest`, summary."""
    request = BacktestRequest(strategy=strategy, symbols=tuple(bench.symbols), mode=mode)
    return run_backtest(bench.settings, bench.connection, bench.engine, request, True)


def step_signal(bench: Bench) -> tuple[Step, int | None]:
    """(a): one signal-mode backtest over every symbol; also its round trips."""
    trades: list[int] = []

    def work() -> tuple[int, str]:
        result = _backtest(bench, STRATEGY)
        trades.append(int(result["trades"]))
        return bench.frame.height, f"{result['trades']:,} round trips"

    step = bench.measure("a", f"(a) signal-mode backtest, {STRATEGY}, every symbol", work)
    return step, (trades[0] if trades else None)


def grid_text(grid: list[tuple[float, float]]) -> str:
    """The grid as `trading sweep --grid` takes it: `oversold=20,22,exit_above=47,49`."""
    oversold = ",".join(f"{o:g}" for o in sorted({o for o, _ in grid}))
    exit_above = ",".join(f"{e:g}" for e in sorted({e for _, e in grid}))
    return f"oversold={oversold},exit_above={exit_above}"


def step_sweep(bench: Bench, chunk_size: int | None, workers: int) -> Step:
    """(b): `trading sweep` of the grid over every symbol after a cycle (`run_sweep(...,
    upstream_built=True)`): one build per chunk of trials, all of them with --chunk-size 0."""
    from flows.sweep import SweepRequest, run_sweep

    size = chunk_size or len(bench.grid)
    chunks = -(-len(bench.grid) // size)
    builds = "one build" if chunks == 1 else f"{chunks} builds of {size}"
    name = f"(b) {len(bench.grid)}-point grid of {STRATEGY}, {builds}"
    backtest = BacktestRequest(strategy=STRATEGY, symbols=tuple(bench.symbols))
    request = SweepRequest(backtest, grid_text(bench.grid), chunk_size=size, workers=workers)

    def work() -> tuple[int, str]:
        result = run_sweep(
            bench.settings, bench.connection, bench.engine, request, upstream_built=True
        )
        best = result["best_parameters"] or {}
        note = (
            f"{result['trial_count']} trials kept; best "
            + ", ".join(f"{k} {v:g}" for k, v in sorted(best.items()))
            + f" (deflated Sharpe {result['deflated_sharpe_ratio'] or 0:.2f})"
        )
        if workers > 1 and chunks > 1:
            note += f"; {workers} chunks at a time"
        return bench.frame.height * len(bench.grid), note

    return bench.measure("b", name, work)


def step_portfolio(bench: Bench) -> Step:
    """(e): portfolio mode of the three shipped strategies, one run each, in turn (a run is one
    strategy's account)."""
    names = [spec.name for spec in bench.specs]
    name = f"(e) portfolio-mode backtest, {', '.join(names)}"
    request = BacktestRequest(strategy=names[0], symbols=tuple(bench.symbols), mode="portfolio")
    try:
        check_request(bench.engine, request, bench.specs)
    except BacktestInputError as error:
        return Step("e", name, f"failed: {error}")

    def work() -> tuple[int, str]:
        seconds = []
        for strategy in names:
            began = time.perf_counter()
            _backtest(bench, strategy, mode="portfolio")
            seconds.append(f"{strategy} {time.perf_counter() - began:.1f} s")
        return bench.frame.height * len(names), "one run per strategy: " + ", ".join(seconds)

    return bench.measure("e", name, work)


def _ratio_note(step: Step, ours: list[Step]) -> Step:
    """Add how many times the row's rate each of our measured steps' rate is."""
    if step.rate is None:
        return step
    ratios = [f"{s.key} {s.rate / step.rate:,.3g}x" for s in ours if s.rate is not None]
    if not ratios:
        return step
    return replace(step, note=f"{step.note}; ours: {', '.join(ratios)}".strip("; "))


@contextmanager
def bench_database(
    settings: Settings, server: Connection, options: BenchOptions
) -> Iterator[Bench]:
    """The scratch database with the bars landed and the indicators built (dropped on exit)."""
    grid = check_options(options)
    frame = synthetic_bars(options.symbols, options.bars, options.seed)
    specs = load_specs()
    with scratch_database(server, options.database) as connection:
        engine = make_engine(connection)
        try:
            # As landed a day ago, with the landing path's COPY (setup, not measured).
            land_bars(connection, frame, timedelta(days=1))
            result = run_dbt([*UPSTREAM_BUILD, "--vars", json.dumps(dbt_vars(specs))], connection)
            if not result.success:
                raise RuntimeError(f"building the indicators failed: {result.exception}")
            yield Bench(settings, server, connection, engine, specs, frame, grid)
        finally:
            engine.dispose()


def bench_backtest(
    settings: Settings,
    server: Connection,
    options: BenchOptions,
    progress: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    """Run every step on one scratch database (dropped afterwards); see the module docstring."""
    from flows.bench_backtest_yardsticks import backtrader_subset, vectorbt_grid

    progress("landing the bars and building the indicators")
    began = time.perf_counter()
    with bench_database(settings, server, options) as bench:
        result = BenchResult(len(bench.symbols), bench.frame.height, bench.grid)

        def add(step: Step) -> Step:
            result.steps.append(step)
            progress(step.describe())
            return step

        setup = "setup: bars COPY'd, indicators and seeds built (not measured)"
        add(Step("setup", setup, seconds=time.perf_counter() - began))
        signal, trades = step_signal(bench)
        add(signal)
        # The grid before the yardsticks: vectorbt's arrays stay in this process' resident
        # memory after it ends, and would count in the grid's peak.
        sweep = add(step_sweep(bench, options.chunk_size, options.workers))
        ours = [s for s in (signal, sweep) if s.measured]
        add(_ratio_note(vectorbt_grid(bench, trades), ours))
        add(_ratio_note(backtrader_subset(bench, options.backtrader_symbols), ours))
        add(step_portfolio(bench))
    return result
