"""Execution fixtures: a simulator in market hours, the project's trading client on it, and
marts.approved_orders as a plain table shaped like its dbt contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient
from sqlalchemy import Engine

from config.alpaca import trading_client
from config.database import Connection
from execution.orders import ApprovedOrder, stand_in_table
from simulator.server import SimulatorHandle, running_simulator
from tests.execution.approved import MARKET_OPEN


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """A simulator whose frozen clock stands inside a regular session."""
    with running_simulator(start=MARKET_OPEN, speed=0.0) as handle:
        yield handle


@pytest.fixture
def client(sim: SimulatorHandle, fresh_database: Connection, settings_for) -> TradingClient:  # type: ignore[no-untyped-def]
    """The project's alpaca-py TradingClient pointed at the simulator."""
    return trading_client(settings_for(fresh_database, sim.url))


@pytest.fixture
def executor_env(
    sim: SimulatorHandle, fresh_database: Connection, tmp_path: Path
) -> dict[str, str]:
    """The environment of a `trading` command paper trading on the simulator, fresh database."""
    return {
        "DATABASE_URL": fresh_database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql"),
        "ALPACA_API_KEY": "PKTEST",
        "ALPACA_SECRET_KEY": "SECRET",
        "ALPACA_TRADING_URL": sim.url,
        "ALPACA_DATA_URL": sim.url,
        "TRADING_HOME": str(tmp_path / "home"),
        "TRADING_MODE": "paper",
        "REDIS_URL": "",
        "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
    }


@pytest.fixture
def approve(engine: Engine) -> Callable[[list[ApprovedOrder]], None]:
    """Replace the rows of marts.approved_orders, as a dbt build at a new as_of would."""
    with engine.begin() as conn:
        stand_in_table(conn, [])

    def write(orders: list[ApprovedOrder]) -> None:
        with engine.begin() as conn:
            stand_in_table(conn, orders)

    return write
