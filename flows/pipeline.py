"""The hourly cycle as a Prefect flow: load → dbt build (a failure stops here) → execute → sync."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from dbt_common.events.base_types import EventLevel
from loguru import logger
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings
from sqlalchemy import Engine

from config.alpaca import data_client, trading_client, trading_target
from config.database import Connection, make_engine, resolve_connection
from config.settings import Settings, load_settings
from execution.execute import execute_approved
from execution.kill_switch import describe_state
from flows.dbt import DBT_PROJECT_DIR, export_dbt_env
from flows.ingest import landing_options
from ingestion.account import snapshot_account
from ingestion.bars import load_new_bars
from ingestion.fills import sync_fills
from ingestion.migrate import migrate
from ingestion.orders import sync_orders
from ingestion.reference import sync_reference
from ingestion.timeframes import parse_timeframe
from strategies.params import record_params
from strategies.spec import StrategySpec, dbt_vars, load_specs

TRADING_GATE = "+exposure:alpaca_executor"
DASHBOARD = "+exposure:streamlit_dashboard"
AS_OF_ENV = "TRADING_AS_OF"
TEST_SINCE_ENV = "TRADING_TEST_SINCE"
# The hourly builds' data tests check the rows written in this window (wall clock, like the rows'
# computed_at and ingested_at), not the whole history: a week, so a row that failed a gate keeps
# failing the next ones across any holiday weekend, when no cycle runs, until it is fixed.
GATE_TEST_WINDOW = timedelta(days=7)


@dataclass
class CycleSummary:
    """What one hourly cycle did."""

    as_of: datetime
    market_open: bool
    trading: str = ""
    state: str = ""
    bars_landed: int = 0
    bars_quarantined: int = 0
    dbt_nodes_passed: int = 0
    approved: int = 0
    submitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    already_submitted: int = 0
    fills_new: int = 0
    equity: str | None = None


def runs_now(settings: Settings, market_open: bool, force: bool) -> bool:
    """Whether a cycle runs: always while the market is open or when forced; while it is closed
    only with OUTSIDE_HOURS=queue (the broker holds day orders for the next open)."""
    return market_open or force or settings.outside_hours == "queue"


class Cycle:
    """What one process resolves once and every step of its cycles shares: the settings, the
    database (connection for dbt, one engine) and the Alpaca clients (one each).

    Slots only: Prefect records a flow's parameters, and an object without a `__dict__` is
    recorded as `<Cycle>`, never with its settings, URLs or keys.
    """

    __slots__ = ("connection", "data", "engine", "settings", "trading")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The clients first: missing keys stop us before any connection is made.
        self.trading: TradingClient = trading_client(settings)
        self.data: StockHistoricalDataClient = data_client(settings)
        self.connection: Connection = resolve_connection(settings)
        self.engine: Engine = make_engine(self.connection)
        try:
            migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


@contextmanager
def open_cycle(settings: Settings) -> Iterator[Cycle]:
    """A Cycle for these settings, closed afterwards."""
    cycle = Cycle(settings)
    try:
        yield cycle
    finally:
        cycle.close()


@task(cache_policy=NO_CACHE)
def load(cycle: Cycle, specs: list[StrategySpec], as_of: datetime) -> tuple[int, int]:
    """Record the strategy specs (a changed one gets a new row), land the calendar and assets,
    the newest bars of every universe, then orders and fills.

    Returns (bars landed, bars quarantined).
    """
    settings, engine, trading = cycle.settings, cycle.engine, cycle.trading
    record_params(engine, specs, effective_from=as_of)
    sync_reference(trading, engine, as_of)
    landed = quarantined = 0
    for timeframe_name in sorted({spec.timeframe for spec in specs}):
        symbols = sorted(
            {s for spec in specs if spec.timeframe == timeframe_name for s in spec.universe}
        )
        runs = load_new_bars(
            cycle.data,
            trading,
            engine,
            symbols,
            parse_timeframe(timeframe_name),
            default_start=settings.ingest_start_at(as_of),
            until=as_of,
            lookback=timedelta(hours=settings.ingest_lookback_hours),
            options=landing_options(settings),
        )
        landed += sum(run.landed + run.corrected for run in runs)
        quarantined += sum(run.quarantined for run in runs)
    # Orders and fills that changed since the last cycle (a limit or bracket leg filling between
    # cycles) must be in the books before dbt decides, or positions and reconciliation lag.
    sync_orders(trading, engine)
    sync_fills(trading, engine)
    return landed, quarantined


@task(cache_policy=NO_CACHE)
def execute(cycle: Cycle) -> tuple[int, list[str], list[str], int]:
    """Submit marts.approved_orders unless trading is halted; returns (approved, submitted,
    rejected, already submitted)."""
    result = execute_approved(cycle.trading, cycle.engine, cycle.settings.trading_mode)
    if result.summary is None:
        reason = result.halted.reason if result.halted else ""
        logger.warning("HALTED ({}): {} approved orders not sent", reason, len(result.orders))
        return len(result.orders), [], [], 0
    summary = result.summary
    return len(result.orders), summary.submitted, summary.rejected, len(summary.already_done)


@task(cache_policy=NO_CACHE)
def sync(cycle: Cycle, as_of: datetime) -> tuple[int, str]:
    """Pull orders and fills, then snapshot the account at as_of; returns (new fills, equity).

    A second sync, after `load`'s: this cycle's own orders and their fills must land before the
    account snapshot, so reconciliation compares the broker's snapshot with the same fills.
    """
    sync_orders(cycle.trading, cycle.engine)
    new_fills = sync_fills(cycle.trading, cycle.engine)
    return new_fills, str(snapshot_account(cycle.trading, cycle.engine, as_of).equity)


def dbt_build(
    connection: Connection,
    as_of: datetime,
    variables: dict[str, Any],
    node_tasks: bool,
    select: str,
) -> int:
    """`dbt build --select SELECT` as of `as_of`, through prefect-dbt; raises on any failure.

    The decision time reaches dbt as the env var TRADING_AS_OF, not a var: a changed var makes
    dbt re-parse the whole project (seconds per cycle), a changed env var only the files using it.
    The data tests of the big tables check only the rows written in the last GATE_TEST_WINDOW
    (env var TRADING_TEST_SINCE, read by the dbt macro `recent_rows`); without it, as in
    `trading dbt build`, they check every row.

    dbt unit tests check logic, not data: they run in `make test`, not in every hourly build.
    With `node_tasks`, each dbt node becomes a Prefect task (about 0.4 s each on a 2-core
    machine), otherwise each build is one step of the flow.
    """
    export_dbt_env(connection)
    os.environ[AS_OF_ENV] = as_of.isoformat()
    os.environ[TEST_SINCE_ENV] = (datetime.now(UTC) - GATE_TEST_WINDOW).isoformat()
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(
            project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, log_level=EventLevel.WARN
        ),
        raise_on_failure=True,
        _disable_callbacks=not node_tasks,
    )
    result = runner.invoke(
        [
            "build",
            "--select",
            select,
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "unit_test",
            "--no-write-json",
            "--vars",
            json.dumps(variables),
        ]
    )
    return sum(1 for r in (result.result or []) if str(r.status) in ("success", "pass"))


@flow(name="hourly_cycle", log_prints=False)
def hourly_cycle(
    force: bool = False, refresh_dashboard: bool = True, cycle: Cycle | None = None
) -> CycleSummary:
    """One cycle at the broker clock's time; skipped while the market is closed unless forced.

    load → dbt build of what the executor reads (a failed model or test stops the cycle) →
    execute → sync → dbt build of what the dashboard reads (after the trades, off the hot path).
    `cycle` is what the caller resolved (the CLI, the demo); a worker or scheduler passes none
    and the flow resolves its own from `load_settings()`, the same way.
    """
    if cycle is None:
        with open_cycle(load_settings()) as own:
            return run_cycle(own, force, refresh_dashboard)
    return run_cycle(cycle, force, refresh_dashboard)


def run_cycle(cycle: Cycle, force: bool, refresh_dashboard: bool) -> CycleSummary:
    """The body of `hourly_cycle`, on resources resolved once."""
    run_logger = get_run_logger()
    settings, engine = cycle.settings, cycle.engine
    clock = cycle.trading.get_clock()
    as_of: datetime = clock.timestamp  # type: ignore[union-attr]
    summary = CycleSummary(
        as_of=as_of,
        market_open=bool(clock.is_open),  # type: ignore[union-attr]
        trading=trading_target(settings, cycle.trading),
    )
    run_logger.info("cycle at %s: %s", as_of.isoformat(), summary.trading)
    if not runs_now(settings, summary.market_open, force):
        run_logger.info("market closed at %s: cycle skipped", as_of.isoformat())
        return summary
    specs = load_specs()
    variables = dbt_vars(specs)
    summary.bars_landed, summary.bars_quarantined = load(cycle, specs, as_of)
    summary.dbt_nodes_passed = dbt_build(
        cycle.connection, as_of, variables, settings.dbt_node_tasks, TRADING_GATE
    )
    # For the summary only; the executor checks the halt again right before it sends, because
    # a `trading halt` typed after this line must still stop this cycle's orders.
    summary.state = describe_state(engine)
    summary.approved, summary.submitted, summary.rejected, summary.already_submitted = execute(
        cycle
    )
    summary.fills_new, summary.equity = sync(cycle, as_of)
    if refresh_dashboard:
        summary.dbt_nodes_passed += dbt_build(
            cycle.connection, as_of, variables, settings.dbt_node_tasks, DASHBOARD
        )
    run_logger.info("cycle done: %s", json.dumps(asdict(summary), default=str))
    return summary
