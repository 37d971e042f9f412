"""End to end: the demo runs the real pipeline (simulator, Postgres, dbt, Prefect) over two
trading days hour by hour, then again (which must add nothing). Each strategy is backtested over
the same bars, and marts.backtest_vs_live pairs every live round trip with its backtest twin,
prices the difference of their fills, and keeps the round trips a risk limit kept from the live
account as only_backtest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.database import Connection, make_engine
from config.settings import load_settings
from flows.cli import app
from flows.demo import (
    DEMO_KEYS,
    DemoResult,
    LiveTradeWithoutTwinError,
    check_live_twins,
    cycle_times,
    demo_window,
    first_decision_bar,
    run_demo,
)
from flows.prefect_server import prefect_api
from ingestion.migrate import scratch_database
from strategies.spec import load_specs

pytestmark = pytest.mark.integration

# The demo trades Monday 2024-03-11 and Tuesday 2024-03-12 hour by hour, after 9 days of history.
TODAY = datetime(2024, 3, 13, 12, tzinfo=UTC)
END = datetime(2024, 3, 12, 20, tzinfo=UTC)  # Tuesday's close
LIVE_FROM = datetime(2024, 3, 11, 13, tzinfo=UTC)  # the bar Monday's first cycle decides on
WINDOW_TODAY = datetime(2024, 3, 12, 12, tzinfo=UTC)  # a Tuesday


@dataclass(frozen=True)
class Demo:
    """The database after the demo and its rerun: what each run said and left, what it
    printed, and the ids of the backtests paired with the live trades."""

    engine: Engine
    first: DemoResult
    second: DemoResult
    after_first: dict[str, int]
    after_second: dict[str, int]
    printed: str
    runs: list[str]


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(text(f"select count(*) from {name}")).scalar_one())  # noqa: S608
            for name in ("raw.bars", "raw.order_submissions", "raw.fills", "marts.signals")
        }


def rows_holding(engine: Engine, needle: str) -> list[str]:
    """Every table column, in our schemas, with a value containing `needle` (as text)."""
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "select table_schema, table_name, column_name from information_schema.columns"
                " join information_schema.tables using (table_schema, table_name)"
                " where table_type = 'BASE TABLE'"
                " and table_schema in ('raw', 'staging', 'intermediate', 'marts')"
                " and data_type in ('text', 'character varying', 'jsonb', 'json')"
            )
        ).all()
        return [
            f"{schema}.{table}.{column}"
            for schema, table, column in columns
            if conn.execute(
                text(
                    f'select exists (select from "{schema}"."{table}"'  # noqa: S608
                    f' where "{column}"::text like :n)'
                ),
                {"n": f"%{needle}%"},
            ).scalar_one()
        ]


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def _value(engine: Engine, sql: str, **params: Any) -> Decimal:
    with engine.connect() as conn:
        value: Decimal = conn.execute(text(sql), params).scalar_one()
        return value


@pytest.fixture(scope="module")
def demo(postgres_server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Two demo days traded hour by hour, then the demo again over the same days."""
    home = tmp_path_factory.mktemp("demo")
    name = f"test_demo_{uuid.uuid4().hex[:8]}"
    with scratch_database(postgres_server, name) as database, pytest.MonkeyPatch.context() as mp:
        url = database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql")
        for variable in (
            "ALPACA_TRADING_URL",
            "ALPACA_DATA_URL",
            "ALPACA_API_KEY",
            "ALPACA_SECRET_KEY",
        ):
            mp.setenv(variable, "")
        # The cycles set this in-process; setting it here undoes it afterwards.
        mp.setenv("TRADING_AS_OF", TODAY.isoformat())
        mp.setenv("DATABASE_URL", url)
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        mp.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
        mp.setenv("TRADING_HOME", str(home / "home"))
        log = home / "demo.log"
        engine = make_engine(database)
        try:
            # As `trading demo` does: a Prefect server that ends with the runs.
            with log.open("w") as out, prefect_api():
                console = Console(file=out, width=200)
                first = run_demo(load_settings(), 2, 9, console, today=TODAY)
                after_first = table_counts(engine)
                second = run_demo(load_settings(), 2, 9, console, today=TODAY)
                after_second = table_counts(engine)
            runs = [
                str(row["run_id"])
                for row in _rows(
                    engine,
                    "select run_id from raw.backtest_runs where start_at is null and end_at = :end",
                    end=END,
                )
            ]
            yield Demo(engine, first, second, after_first, after_second, log.read_text(), runs)
        finally:
            engine.dispose()


