"""`trading execute`: the execute step alone, which sends nothing while trading is halted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from execution.orders import ApprovedOrder
from flows.cli import app
from simulator.server import SimulatorHandle
from tests.execution.approved import approved

pytestmark = pytest.mark.integration


@pytest.fixture
def env(
    executor_env: dict[str, str], approve: Callable[[list[ApprovedOrder]], None]
) -> dict[str, str]:
    approve([approved("AAPL", 3), approved("MSFT", 2)])
    return {**executor_env, "COLUMNS": "250"}


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
