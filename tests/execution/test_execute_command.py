"""`trading execute`: the execute step alone, which sends nothing while trading is halted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.database import Connection
from execution.orders import ApprovedOrder
from flows.cli import app
from simulator.server import SimulatorHandle, running_simulator
from tests.execution.approved import DECIDED, approved

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=DECIDED.replace(hour=15, minute=5), speed=0.0) as handle:
        yield handle


@pytest.fixture
def env(
    sim: SimulatorHandle,
    fresh_database: Connection,
    tmp_path: Path,
    approve: Callable[[list[ApprovedOrder]], None],
) -> dict[str, str]:
    approve([approved("AAPL", 3), approved("MSFT", 2)])
    return {
        "DATABASE_URL": fresh_database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql"),
        "ALPACA_API_KEY": "PKTEST",
        "ALPACA_SECRET_KEY": "SECRET",
        "ALPACA_TRADING_URL": sim.url,
        "ALPACA_DATA_URL": sim.url,
        "TRADING_HOME": str(tmp_path / "home"),
        "TRADING_MODE": "paper",
        "REDIS_URL": "",
        "COLUMNS": "250",
        "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
    }


def test_execute_names_the_target_and_submits_the_approved_orders(
    env: dict[str, str], sim: SimulatorHandle
) -> None:
    result = CliRunner().invoke(app, ["execute"], env=env)
    assert result.exit_code == 0, result.output
    assert f"PAPER trading at {sim.url}, account" in result.output
    assert "2 approved: 2 submitted" in result.output
    assert sim.simulator.requests.counts()["POST /v2/orders"] == 2


def test_execute_while_halted_sends_no_order(env: dict[str, str], sim: SimulatorHandle) -> None:
    halted = CliRunner().invoke(app, ["halt", "--reason", "broker maintenance"], env=env)
    assert halted.exit_code == 0, halted.output
    result = CliRunner().invoke(app, ["execute"], env=env)
    assert result.exit_code == 0, result.output
    assert "HALTED (manual halt: broker maintenance): 2 approved orders not sent" in result.output
    assert "POST /v2/orders" not in sim.simulator.requests.counts()
