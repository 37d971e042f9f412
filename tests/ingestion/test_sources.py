"""Rows say where they came from, and the demo lands only where nothing but the simulator has."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Connection as SqlConnection
from sqlalchemy import Engine, text

from config.alpaca import data_client
from config.database import Connection, make_engine
from ingestion.account import snapshot_account
from ingestion.bars import backfill
from ingestion.calendar import land_calendar
from ingestion.fills import sync_fills
from ingestion.migrate import migrate
from ingestion.orders import sync_orders
from ingestion.reference import sync_reference
from ingestion.sources import (
    BROKER_TABLES,
    DemoDatabaseError,
    HeldRows,
    ensure_demo_database,
    rows_not_from_simulator,
)
from ingestion.timeframes import parse_timeframe
from simulator.broker import ACCOUNT_NUMBER
from simulator.server import SimulatorHandle
from tests.ingestion.conftest import MARKET_OPEN

LANDED_BY_A_CYCLE = {
    "bars",
    "ingestion_state",
    "ingestion_runs",
    "calendar",
    "assets",
    "orders",
    "fills",
    "account_snapshots",
    "position_snapshots",
}


@pytest.fixture
def simulator_landed(
    open_market: SimulatorHandle,
    trading: TradingClient,
    fresh_database: Connection,
    engine: Engine,
    settings_for,  # type: ignore[no-untyped-def]
) -> Engine:
    """A database holding what a cycle lands from the simulator: reference data, bars, an order,
    its fill and an account snapshot."""
    sync_reference(trading, engine, MARKET_OPEN)
    data = data_client(settings_for(fresh_database, open_market.url))
    start = MARKET_OPEN - timedelta(days=3)
    backfill(data, trading, engine, ["AAPL"], parse_timeframe("1Hour"), start, MARKET_OPEN)
    trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    open_market.simulator.advance(1)
    sync_orders(trading, engine)
    sync_fills(trading, engine)
    snapshot_account(trading, engine, MARKET_OPEN)
    return engine


def sources_by_table(engine: Engine) -> dict[str, list[str | None]]:
    """The distinct sources of every non-empty broker table."""
    held: dict[str, list[str | None]] = {}
    with engine.connect() as conn:
        for table in BROKER_TABLES:
            sources = conn.execute(text(f"select distinct source from raw.{table}")).scalars()  # noqa: S608
            if found := list(sources):
                held[table] = found
    return held


def test_everything_landed_from_the_simulator_says_simulator(simulator_landed: Engine) -> None:
    held = sources_by_table(simulator_landed)
    assert set(held) == LANDED_BY_A_CYCLE
    assert all(sources == ["simulator"] for sources in held.values()), held


def test_the_demo_may_land_among_simulator_rows(simulator_landed: Engine) -> None:
    assert rows_not_from_simulator(simulator_landed) == []
    ensure_demo_database(simulator_landed)


def test_the_demo_may_land_in_an_empty_database(engine: Engine) -> None:
    assert rows_not_from_simulator(engine) == []
    ensure_demo_database(engine)


def test_one_row_from_alpaca_refuses_the_demo_naming_table_count_and_source(
    simulator_landed: Engine,
) -> None:
    with simulator_landed.begin() as conn:
        land_calendar(conn, [{"date": "2030-01-02", "open": "09:30", "close": "16:00"}], "alpaca")
    assert rows_not_from_simulator(simulator_landed) == [HeldRows("calendar", "alpaca", 1)]
    with pytest.raises(DemoDatabaseError) as refused:
        ensure_demo_database(simulator_landed)
    message = str(refused.value)
    assert "raw.calendar: 1 row from 'alpaca'" in message
    assert "only in an empty database or one holding nothing but simulator data" in message


def test_rows_that_do_not_say_where_they_came_from_refuse_the_demo(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, "
                "equity, payload) values (now(), 'a', 'ACTIVE', 1, 1, '{}')"
            )
        )
    with pytest.raises(DemoDatabaseError, match="raw.account_snapshots: 1 row of unknown source"):
        ensure_demo_database(engine)


def test_imported_bars_refuse_the_demo(simulator_landed: Engine) -> None:
    with simulator_landed.begin() as conn:
        conn.execute(text("update raw.bars set source = 'file:aapl.csv' where ts < now()"))
        bars = conn.execute(text("select count(*) from raw.bars")).scalar_one()
    assert rows_not_from_simulator(simulator_landed) == [HeldRows("bars", "file:aapl.csv", bars)]


@pytest.fixture
def database_at(postgres_server: Connection) -> Iterator[Callable[[str | None], Engine]]:
    """Make a new database migrated to a revision (None: no raw schema at all)."""
    admin = make_engine(postgres_server.with_dbname("postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    made: list[tuple[str, Engine]] = []

    def make(revision: str | None) -> Engine:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        engine = make_engine(postgres_server.with_dbname(name))
        made.append((name, engine))
        if revision is not None:
            migrate(engine, revision)
        return engine

    yield make
    for name, engine in made:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def test_the_demo_may_land_in_a_database_without_the_raw_schema(
    database_at: Callable[[str | None], Engine],
) -> None:
    assert rows_not_from_simulator(database_at(None)) == []


def test_rows_of_a_table_not_yet_migrated_count_as_unknown(
    database_at: Callable[[str | None], Engine],
) -> None:
    engine = database_at("0006")
    with engine.begin() as conn:
        insert_held_before_0007(conn, [ACCOUNT_NUMBER])
    assert HeldRows("account_snapshots", None, 1) in rows_not_from_simulator(engine)


def insert_held_before_0007(conn: SqlConnection, account_numbers: list[str]) -> None:
    """Account snapshots of these accounts, an order and a bar with its watermark, as 0006's
    schema held them."""
    execute = conn.execute
    at = datetime(2024, 3, 5, 15, tzinfo=UTC)
    for hour, number in enumerate(account_numbers):
        execute(
            text(
                "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, "
                "equity, payload) values (:at, 'a', 'ACTIVE', 1, 1, "
                "jsonb_build_object('account_number', cast(:number as text)))"
            ),
            {"at": at + timedelta(hours=hour), "number": number},
        )
    execute(
        text(
            "insert into raw.orders (id, client_order_id, symbol, side, order_type, "
            "time_in_force, filled_qty, status, created_at, submitted_at, updated_at, payload) "
            "values ('o1', 'c1', 'AAPL', 'buy', 'market', 'day', 0, 'new', :at, :at, :at, '{}')"
        ),
        {"at": at},
    )
    execute(
        text(
            "insert into raw.bars (symbol, timeframe, ts, open, high, low, close, volume, "
            "source) values ('AAPL', '1Hour', :at, 1, 1, 1, 1, 1, 'alpaca')"
        ),
        {"at": at},
    )
    execute(
        text(
            "insert into raw.ingestion_state (symbol, timeframe, source, watermark, last_run_id) "
            "values ('AAPL', '1Hour', 'alpaca', :at, 1)"
        ),
        {"at": at},
    )


def test_rows_held_by_a_database_that_only_met_the_simulator_become_simulator_rows(
    database_at: Callable[[str | None], Engine],
) -> None:
    engine = database_at("0006")
    with engine.begin() as conn:
        insert_held_before_0007(conn, [ACCOUNT_NUMBER, ACCOUNT_NUMBER])
    migrate(engine)
    assert sources_by_table(engine) == {
        "account_snapshots": ["simulator"],
        "orders": ["simulator"],
        "bars": ["simulator"],
        "ingestion_state": ["simulator"],
    }
    assert rows_not_from_simulator(engine) == []


@pytest.mark.parametrize(
    "accounts", [[], ["PA3K2Q8VZ1XY"], [ACCOUNT_NUMBER, "PA3K2Q8VZ1XY", ACCOUNT_NUMBER]]
)
def test_rows_held_by_a_database_that_met_a_real_account_or_none_stay_alpaca(
    database_at: Callable[[str | None], Engine], accounts: list[str]
) -> None:
    engine = database_at("0006")
    with engine.begin() as conn:
        insert_held_before_0007(conn, accounts)
    migrate(engine)
    assert sources_by_table(engine) == {
        **({"account_snapshots": ["alpaca"]} if accounts else {}),
        "orders": ["alpaca"],
        "bars": ["alpaca"],
        "ingestion_state": ["alpaca"],
    }
    with pytest.raises(DemoDatabaseError, match="raw.bars: 1 row from 'alpaca'"):
        ensure_demo_database(engine)
