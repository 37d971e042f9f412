"""Fixtures for the `trading` command's tests: a simulator in market hours and the environment
of a command pointed at it and at a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.database import Connection
from simulator.server import SimulatorHandle, running_simulator

NOW = datetime(2024, 3, 8, 15, 5, tzinfo=UTC)  # Friday 10:05 New York, market open
SECRET = "SECRET-NEVER-PRINTED"


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """The simulator, its clock frozen at NOW."""
    with running_simulator(start=NOW, speed=0.0) as handle:
        yield handle


@pytest.fixture
def env(sim: SimulatorHandle, fresh_database: Connection, tmp_path: Path) -> dict[str, str]:
    """A `trading` command's settings: the simulator, a fresh database, no Redis, no limit."""
    return {
        "DATABASE_URL": fresh_database.url,
        "ALPACA_API_KEY": "PKTEST",
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_TRADING_URL": sim.url,
        "ALPACA_DATA_URL": sim.url,
        "TRADING_HOME": str(tmp_path / "home"),
        "REDIS_URL": "",
        "COLUMNS": "250",
        "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
    }