def test_demo_window_ends_before_today_and_cycles_run_on_the_hour_at_minute_5() -> None:
    window = demo_window(WINDOW_TODAY, days=2, history_days=3)
    assert [open_at.date().isoformat() for open_at, _ in window.sessions] == [
        "2024-03-08",
        "2024-03-11",
    ]
    assert window.history_start == datetime(2024, 3, 5, 5, tzinfo=UTC)  # midnight New York
    friday_open, friday_close = window.sessions[0]
    times = [t.strftime("%H:%M") for t in cycle_times(friday_open, friday_close)]
    assert times == ["15:05", "16:05", "17:05", "18:05", "19:05", "20:05"]  # 10:05 … 15:05 EST


def test_demo_trades_once_per_decision_and_a_rerun_duplicates_nothing(demo: Demo) -> None:
    assert demo.first.cycles == 12  # six hours a day
    # 10 symbols × (9 full days of history, Monday, and Tuesday but its 15:00 bar, complete at
    # close)
    assert demo.after_first["raw.bars"] == 10 * (11 * 7 - 1)
    assert demo.after_first["marts.signals"] > 0
    with demo.engine.connect() as conn:
        submitted = (
            conn.execute(
                text(
                    "select client_order_id from raw.order_submissions "
                    "where status = 'submitted' order by 1"
                )
            )
            .scalars()
            .all()
        )
        # Bracket exit legs fill as orders of their own; each of our orders filled once.
        filled_orders = conn.execute(
            text(
                "select count(distinct fills.order_id) from raw.fills"
                " join raw.orders on raw.orders.id = fills.order_id"
                " where raw.orders.parent_order_id is null"
            )
        ).scalar_one()
    printed = demo.printed
    assert "trading state (last cycle)" in printed and "ACTIVE" in printed
    assert "order decisions (last cycle)" in printed
    assert "backtest (signal mode, each symbol its own book) beside live" in printed
    with demo.engine.connect() as conn:
        backtests = conn.execute(
            text("select strategy, status from raw.backtest_runs order by strategy")
        ).all()
    # Each strategy twice (its demo days, and from the history's start for the pairing with
    # live); the rerun, with no new hour, backtests nothing again.
    assert [tuple(run) for run in backtests] == [
        (strategy, "finished")
        for strategy in ("bollinger_breakout", "rsi_mean_reversion", "sma_crossover")
        for _ in (1, 2)
    ]
    assert submitted, "the demo placed no order"
    assert "raw.order_submissions.client_order_id" in rows_holding(demo.engine, submitted[0])
    for key in DEMO_KEYS:
        assert key not in printed
        assert rows_holding(demo.engine, key) == [], f"{key} was written to the database"
    assert demo.first.simulator_orders == submitted
    assert filled_orders == len(submitted)

    assert demo.second.cycles == 0  # the simulator resumed where it stopped: every hour was done
    assert demo.second.backfill_landed == 0
    assert demo.after_second == demo.after_first
    assert demo.second.simulator_orders == demo.first.simulator_orders


def test_every_live_round_trip_has_its_backtest_twin(demo: Demo) -> None:
    assert len(demo.runs) == 3, "one backtest per shipped strategy from the history's start"
    # Every round trip of the live book opened in the window: its entry is a buy order of ours.
    live_entries = _rows(
        demo.engine,
        "select orders.client_order_id from raw.orders as orders"
        " where orders.parent_order_id is null and orders.client_order_id like '%-b'"
        " and exists (select from raw.fills where fills.order_id = orders.id)",
    )
    pairs = _rows(
        demo.engine,
        "select match, count(*) as n from marts.backtest_vs_live"
        " where run_id = any(cast(:runs as uuid[])) group by match",
        runs=demo.runs,
    )
    counts = {row["match"]: row["n"] for row in pairs}
    assert live_entries, "the demo placed no entry"
    assert counts.get("only_live", 0) == 0
    assert counts["matched"] == len(live_entries)
    check_live_twins(demo.engine, demo.runs)  # the demo's own assertion agrees
    assert "live round trips beside the backtest's" in demo.printed
    assert "fill model (next bar's open) against the simulator's fills" in demo.printed


