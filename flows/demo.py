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
from rich import box
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


def first_decision_bar(window: DemoWindow, timeframe: str) -> datetime:
    """Start of the bar the demo's first cycle decides on: the latest bar complete at that
    cycle (intraday bars sit on a UTC grid). No live entry is decided before it."""
    first_cycle = cycle_times(*window.sessions[0])[0]
    length = parse_timeframe(timeframe).length
    bar_seconds = int(length.total_seconds())
    return (
        datetime.fromtimestamp(int(first_cycle.timestamp()) // bar_seconds * bar_seconds, tz=UTC)
        - length
    )


@dataclass(frozen=True)
class TwinRun:
    """A backtest run paired with the live round trips, and where the live trading began."""

    run_id: str
    live_from: datetime


def _backtests_beside_live(
    cycle: Cycle, specs: list[StrategySpec], window: DemoWindow
) -> tuple[Table, list[TwinRun]]:
    """Each strategy backtested (signal mode) over the demo's trading days, beside what it did
    live in those days (marts.strategy_performance); and each strategy backtested over all
    landed history to the demo's end, whose round trips marts.backtest_vs_live pairs with the
    live ones (a run's signals start flat at its first bar: from the history's start they
    carry the same state into the demo's days as the live signals do)."""
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
    twins: list[TwinRun] = []
    for spec in specs:
        # The last cycle built the signals: only the backtest models need building.
        result, twin = (
            run_backtest(cycle.settings, cycle.connection, cycle.engine, request, True)
            for request in (
                BacktestRequest(strategy=spec.name, start=start, end=end),
                BacktestRequest(strategy=spec.name, start=None, end=end),
            )
        )
        twins.append(TwinRun(str(twin["run_id"]), first_decision_bar(window, spec.timeframe)))
        row = live.get(spec.name)
        table.add_row(
            spec.name,
            f"{result['total_return']:.2%}",
            str(result["trades"]),
            f"{float(row.total_return):.2%}" if row and row.total_return is not None else "n/a",
            str(row.trade_count) if row else "0",
        )
    return table, twins


class LiveTradeWithoutTwinError(RuntimeError):
    """A live round trip of the demo has no backtest round trip on the same bars."""


# Per strategy and in all: the live round trips, how they pair with the backtests' round trips
# held while the demo traded live, and how far the live fills are from the fill model's where
# both decided on the same bar (a fill-model difference, not a timing one).
VERSUS_LIVE = text(
    """
    with runs as (
        select *
        from unnest(cast(:runs as uuid []), cast(:live_from as timestamptz [])) as runs (
            run_id, live_from
        )
    )
    select
        coalesce(strategy, 'all') as strategy,
        count(*) filter (where match <> 'only_backtest') as live,
        count(*) filter (where match = 'matched') as matched,
        count(*) filter (where entry_decision_lag_bars > 0) as later,
        count(*) filter (where match = 'only_live') as only_live,
        count(*) filter (where match = 'only_backtest') as only_backtest,
        percentile_cont(0.5) within group (order by abs(entry_price_diff_bps))
            filter (where entry_decision_lag_bars = 0) as entry_median,
        avg(abs(entry_price_diff_bps)) filter (where entry_decision_lag_bars = 0) as entry_mean,
        count(*) filter (where entry_decision_lag_bars = 0) as entries,
        percentile_cont(0.5) within group (order by abs(exit_price_diff_bps))
            filter (where exit_decision_lag_bars = 0) as exit_median,
        avg(abs(exit_price_diff_bps)) filter (where exit_decision_lag_bars = 0) as exit_mean,
        count(*) filter (
            where exit_decision_lag_bars = 0 and exit_price_diff_bps is not null
        ) as exits
    from marts.backtest_vs_live
    inner join runs using (run_id)
    where
        match <> 'only_backtest'
        or coalesce(backtest_exit_decision_ts, 'infinity') > runs.live_from
    group by grouping sets ((strategy), ())
    order by strategy is null, strategy
    """
)


def _bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def backtest_vs_live(engine: Engine, twins: list[TwinRun]) -> tuple[Table, str]:
    """The live round trips beside the backtests' (marts.backtest_vs_live) per strategy and in
    all, with the median |fill difference| in bps; and a line saying how far the fill model is
    from the simulator's fills (median and mean over every same-bar entry and exit)."""
    table = Table(
        title="live round trips beside the backtest's",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        caption="later: decided live bars after the backtest (it already held the symbol when "
        "the live account started; a session's last bar closes after the last cycle; or a risk "
        "rule held the entry back). |Δ|: median |live fill - backtest fill| in bps, same bar",
    )
    for column in (
        "strategy",
        "live",
        "matched",
        "later",
        "only live",
        "only backtest",
        "entry |Δ|",
        "exit |Δ|",
    ):
        if column == "strategy":
            table.add_column(column, no_wrap=True, min_width=len("rsi_mean_reversion"))
        else:
            # As narrow as the header's longest word: the table fits an 80-column terminal.
            width = max(5, *(len(word) for word in column.split()))
            table.add_column(column, justify="right", width=width)
    params = {
        "runs": [twin.run_id for twin in twins],
        "live_from": [twin.live_from for twin in twins],
    }
    line = ""
    with engine.connect() as conn:
        for row in conn.execute(VERSUS_LIVE, params):
            table.add_row(
                row.strategy,
                *(str(n) for n in (row.live, row.matched, row.later, row.only_live)),
                str(row.only_backtest),
                _bps(row.entry_median),
                _bps(row.exit_median),
            )
            if row.strategy == "all":
                line = (
                    "fill model (next bar's open) against the simulator's fills, decided on the "
                    f"same bar: entries |Δ| median {_bps(row.entry_median)} bps, mean "
                    f"{_bps(row.entry_mean)} bps ({row.entries}); exits |Δ| median "
                    f"{_bps(row.exit_median)} bps, mean {_bps(row.exit_mean)} bps ({row.exits})"
                )
    return table, line


def check_live_twins(engine: Engine, runs: list[str]) -> None:
    """Every live round trip of the demo has its backtest twin, or this raises naming the ones
    without. The backtest runs over all landed history, so its signals carry the same state
    into the demo's days as the live ones: a live entry is decided only on a bar where the
    strategy wants the symbol, and there the backtest holds it."""
    with engine.connect() as conn:
        lonely = conn.execute(
            text(
                "select strategy, symbol, live_entry_decision_ts, live_entry_at"
                " from marts.backtest_vs_live"
                " where run_id = any(cast(:runs as uuid[])) and match = 'only_live'"
                " order by strategy, symbol, live_entry_decision_ts"
            ),
            {"runs": runs},
        ).all()
    if lonely:
        trades = "; ".join(
            f"{row.strategy} {row.symbol} entry decided on the bar of "
            f"{row.live_entry_decision_ts.astimezone(UTC):%Y-%m-%d %H:%M} UTC, "
            f"filled {row.live_entry_at.astimezone(UTC):%H:%M}"
            for row in lonely
        )
        raise LiveTradeWithoutTwinError(
            f"{len(lonely)} live round trip(s) have no backtest twin "
            f"(marts.backtest_vs_live, match = 'only_live'): {trades}"
        )


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
            beside, twins = _backtests_beside_live(cycle, specs, window)
            console.print(beside)
            pairs, fills = backtest_vs_live(engine, twins)
            console.print(pairs)
            console.print(fills)
            check_live_twins(engine, [twin.run_id for twin in twins])
    console.print("open the dashboard: [bold]make dashboard[/] (or `trading dashboard`)")
    return DemoResult(cycles=len(hours), backfill_landed=total.landed, simulator_orders=sim_orders)
