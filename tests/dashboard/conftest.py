"""Dashboard fixtures: a database built by dbt from a small raw data set, Streamlit, Chromium."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Connection as SAConnection
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.database import Connection, make_engine
from config.settings import Settings
from dashboard.launch import streamlit_command
from flows.backtest import BacktestRequest, record_run, run_backtest
from flows.cli import app
from flows.dbt import run_dbt
from flows.sweep import SweepRequest, run_sweep
from flows.walkforward import WalkForwardRequest, run_walkforward
from ingestion.migrate import migrate, scratch_database
from simulator.server import running_simulator
from strategies.params import record_params
from strategies.spec import StrategySpec, dbt_vars, load_specs

REPO_ROOT = Path(__file__).resolve().parents[2]
MARKET_TZ = ZoneInfo("America/New_York")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_PRICES = {"AAPL": 228.0, "MSFT": 415.0, "SPY": 590.0}
TIMEFRAME = "1Hour"
# Enough clock-hour bars (about 110 a symbol) for the 50-bar indicators to be warm over half of
# them, so the backtest below has signals to trade.
SESSIONS = 16
BACKTEST_STRATEGY = "sma_crossover"
BACKTEST_CASH = 50_000
SERVE_TIMEOUT = timedelta(seconds=90)
UI_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Fill:
    """One execution as it lands in raw.fills."""

    symbol: str
    side: str
    qty: int
    price: float
    at: datetime


@dataclass(frozen=True)
class Snapshot:
    """One account snapshot after a session, with the broker's positions at that instant."""

    at: datetime
    cash: float
    equity: float
    positions: dict[str, int]
    market_values: dict[str, float]

    @property
    def market_date(self) -> date:
        """The New York trading day the snapshot belongs to."""
        return self.at.astimezone(MARKET_TZ).date()


@dataclass(frozen=True)
class Dataset:
    """What was loaded into raw, and so what the dashboard should show."""

    symbols: tuple[str, ...]
    timeframe: str
    last_bar_at: datetime
    last_close: dict[str, float]
    fills: tuple[Fill, ...]
    snapshots: tuple[Snapshot, ...]
    last_equity: float
    last_cash: float
    held_symbol: str
    closed_symbol: str


@dataclass(frozen=True)
class Backtest:
    """The one finished backtest run in the built database."""

    run_id: str
    strategy: str
    symbols: tuple[str, ...]
    initial_cash: float
    # A later run, recorded but never built (still 'running'): the page must not default to it.
    running_run_id: str


@dataclass(frozen=True)
class BuiltDatabase:
    """A database whose marts dbt built from `dataset`, with one backtest run built."""

    connection: Connection
    dataset: Dataset
    backtest: Backtest


def _hourly_bars(rng: random.Random) -> list[dict[str, Any]]:
    """Clock-hour bars for the last few NYSE sessions: a seeded random walk per symbol."""
    calendar = xcals.get_calendar("XNYS")
    today = pd.Timestamp(datetime.now(UTC).date())
    sessions = calendar.sessions_in_range(today - pd.Timedelta(days=45), today)
    sessions = sessions[sessions < today][-SESSIONS:]
    rows: list[dict[str, Any]] = []
    for symbol, price in START_PRICES.items():
        for session in sessions:
            first = calendar.session_open(session).floor("h")
            close_at = calendar.session_close(session)
            for ts in pd.date_range(first, close_at, freq="h", inclusive="left"):
                open_ = price
                close = round(open_ * (1 + rng.gauss(0, 0.004)), 2)
                high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.002))), 2)
                low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.002))), 2)
                rows.append(
                    {
                        "symbol": symbol,
                        "timeframe": TIMEFRAME,
                        "ts": ts.to_pydatetime(),
                        "open": open_,
                        "high": high,
                        "low": low,
                        "close": close,
                        "volume": rng.randint(200_000, 2_000_000),
                        "trade_count": rng.randint(2_000, 20_000),
                        "vwap": round((high + low + close) / 3, 4),
                        "source": "alpaca",
                    }
                )
                price = close
    return rows


