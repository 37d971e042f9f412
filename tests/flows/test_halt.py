"""The kill switch: `trading halt` stops the executor before any POST reaches the broker,
`trading resume` lifts it, and a halt can cancel open orders or close every position."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.alpaca import trading_client
from config.database import Connection
from config.settings import Settings
from execution.execute import execute_approved
from execution.orders import stand_in_table
from flows.cli import app
from simulator.server import SimulatorHandle, running_simulator
from tests.execution.approved import approved

pytestmark = pytest.mark.integration

MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)  # Tuesday 10:05 New York
POST_ORDERS = "POST /v2/orders"


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=MARKET_OPEN, speed=0.0) as handle:
        yield handle


@pytest.fixture
def settings(sim: SimulatorHandle, fresh_database: Connection, settings_for) -> Settings:  # type: ignore[no-untyped-def]
    built: Settings = settings_for(fresh_database, sim.url)
    return built


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 bound but not listening: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def approve_one_buy(engine: Engine) -> None:
    """marts.approved_orders as dbt leaves it, with one buy (its contract's columns)."""
    with engine.begin() as conn:
        stand_in_table(conn, [approved("AAPL", qty=3)])


def buy(settings: Settings, *symbols: str) -> None:
    """Two shares of each symbol, bought at market."""
    client = trading_client(settings)
    for symbol in symbols:
        client.submit_order(
            MarketOrderRequest(
                symbol=symbol, qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )


def posts(sim: SimulatorHandle) -> int:
    return sim.simulator.requests.counts().get(POST_ORDERS, 0)


def test_halted_sends_nothing_and_resume_lets_the_order_go(
    env: dict[str, str], settings: Settings, engine: Engine, sim: SimulatorHandle
) -> None:
    runner = CliRunner()
    halted = runner.invoke(app, ["halt", "--reason", "broker outage"], env=env)
    assert halted.exit_code == 0, halted.output
    assert "HALTED at" in halted.output and "broker outage" in halted.output
    approve_one_buy(engine)

    held = execute_approved(trading_client(settings), engine, settings.trading_mode)
    assert (len(held.orders), held.summary) == (1, None)
    assert held.halted is not None and "broker outage" in held.halted.reason
    assert posts(sim) == 0

    resumed = runner.invoke(app, ["resume", "--reason", "outage over"], env=env)
    assert resumed.exit_code == 0, resumed.output
    sent = execute_approved(trading_client(settings), engine, settings.trading_mode)
    assert sent.summary is not None
    assert (sent.summary.submitted, sent.summary.rejected) == (
        ["sma_crossover-AAPL-202403051400"],
        [],
    )
    assert posts(sim) == 1
    with engine.connect() as conn:
        events = conn.execute(
            text("select action, reason from raw.trading_state_events order by id")
        ).all()
    assert [tuple(e) for e in events] == [("halt", "broker outage"), ("resume", "outage over")]


def test_a_halt_without_a_reason_is_refused_and_records_nothing(
    env: dict[str, str], engine: Engine
) -> None:
    result = CliRunner().invoke(app, ["halt", "--reason", "   "], env=env)
    assert result.exit_code == 2
    assert "reason: a halt or resume needs a reason" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.trading_state_events")).scalar() == 0


def test_halt_can_cancel_open_orders(env: dict[str, str], settings: Settings) -> None:
    client = trading_client(settings)
    client.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )
    assert len(client.get_orders()) == 1

    result = CliRunner().invoke(app, ["halt", "--reason", "stop", "--cancel-orders"], env=env)
    assert result.exit_code == 0, result.output
    assert "cancel 1 orders" in result.output
    assert client.get_orders() == []


def test_halt_can_close_every_position(env: dict[str, str], settings: Settings) -> None:
    buy(settings, "AAPL", "MSFT")
    client = trading_client(settings)
    client.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )
    assert sorted(p.symbol for p in client.get_all_positions()) == ["AAPL", "MSFT"]

    result = CliRunner().invoke(app, ["halt", "--reason", "flatten", "--close-positions"], env=env)
    assert result.exit_code == 0, result.output
    assert "close 2 positions" in result.output
    assert client.get_all_positions() == []
    assert client.get_orders() == []  # the open limit order was cancelled first


def test_halt_closes_positions_at_the_broker_when_the_database_does_not_answer(
    env: dict[str, str], settings: Settings, closed_port: int
) -> None:
    buy(settings, "AAPL", "MSFT")
    client = trading_client(settings)
    assert len(client.get_all_positions()) == 2
    env = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/postgres"}

    result = CliRunner().invoke(app, ["halt", "--reason", "x", "--close-positions"], env=env)

    assert client.get_all_positions() == []
    assert result.exit_code == 1, result.output
    assert "close 2 positions" in result.output
    assert "halt NOT recorded" in result.output and "HALTED at" not in result.output


def test_halt_is_recorded_when_the_broker_does_not_answer(
    env: dict[str, str], engine: Engine, closed_port: int
) -> None:
    env = {**env, "ALPACA_TRADING_URL": f"http://127.0.0.1:{closed_port}"}

    result = CliRunner().invoke(app, ["halt", "--reason", "x", "--cancel-orders"], env=env)

    assert result.exit_code == 1, result.output
    assert "the broker request failed" in result.output and "HALTED at" in result.output
    with engine.connect() as conn:
        events = conn.execute(
            text("select action, reason, cancel_orders from raw.trading_state_events")
        ).all()
    assert [tuple(e) for e in events] == [("halt", "x", True)]
