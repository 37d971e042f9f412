"""End to end: a shortened demo runs the real pipeline (simulator, Postgres, dbt, Prefect) twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.database import Connection
from config.settings import load_settings
from flows.cli import app
from flows.demo import DEMO_KEYS, cycle_times, demo_window, run_demo
from flows.prefect_server import prefect_api

TODAY = datetime(2024, 3, 12, 12, tzinfo=UTC)  # a Tuesday; the demo runs Monday 2024-03-11


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


def test_demo_window_ends_before_today_and_cycles_run_on_the_hour_at_minute_5() -> None:
    window = demo_window(TODAY, days=2, history_days=3)
    assert [open_at.date().isoformat() for open_at, _ in window.sessions] == [
        "2024-03-08",
        "2024-03-11",
    ]
    assert window.history_start == datetime(2024, 3, 5, 5, tzinfo=UTC)  # midnight New York
    friday_open, friday_close = window.sessions[0]
    times = [t.strftime("%H:%M") for t in cycle_times(friday_open, friday_close)]
    assert times == ["15:05", "16:05", "17:05", "18:05", "19:05", "20:05"]  # 10:05 … 15:05 EST


def test_short_demo_trades_once_per_decision_and_a_rerun_duplicates_nothing(
    fresh_database: Connection, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql")
    for name in ("ALPACA_TRADING_URL", "ALPACA_DATA_URL", "ALPACA_API_KEY", "ALPACA_SECRET_KEY"):
        monkeypatch.setenv(name, "")
    # The cycles set this in-process; setting it here undoes it afterwards.
    monkeypatch.setenv("TRADING_AS_OF", TODAY.isoformat())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    monkeypatch.setenv("TRADING_HOME", str(tmp_path / "home"))
    console = Console(file=(tmp_path / "demo.log").open("w"), width=120)

    with prefect_api():  # as `trading demo` does: a Prefect server that ends with the test
        first = run_demo(load_settings(), days=1, history_days=10, console=console, today=TODAY)
        after_first = table_counts(engine)
        second = run_demo(load_settings(), days=1, history_days=10, console=console, today=TODAY)
        after_second = table_counts(engine)

    assert first.cycles == 6
    # 10 symbols × (10 full days of history + the demo day but its 15:00 bar, complete at close)
    assert after_first["raw.bars"] == 10 * (11 * 7 - 1)
    assert after_first["marts.signals"] > 0
    with engine.connect() as conn:
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
    console.file.flush()
    printed = (tmp_path / "demo.log").read_text()
    assert "trading state (last cycle)" in printed and "ACTIVE" in printed
    assert "order decisions (last cycle)" in printed
    assert "backtest (signal mode, each symbol its own book) beside live" in printed
    with engine.connect() as conn:
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
    assert "raw.order_submissions.client_order_id" in rows_holding(engine, submitted[0])
    for key in DEMO_KEYS:
        assert key not in printed
        assert rows_holding(engine, key) == [], f"{key} was written to the database"
    assert first.simulator_orders == submitted
    assert filled_orders == len(submitted)

    assert second.cycles == 0  # the simulator resumed where it stopped: every hour was done
    assert second.backfill_landed == 0
    assert after_second == after_first
    assert second.simulator_orders == first.simulator_orders


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