def test_fill_differences_are_the_live_fills_against_the_next_bars_open(demo: Demo) -> None:
    """Where live and backtest decided on the same bar, the backtest filled at the next bar's
    open (no slippage in the demo's settings) and live at the simulator's fill: the difference
    in bps is recomputed here from raw.fills and raw.bars."""
    matched = _rows(
        demo.engine,
        "select * from marts.backtest_vs_live where run_id = any(cast(:runs as uuid[]))"
        " and match = 'matched'",
        runs=demo.runs,
    )
    checked = 0
    for pair in matched:
        for side, decided, diff in (
            ("b", pair["live_entry_decision_ts"], pair["entry_price_diff_bps"]),
            ("s", pair["live_exit_decision_ts"], pair["exit_price_diff_bps"]),
        ):
            lag = pair["entry_decision_lag_bars" if side == "b" else "exit_decision_lag_bars"]
            # A bracket leg's exit fills at its own price, not the next bar's open.
            leg_exit = side == "s" and pair["backtest_exit_reason"] != "signal"
            if lag != 0 or diff is None or leg_exit:
                continue
            client_order_id = f"{pair['strategy']}-{pair['symbol']}-{decided:%Y%m%d%H%M}-{side}"
            live_price = _value(
                demo.engine,
                "select sum(fills.qty * fills.price) / sum(fills.qty) from raw.fills"
                " join raw.orders on raw.orders.id = fills.order_id"
                " where raw.orders.client_order_id = :id",
                id=client_order_id,
            )
            next_open = _value(
                demo.engine,
                "select open from raw.bars where symbol = :symbol and timeframe = '1Hour'"
                " and ts > :decided order by ts limit 1",
                symbol=pair["symbol"],
                decided=decided,
            )
            expected = float((live_price - next_open) / next_open * 10_000)
            assert diff == pytest.approx(expected, abs=1e-9), client_order_id
            checked += 1
    assert checked >= 1, f"no same-bar fill to compare ({checked})"
    assert any(pair["entry_decision_lag_bars"] == 0 for pair in matched)


def test_a_symbol_max_positions_kept_from_the_live_account_is_only_backtest(
    demo: Demo,
) -> None:
    """The backtest (each symbol its own book) holds every symbol the strategy wants; the live
    strategy filled its max_positions slots at its first trade and had none for this one."""
    blocked = _rows(
        demo.engine,
        "select * from marts.backtest_vs_live where run_id = any(cast(:runs as uuid[]))"
        " and match = 'only_backtest' and backtest_entry_decision_ts < :live_from"
        " and coalesce(backtest_exit_decision_ts, 'infinity') > :live_from",
        runs=demo.runs,
        live_from=LIVE_FROM,
    )
    assert blocked, "no symbol the strategy wanted when the live account started went untraded"
    limits = {spec.name: spec.limits.max_positions for spec in load_specs()}
    for row in blocked:
        first_trades = _rows(
            demo.engine,
            "select symbol from marts.backtest_vs_live where run_id = :run and live_entry_at = ("
            "select min(live_entry_at) from marts.backtest_vs_live where run_id = :run)",
            run=row["run_id"],
        )
        assert len(first_trades) == limits[row["strategy"]], (row["symbol"], first_trades)
        assert row["symbol"] not in {trade["symbol"] for trade in first_trades}


def test_a_live_trade_without_a_twin_fails_the_demo_naming_it(demo: Demo) -> None:
    """A row the model would write for a live entry decided where the backtest held nothing."""
    run = str(uuid.uuid4())
    decided = datetime(2024, 3, 11, 15, tzinfo=UTC)
    with demo.engine.begin() as conn:
        conn.execute(
            text(
                "insert into marts.backtest_vs_live (run_id, trial, strategy, symbol, pair_number,"
                " match, live_round_trip_number, live_entry_decision_ts, live_entry_at)"
                " values (:run, 1, 'sma_crossover', 'AAPL', 1, 'only_live', 1, :decided, :filled)"
            ),
            {"run": run, "decided": decided, "filled": datetime(2024, 3, 11, 16, 5, tzinfo=UTC)},
        )
    try:
        with pytest.raises(LiveTradeWithoutTwinError) as raised:
            check_live_twins(demo.engine, [*demo.runs, run])
    finally:
        with demo.engine.begin() as conn:
            conn.execute(
                text("delete from marts.backtest_vs_live where run_id = :run"), {"run": run}
            )
    assert str(raised.value) == (
        "1 live round trip(s) have no backtest twin (marts.backtest_vs_live, match = 'only_live'):"
        " sma_crossover AAPL entry decided on the bar of 2024-03-11 15:00 UTC, filled 16:05"
    )


def test_demo_window_first_decision_bar_is_the_bar_before_the_first_cycle() -> None:
    window = demo_window(TODAY, days=2, history_days=9)
    # Monday 2024-03-11 (EDT): the first cycle at 10:05 decides on the 9:00 bar (13:00 UTC).
    assert first_decision_bar(window, "1Hour") == datetime(2024, 3, 11, 13, tzinfo=UTC)


def test_demo_refuses_a_database_holding_real_alpaca_data_and_lands_nothing(
    fresh_database: Connection, engine: Engine, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.ingestion_runs (kind, source, status, started_at)"
                " values ('bars', 'alpaca', 'succeeded', now())"
            )
        )
    env = {
        "DATABASE_URL": fresh_database.url,
        "TRADING_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "250",
    }

    result = CliRunner().invoke(app, ["demo", "--days", "1", "--history-days", "2"], env=env)

    assert result.exit_code == 2, result.output
    assert "raw.ingestion_runs: 1 row from 'alpaca'" in result.output
    assert "name an empty database in DATABASE_URL" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.bars")).scalar_one() == 0