def _fills(bars: list[dict[str, Any]]) -> tuple[Fill, ...]:
    """AAPL bought and held; MSFT bought and later sold: each a minute after its bar closed."""

    def at_bar(symbol: str, bars_before_end: int, side: str, qty: int) -> Fill:
        bar = [row for row in bars if row["symbol"] == symbol][-bars_before_end]
        slippage = 0.02 if side == "buy" else -0.02
        filled_at = bar["ts"] + timedelta(hours=1, minutes=1)
        return Fill(symbol, side, qty, round(bar["close"] + slippage, 2), filled_at)

    return (
        at_bar("AAPL", 30, "buy", 10),
        at_bar("MSFT", 20, "buy", 5),
        at_bar("MSFT", 10, "sell", 5),
    )


def _account_snapshots(bars: list[dict[str, Any]], fills: tuple[Fill, ...]) -> list[Snapshot]:
    """One snapshot after each session: cash from the fills, positions at that session's closes."""
    cash = 100_000.0
    held: dict[str, int] = {}
    snapshots: list[Snapshot] = []
    session_ends = sorted(
        {
            max(row["ts"] for row in bars if row["ts"].date() == day)
            for day in {row["ts"].date() for row in bars}
        }
    )
    pending = sorted(fills, key=lambda fill: fill.at)
    for end in session_ends:
        snapshot_at = end + timedelta(hours=1, minutes=5)
        while pending and pending[0].at <= snapshot_at:
            fill = pending.pop(0)
            sign = 1 if fill.side == "buy" else -1
            held[fill.symbol] = held.get(fill.symbol, 0) + sign * fill.qty
            cash = round(cash - sign * fill.qty * fill.price, 2)
        closes = {row["symbol"]: row["close"] for row in bars if row["ts"] == end}
        positions = {symbol: qty for symbol, qty in held.items() if qty}
        values = {symbol: round(qty * closes[symbol], 2) for symbol, qty in positions.items()}
        snapshots.append(
            Snapshot(
                at=snapshot_at,
                cash=cash,
                equity=round(cash + sum(values.values()), 2),
                positions=positions,
                market_values=values,
            )
        )
    return snapshots


def load_raw(engine: Engine) -> Dataset:
    """Insert hourly bars, the orders and fills of three trades, account and position snapshots."""
    rng = random.Random(20240611)  # noqa: S311 - test data, not cryptography
    bars = _hourly_bars(rng)
    last_bar_at: datetime = max(row["ts"] for row in bars)
    last_close = {row["symbol"]: row["close"] for row in bars}  # rows ascend per symbol
    fills = _fills(bars)
    snapshots = _account_snapshots(bars, fills)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.bars (symbol, timeframe, ts, open, high, low, close, volume, "
                "trade_count, vwap, source) values (:symbol, :timeframe, :ts, :open, :high, "
                ":low, :close, :volume, :trade_count, :vwap, :source)"
            ),
            bars,
        )
        for fill in fills:
            _insert_trade(conn, fill)
        conn.execute(
            text(
                "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, equity, "
                "buying_power, long_market_value, last_equity, payload) values (:at, "
                "'PA3TEST0001', 'ACTIVE', :cash, :equity, :cash, :long_market_value, :equity, "
                "'{}'::jsonb)"
            ),
            [
                {
                    "at": snapshot.at,
                    "cash": snapshot.cash,
                    "equity": snapshot.equity,
                    "long_market_value": round(sum(snapshot.market_values.values()), 2),
                }
                for snapshot in snapshots
            ],
        )
        conn.execute(
            text(
                "insert into raw.position_snapshots (snapshot_at, symbol, qty, avg_entry_price, "
                "market_value, payload) values (:at, :symbol, :qty, :avg_entry_price, "
                ":market_value, '{}'::jsonb)"
            ),
            [
                {
                    "at": snapshot.at,
                    "symbol": symbol,
                    "qty": qty,
                    "avg_entry_price": _average_cost(fills, symbol, snapshot.at),
                    "market_value": snapshot.market_values[symbol],
                }
                for snapshot in snapshots
                for symbol, qty in snapshot.positions.items()
            ],
        )
    return Dataset(
        symbols=tuple(START_PRICES),
        timeframe=TIMEFRAME,
        last_bar_at=last_bar_at,
        last_close=last_close,
        fills=fills,
        snapshots=tuple(snapshots),
        last_equity=snapshots[-1].equity,
        last_cash=snapshots[-1].cash,
        held_symbol="AAPL",
        closed_symbol="MSFT",
    )


