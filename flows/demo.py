"""`make demo`: the whole pipeline offline, on the embedded database and the simulator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import httpx
import pandas as pd
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from config.settings import Settings
from flows.backtest import BacktestRequest, run_backtest
from flows.dbt import run_dbt
from flows.ingest import landing_options
from flows.pipeline import Cycle, CycleSummary, hourly_cycle, open_cycle
from ingestion.bars import backfill
from ingestion.db import totals
from ingestion.sources import ensure_demo_database
from ingestion.timeframes import parse_timeframe
from strategies.spec import StrategySpec, load_specs

NEW_YORK = ZoneInfo("America/New_York")
DEMO_KEYS = ("PKDEMO", "DEMOSECRET")


def demo_settings(settings: Settings, simulator_url: str) -> Settings:
    """The user's settings pointed at the demo's simulator: its keys, paper mode, and no rate
    limit (Alpaca's 200 requests a minute do not apply to a local simulator)."""
    key, secret = DEMO_KEYS
    return settings.model_copy(
        update={
            "alpaca_trading_url": simulator_url,
            "alpaca_data_url": simulator_url,
            "alpaca_api_key": SecretStr(key),
            "alpaca_secret_key": SecretStr(secret),
            "trading_mode": "paper",
            "trading_live_confirm": None,
            "alpaca_rate_limit_per_minute": 100_000,
            "trading_home": settings.trading_home.resolve(),
        }
    )


@dataclass(frozen=True)
class DemoWindow:
    """The history to backfill and the trading days to run hour by hour."""

    history_start: datetime
    sessions: list[tuple[datetime, datetime]]

    @property
    def start(self) -> datetime:
        """The first session's open: where the simulated clock starts."""
        return self.sessions[0][0]


@cache
def _nyse() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS")


def demo_window(today: datetime, days: int, history_days: int) -> DemoWindow:
    """The last `days` complete sessions before today, after `history_days` sessions of history."""
    calendar = _nyse()
    sessions = calendar.sessions_in_range(
        pd.Timestamp(today.date()) - pd.Timedelta(days=2 * (days + history_days) + 30),
        pd.Timestamp(today.date()) - pd.Timedelta(days=1),
    )
    chosen = sessions[-(days + history_days) :]
    run = [
        (calendar.session_open(s).to_pydatetime(), calendar.session_close(s).to_pydatetime())
        for s in chosen[history_days:]
    ]
    first_day = chosen[0].date()
    midnight = datetime(first_day.year, first_day.month, first_day.day, tzinfo=NEW_YORK)
    return DemoWindow(midnight.astimezone(UTC), run)


def cycle_times(open_at: datetime, close_at: datetime) -> list[datetime]:
    """Minute 5 of every hour while the session is open (10:05 … 15:05 on a full day)."""
    first = open_at.replace(minute=5, second=0, microsecond=0)
    times = [first + timedelta(hours=i) for i in range(10)]
    return [t for t in times if open_at < t < close_at]


def _clock(url: str) -> datetime:
    response = httpx.get(f"{url}/admin/clock", timeout=30)
    response.raise_for_status()
    return datetime.fromisoformat(response.json()["now"])


def _set_clock(url: str, to: datetime) -> None:
    response = httpx.post(f"{url}/admin/clock", json={"to": to.isoformat()}, timeout=30)
    response.raise_for_status()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def _summary_table(
    engine: Engine, sim_orders: str, last: CycleSummary | None, cycles: int
) -> Table:
    table = Table(title="demo summary", show_header=False)
    with engine.connect() as conn:
        equity = conn.execute(
            text("select equity from raw.account_snapshots order by snapshot_at desc limit 1")
        ).scalar()
        statuses: dict[str, int] = dict(
            conn.execute(
                text("select status, count(*) from raw.order_submissions group by status")
            ).all()
        )
        decisions = ", ".join(
            f"{outcome} {count}"
            for outcome, count in conn.execute(
                text(
                    "select coalesce(rejection_reason, 'approved'), count(*)"
                    " from marts.risk_decisions group by 1 order by 2 desc, 1"
                )
            )
        )
    rows = [
        ("hourly cycles run", str(cycles)),
        ("bars in raw.bars", str(_count(engine, "select count(*) from raw.bars"))),
        ("bars quarantined", str(_count(engine, "select count(*) from raw.quarantine_bars"))),
        (
            "dbt models and tests passed (last cycle)",
            str(last.dbt_nodes_passed) if last else "no cycle run",
        ),
        ("signals (marts.signals)", str(_count(engine, "select count(*) from marts.signals"))),
        (
            "buy / sell signals",
            str(_count(engine, "select count(*) from marts.signals where signal <> 'hold'")),
        ),
        ("trading state (last cycle)", last.state if last else "no cycle run"),
        ("order decisions (last cycle)", decisions or "none"),
        ("orders submitted", str(statuses.get("submitted", 0))),
        ("orders rejected", str(statuses.get("rejected", 0))),
        ("orders the simulator holds", sim_orders),
        ("fills", str(_count(engine, "select count(*) from raw.fills"))),
        ("final equity", f"${float(equity):,.2f}" if equity is not None else "n/a"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _backtests_beside_live(cycle: Cycle, specs: list[StrategySpec], window: DemoWindow) -> Table:
    """Each strategy backtested (signal mode) over the demo's trading days, beside what it did
    live in those days (marts.strategy_performance)."""
    with cycle.engine.connect() as conn:
        live = {
            str(row.strategy): row
            for row in conn.execute(
                text("select strategy, total_return, trade_count from marts.strategy_performance")
            )
        }
    table = Table(title="backtest (signal mode, each symbol its own book) beside live")
    for column in ("strategy", "backtest return", "round trips", "live return", "live trades"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    start, end = window.sessions[0][0], window.sessions[-1][1]
    for spec in specs:
        request = BacktestRequest(strategy=spec.name, start=start, end=end)
        # The last cycle built the signals: only the backtest models need building.
        result = run_backtest(
            cycle.settings, cycle.connection, cycle.engine, request, upstream_built=True
        )
        row = live.get(spec.name)
        table.add_row(
            spec.name,
            f"{result['total_return']:.2%}",
            str(result["trades"]),
            f"{float(row.total_return):.2%}" if row and row.total_return is not None else "n/a",
            str(row.trade_count) if row else "0",
        )
    return table


@dataclass(frozen=True)
class DemoResult:
    """What a demo run left behind, for the summary and the end-to-end test."""

    cycles: int
    backfill_landed: int
    simulator_orders: list[str]


def run_demo(
    settings: Settings,
    days: int,
    history_days: int,
    console: Console,
    today: datetime | None = None,
) -> DemoResult:
    """Backfill history, then run `hourly_cycle` at every trading hour of the last `days` days."""
    from simulator.server import running_simulator

    home = settings.trading_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    specs = load_specs()
    symbols = sorted({symbol for spec in specs for symbol in spec.universe})
    window = demo_window(today or datetime.now(UTC), days, history_days)
    console.print(
        f"demo: {len(symbols)} symbols, {history_days} days of history from "
        f"{window.history_start:%Y-%m-%d}, then {days} trading days hour by hour "
        f"({window.sessions[0][0]:%Y-%m-%d} to {window.sessions[-1][0]:%Y-%m-%d})"
    )
    with (
        running_simulator(
            start=window.start, speed=0.0, state_path=home / "simulator-state.json"
        ) as sim,
        open_cycle(demo_settings(settings, sim.url)) as cycle,
    ):
        engine = cycle.engine
        ensure_demo_database(engine)  # after the migration, which labels an older demo's rows
        runs = [
            run
            for timeframe in sorted({spec.timeframe for spec in specs})
            for run in backfill(
                cycle.data,
                cycle.trading,
                engine,
                sorted({s for spec in specs if spec.timeframe == timeframe for s in spec.universe}),
                parse_timeframe(timeframe),
                window.history_start,
                window.start,
                options=landing_options(cycle.settings),
            )
        ]
        total = totals(runs)
        console.print(
            f"backfill: {total.fetched} bars fetched, {total.landed} landed, "
            f"{total.unchanged} unchanged"
        )
        run_dbt(["parse", "--quiet"], cycle.connection)  # the cycles' builds re-parse only changes
        last: CycleSummary | None = None
        # The simulator keeps its state (and its clock) across runs: hours it has lived are done.
        resumed_at = _clock(sim.url)
        hours = [
            at
            for open_at, close_at in window.sessions
            for at in cycle_times(open_at, close_at)
            if at > resumed_at
        ]
        for at in hours:
            _set_clock(sim.url, at)
            began = time.monotonic()
            # The dashboard's marts are refreshed once, after the last hour, to keep the demo short.
            last = hourly_cycle(refresh_dashboard=at == hours[-1], cycle=cycle)
            console.print(
                f"{at.astimezone(NEW_YORK):%a %m-%d %H:%M} ET  bars +{last.bars_landed}  "
                f"orders {len(last.submitted)}  fills +{last.fills_new}  "
                f"equity {float(last.equity or 0):,.2f}  {time.monotonic() - began:.1f}s"
            )
        # Nested: each bracket's exit legs (ids the broker made up) inside their entry.
        held: list[Order] = cycle.trading.get_orders(  # type: ignore[assignment]
            GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, nested=True)
        )
        sim_orders = sorted(o.client_order_id for o in held)
        legs = sum(len(o.legs or []) for o in held)
        if not hours:
            console.print(
                f"every demo hour was already run (simulated clock at {resumed_at:%Y-%m-%d %H:%M} "
                "UTC): nothing new to do"
            )
        held_text = (
            f"{len(sim_orders)} (and {legs} bracket exit legs)" if legs else str(len(sim_orders))
        )
        console.print(_summary_table(engine, held_text, last, len(hours)))
        if hours:
            console.print(_backtests_beside_live(cycle, specs, window))
    console.print("open the dashboard: [bold]make dashboard[/] (or `trading dashboard`)")
    return DemoResult(cycles=len(hours), backfill_landed=total.landed, simulator_orders=sim_orders)
