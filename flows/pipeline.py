"""The hourly cycle as a Prefect flow: load → dbt build (a failure stops here) → execute → sync."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings
from sqlalchemy import Engine

from config.database import Connection, make_engine, resolve_connection
from config.settings import Settings, load_settings
from execution.orders import approved_orders
from execution.submit import submit_orders
from flows.dbt import DBT_PROJECT_DIR, dbt_args, export_dbt_env
from ingestion.account import snapshot_account
from ingestion.alpaca import data_client, trading_client
from ingestion.bars import load_new_bars
from ingestion.fills import sync_fills
from ingestion.orders import sync_orders
from ingestion.timeframes import parse_timeframe
from strategies.spec import StrategySpec, load_specs

FIRST_LOAD_LOOKBACK = timedelta(days=30)


@dataclass
class CycleSummary:
    """What one hourly cycle did."""

    as_of: datetime
    market_open: bool
    bars_landed: int = 0
    bars_quarantined: int = 0
    dbt_nodes_passed: int = 0
    approved: int = 0
    submitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    already_submitted: int = 0
    fills_new: int = 0
    equity: str | None = None


@task(cache_policy=NO_CACHE)
def load_bars(
    settings: Settings, engine: Engine, specs: list[StrategySpec], as_of: datetime
) -> tuple[int, int]:
    """Land the newest bars for every strategy's universe; returns (landed, quarantined)."""
    data, trading = data_client(settings), trading_client(settings)
    landed = quarantined = 0
    for timeframe_name in sorted({spec.timeframe for spec in specs}):
        symbols = sorted(
            {s for spec in specs if spec.timeframe == timeframe_name for s in spec.universe}
        )
        run = load_new_bars(
            data,
            trading,
            engine,
            symbols,
            parse_timeframe(timeframe_name),
            default_start=as_of - FIRST_LOAD_LOOKBACK,
            until=as_of,
        )
        landed += run.landed
        quarantined += run.quarantined
    return landed, quarantined


@task(cache_policy=NO_CACHE)
def sync_broker(settings: Settings, engine: Engine) -> int:
    """Pull the broker's orders and fills; returns how many fills were new."""
    client = trading_client(settings)
    sync_orders(client, engine)
    return sync_fills(client, engine)


@task(cache_policy=NO_CACHE)
def snapshot(settings: Settings, engine: Engine, as_of: datetime) -> str:
    """Record the account and positions as of the cycle's time; returns the equity."""
    return str(snapshot_account(trading_client(settings), engine, as_of).equity)


@task(cache_policy=NO_CACHE)
def execute(settings: Settings, engine: Engine) -> tuple[int, list[str], list[str], int]:
    """Submit marts.approved_orders; returns (approved, submitted, rejected, already submitted)."""
    orders = approved_orders(engine)
    summary = submit_orders(trading_client(settings), engine, orders, settings.trading_mode)
    return len(orders), summary.submitted, summary.rejected, len(summary.already_done)


def dbt_vars(specs: list[StrategySpec], as_of: datetime) -> dict[str, Any]:
    """The vars of one build: the decision time and every strategy's parameters."""
    merged: dict[str, Any] = {"as_of": as_of.isoformat()}
    for spec in specs:
        merged.update(spec.dbt_vars())
    return merged


@cache
def _manifest(connection: Connection) -> Manifest:
    """Parse the dbt project once per process and database; vars change per cycle, code does not."""
    export_dbt_env(connection)
    result = dbtRunner().invoke(dbt_args(["parse", "--quiet"]))
    if not result.success or not isinstance(result.result, Manifest):
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return result.result


def dbt_build(connection: Connection, variables: dict[str, Any], node_tasks: bool) -> int:
    """`dbt build` through prefect-dbt; raises if any model or data test fails.

    dbt unit tests check logic, not data: they run in `make test`, not in every hourly gate.
    With `node_tasks`, each dbt node becomes a Prefect task (about 0.4 s each on a 2-core
    machine), otherwise the build is one step of the flow.
    """
    export_dbt_env(connection)
    runner = PrefectDbtRunner(
        manifest=_manifest(connection),
        settings=PrefectDbtSettings(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR),
        raise_on_failure=True,
        _disable_callbacks=not node_tasks,
    )
    result = runner.invoke(
        ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(variables)]
    )
    return sum(1 for r in (result.result or []) if str(r.status) in ("success", "pass"))


@flow(name="hourly_cycle", log_prints=False)
def hourly_cycle(force: bool = False) -> CycleSummary:
    """One cycle at the broker clock's time; skipped while the market is closed unless forced."""
    logger = get_run_logger()
    settings = load_settings()
    connection = resolve_connection(settings)
    engine = make_engine(connection)
    clock = trading_client(settings).get_clock()
    as_of: datetime = clock.timestamp  # type: ignore[union-attr]
    summary = CycleSummary(as_of=as_of, market_open=bool(clock.is_open))  # type: ignore[union-attr]
    if not summary.market_open and not force:
        logger.info("market closed at %s: cycle skipped", as_of.isoformat())
        return summary
    specs = load_specs()
    summary.bars_landed, summary.bars_quarantined = load_bars(settings, engine, specs, as_of)
    sync_broker(settings, engine)
    summary.dbt_nodes_passed = dbt_build(
        connection, dbt_vars(specs, as_of), settings.dbt_node_tasks
    )
    summary.approved, summary.submitted, summary.rejected, summary.already_submitted = execute(
        settings, engine
    )
    summary.fills_new = sync_broker(settings, engine)
    summary.equity = snapshot(settings, engine, as_of)
    logger.info("cycle done: %s", json.dumps(asdict(summary), default=str))
    engine.dispose()
    return summary