def _average_cost(fills: tuple[Fill, ...], symbol: str, at: datetime) -> float:
    """The broker's average entry price: the buys of `symbol` filled by `at` (no partial exits)."""
    buys = [f for f in fills if f.symbol == symbol and f.side == "buy" and f.at <= at]
    return round(sum(f.qty * f.price for f in buys) / sum(f.qty for f in buys), 4)


def _insert_trade(conn: SAConnection, fill: Fill) -> None:
    """The submission, the broker's filled order and its fill activity, for one trade."""
    decision_ts = fill.at - timedelta(hours=1, minutes=1)
    client_order_id = f"sma_crossover-{fill.symbol}-{decision_ts:%Y%m%d%H%M}"
    order_id = str(uuid.uuid4())
    activity_id = f"{fill.at:%Y%m%d%H%M%S%f}::{uuid.uuid4()}"
    submitted_at = fill.at - timedelta(seconds=40)
    values = {
        "client_order_id": client_order_id,
        "order_id": order_id,
        "activity_id": activity_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "qty": fill.qty,
        "price": fill.price,
        "decision_ts": decision_ts,
        "submitted_at": submitted_at,
        "filled_at": fill.at,
        "payload": json.dumps({"id": order_id, "client_order_id": client_order_id}),
    }
    conn.execute(
        text(
            "insert into raw.order_submissions (client_order_id, strategy, symbol, side, qty, "
            "order_type, time_in_force, decision_ts, trading_mode, status, broker_order_id, "
            "created_at, updated_at) values (:client_order_id, 'sma_crossover', :symbol, :side, "
            ":qty, 'market', 'day', :decision_ts, 'paper', 'submitted', :order_id, "
            ":submitted_at, :submitted_at)"
        ),
        values,
    )
    conn.execute(
        text(
            "insert into raw.orders (id, client_order_id, symbol, side, order_type, "
            "time_in_force, qty, filled_qty, filled_avg_price, status, created_at, submitted_at, "
            "updated_at, filled_at, payload) values (:order_id, :client_order_id, :symbol, "
            ":side, 'market', 'day', :qty, :qty, :price, 'filled', :submitted_at, :submitted_at, "
            ":filled_at, :filled_at, cast(:payload as jsonb))"
        ),
        values,
    )
    conn.execute(
        text(
            "insert into raw.fills (id, order_id, symbol, side, qty, price, transaction_time, "
            "fill_type, cum_qty, leaves_qty, order_status, payload) values (:activity_id, "
            ":order_id, :symbol, :side, :qty, :price, :filled_at, 'fill', :qty, 0, 'filled', "
            "cast(:payload as jsonb))"
        ),
        values,
    )


