"""`trading run` says which mode, host and account it trades; live needs a confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.alpaca import trading_client, trading_target
from config.database import Connection
from config.settings import load_settings
from flows.cli import app
from simulator.broker import ACCOUNT_NUMBER
from simulator.server import SimulatorHandle, running_simulator

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 8, 15, 5, tzinfo=UTC)  # Friday 10:05 New York, market open


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=NOW, speed=0.0) as handle:
        yield handle


@pytest.fixture
def env(sim: SimulatorHandle, fresh_database: Connection, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": fresh_database.sqlalchemy_url.replace("postgresql+psycopg", "postgresql"),
        "ALPACA_API_KEY": "PKTEST",
        "ALPACA_SECRET_KEY": "SECRET-NEVER-PRINTED",
        "ALPACA_TRADING_URL": sim.url,
        "ALPACA_DATA_URL": sim.url,
        "TRADING_HOME": str(tmp_path / "home"),
        "REDIS_URL": "",
        "COLUMNS": "250",
        "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
    }


def test_live_mode_without_confirmation_refuses_to_start(
    env: dict[str, str], sim: SimulatorHandle
) -> None:
    result = CliRunner().invoke(app, ["run", "--force"], env={**env, "TRADING_MODE": "live"})
    assert result.exit_code == 2
    assert "TRADING_LIVE_CONFIRM=yes" in result.output
    assert sim.simulator.requests.counts() == {}


def test_live_mode_with_confirmation_still_refuses_a_host_that_is_not_alpacas_live_host(
    env: dict[str, str], sim: SimulatorHandle
) -> None:
    live = {**env, "TRADING_MODE": "live", "TRADING_LIVE_CONFIRM": "yes"}
    result = CliRunner().invoke(app, ["run", "--force"], env=live)
    assert result.exit_code == 2
    assert "TRADING_MODE=live trades only at https://api.alpaca.markets" in result.output
    assert sim.simulator.requests.counts() == {}


def test_the_cycle_names_mode_host_and_account_and_never_the_secret(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    target = trading_target(settings, trading_client(settings))
    assert target == f"PAPER trading at {env['ALPACA_TRADING_URL']}, account {ACCOUNT_NUMBER}"
    assert env["ALPACA_SECRET_KEY"] not in target