def build_backtest(
    engine: Engine, connection: Connection, specs: list[StrategySpec], strategy: str
) -> Backtest:
    """Record a run of `strategy` over every bar and build it, as `trading backtest` does."""
    spec = next(s for s in specs if s.name == strategy)
    request = BacktestRequest(strategy=strategy, cash=Decimal(BACKTEST_CASH))
    run_id = record_run(engine, request, spec, list(spec.universe), Settings(database_url=None))
    variables = {**dbt_vars(specs), "backtest_run_id": str(run_id)}
    # Only the backtest models: the fixture's full build already made what they read.
    result = run_dbt(
        ["build", "--select", "tag:backtest", "--vars", json.dumps(variables), "--quiet"],
        connection,
    )
    outcomes = getattr(result.result, "results", [])
    failed = [f"{r.node.name}: {r.message}" for r in outcomes if str(r.status) in ("error", "fail")]
    assert result.success, f"backtest build failed: {failed or result.exception}"
    with engine.begin() as conn:
        trades = conn.execute(
            text("select count(*) from marts.backtest_trades where run_id = :run_id"),
            {"run_id": run_id},
        ).scalar_one()
        assert trades, f"the {strategy} backtest of the data set made no trade"
        conn.execute(
            text(
                "update raw.backtest_runs set status = 'finished', finished_at = clock_timestamp()"
                " where run_id = :run_id"
            ),
            {"run_id": run_id},
        )
    running = record_run(engine, request, spec, list(spec.universe), Settings(database_url=None))
    return Backtest(str(run_id), strategy, tuple(spec.universe), float(BACKTEST_CASH), str(running))


RESEARCH_NOW = datetime(2024, 3, 8, 15, 5, tzinfo=UTC)  # a Friday, the market open
RESEARCH_SYMBOLS = ("AAPL", "MSFT")
RESEARCH_START = "2024-01-02"  # about 46 sessions of hourly bars before RESEARCH_NOW
RESEARCH_STRATEGY = "rsi_mean_reversion"
# Thresholds that the simulator's series cross often enough to trade in every test window.
SWEEP_GRID = "oversold=30:45:5,exit_above=55,60,65"  # 4 × 3 points, all valid
SWEEP_OBJECTIVE = "total_return"  # defined for every trial, even one that never trades
WALKFORWARD_GRID = "oversold=40,45,exit_above=55,65"
WALKFORWARD_TRAIN, WALKFORWARD_TEST = "20d", "10d"  # two folds in the sessions landed
PORTFOLIO_STRATEGY = "bollinger_breakout"  # brackets: legs, re-entry refusals


@dataclass(frozen=True)
class Research:
    """A sweep, a walk-forward and a portfolio-mode backtest, recorded and built by the research
    commands' functions."""

    connection: Connection
    sweep_id: str
    walkforward_id: str
    portfolio_id: str


def build_research(connection: Connection, home: Path) -> Research:
    """Land the simulator's hourly bars with `trading backfill`, then walk a grid forward and
    sweep one as `trading walkforward` and `trading sweep` do."""
    with running_simulator(start=RESEARCH_NOW, speed=0.0) as sim:
        env = {
            "DATABASE_URL": connection.url,
            "ALPACA_API_KEY": "PKTEST",
            "ALPACA_SECRET_KEY": "SECRET",
            "ALPACA_TRADING_URL": sim.url,
            "ALPACA_DATA_URL": sim.url,
            "TRADING_HOME": str(home),
            "REDIS_URL": "",
            "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
        }
        landed = CliRunner().invoke(
            app,
            ["backfill", "--symbols", ",".join(RESEARCH_SYMBOLS), "--start", RESEARCH_START],
            env=env,
        )
    assert landed.exit_code == 0, landed.output
    settings = Settings(database_url=None)
    engine = make_engine(connection)
    try:
        request = BacktestRequest(strategy=RESEARCH_STRATEGY, symbols=RESEARCH_SYMBOLS)
        walkforward = run_walkforward(
            settings,
            connection,
            engine,
            WalkForwardRequest(request, WALKFORWARD_GRID, WALKFORWARD_TRAIN, WALKFORWARD_TEST),
        )
        # The walk-forward's first build brought the indicators and signals up to date.
        sweep = run_sweep(
            settings,
            connection,
            engine,
            SweepRequest(request, SWEEP_GRID, SWEEP_OBJECTIVE),
            upstream_built=True,
        )
        portfolio = run_backtest(
            settings,
            connection,
            engine,
            BacktestRequest(
                strategy=PORTFOLIO_STRATEGY, symbols=RESEARCH_SYMBOLS, mode="portfolio"
            ),
            upstream_built=True,
        )
        grant_reader(engine)
    finally:
        engine.dispose()
    return Research(
        connection, str(sweep["sweep_id"]), str(walkforward["run_id"]), str(portfolio["run_id"])
    )


def grant_reader(engine: Engine) -> None:
    """Let the dashboard's role read marts, as the dbt grants do."""
    with engine.begin() as conn:
        conn.execute(text("grant usage on schema marts to trading_reader"))
        conn.execute(text("grant select on all tables in schema marts to trading_reader"))


@pytest.fixture(scope="session")
def built_database(postgres_server: Connection) -> Iterator[BuiltDatabase]:
    """A database shared by the dashboard tests: raw data loaded, dbt built, marts granted."""
    name = f"test_dash_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres_server.with_dbname("postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    connection = postgres_server.with_dbname(name)
    engine = make_engine(connection)
    try:
        migrate(engine)
        dataset = load_raw(engine)
        # Every shipped strategy, trading the data set's symbols.
        specs = [s.model_copy(update={"universe": list(dataset.symbols)}) for s in load_specs()]
        record_params(engine, specs, datetime.now(UTC))
        result = run_dbt(["build"], connection)
        assert result.success, f"dbt build failed: {result.exception or result.result}"
        backtest = build_backtest(engine, connection, specs, BACKTEST_STRATEGY)
        grant_reader(engine)
        engine.dispose()
        yield BuiltDatabase(connection, dataset, backtest)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def research(
    postgres_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Research]:
    """A database of its own with the simulator's bars, a sweep and a walk-forward built."""
    with scratch_database(postgres_server, f"test_dash_research_{uuid.uuid4().hex[:12]}") as db:
        yield build_research(db, tmp_path_factory.mktemp("research_home"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Poll Streamlit's health endpoint until it answers, or fail with the server's output."""
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = datetime.now(UTC) + SERVE_TIMEOUT
    while datetime.now(UTC) < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            process.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()
    pytest.fail(f"streamlit did not serve on 127.0.0.1:{port}:\n{log.read_text()}")


@contextmanager
def streamlit_server(
    connection: Connection, workdir: Path, env_file: bool = False
) -> Iterator[str]:
    """Run `streamlit run` (the argv `trading dashboard` uses) on a free port; yields its URL.

    With `env_file`, DATABASE_URL is only in a `.env` in the server's working directory.
    """
    port = _free_port()
    url = connection.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
    env = {**os.environ, "DATABASE_URL": url, "TRADING_HOME": str(workdir / "home")}
    cwd = REPO_ROOT
    if env_file:
        del env["DATABASE_URL"]
        env.pop("TRADING_ENV_FILE", None)
        (workdir / ".env").write_text(f"DATABASE_URL={url}\n")
        cwd = workdir
    log = workdir / "streamlit.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            streamlit_command(port), cwd=cwd, env=env, stdout=output, stderr=output
        )
    try:
        _wait_until_serving(process, port, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def built_app(
    built_database: BuiltDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The dashboard served over the built database; its URL."""
    with streamlit_server(built_database.connection, tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="session")
def research_app(research: Research, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served over the research database; its URL."""
    with streamlit_server(research.connection, tmp_path_factory.mktemp("research_app")) as url:
        yield url


@pytest.fixture
def empty_app(fresh_database: Connection, tmp_path: Path) -> Iterator[str]:
    """The dashboard served over a migrated database dbt has never built; its URL."""
    with streamlit_server(fresh_database, tmp_path) as url:
        yield url


@pytest.fixture
def unreachable_app(postgres_server: Connection, tmp_path: Path) -> Iterator[str]:
    """The dashboard pointed at a database that does not exist; its URL."""
    missing = postgres_server.with_dbname(f"missing_{uuid.uuid4().hex[:12]}")
    with streamlit_server(missing, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless system Chromium; Playwright never downloads a browser. One per module: a sync
    Playwright session keeps an event loop running on this thread, which must not leak into
    the tests a pytest-xdist worker runs next (Prefect then hands back coroutines)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    # The first run of a fresh Streamlit server imports pandas and Plotly: allow for it.
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in a new browser context, tall enough to show the whole overview."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()
