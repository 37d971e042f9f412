"""`trading run` says which mode, host and account it trades; live needs a confirmation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.alpaca import trading_client, trading_target
from config.database import Connection, make_engine
from config.settings import load_settings
from flows.cli import app
from simulator.broker import ACCOUNT_NUMBER
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration


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


def test_a_cycle_configured_only_by_the_env_file_lands_in_its_database_with_one_engine_and_client(
    env: dict[str, str],
    fresh_database: Connection,
    sim: SimulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys and DATABASE_URL only in `.env`: `trading run` lands its bars in that database (not
    in an embedded one), building one engine, one trading client and one data client."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    in_file = {**env, "INGEST_START": "5d"}
    del in_file["COLUMNS"]
    (workdir / ".env").write_text("".join(f"{k}={v}\n" for k, v in in_file.items()))
    for name in in_file:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRADING_ENV_FILE")
    monkeypatch.delenv("TRADING_AS_OF", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.chdir(workdir)
    built: Counter[str] = Counter()

    def counting(cls: type, label: str) -> None:
        original = cls.__init__

        def init(self: object, *args: object, **kwargs: object) -> None:
            original(self, *args, **kwargs)
            if (
                label != "engine"
                or getattr(self, "url", None) is not None
                and (
                    self.url.database == fresh_database.dbname  # type: ignore[attr-defined]
                )
            ):
                built[label] += 1

        monkeypatch.setattr(cls, "__init__", init)

    counting(TradingClient, "trading client")
    counting(StockHistoricalDataClient, "data client")
    counting(Engine, "engine")

    result = CliRunner().invoke(app, ["run", "--force"], env={"COLUMNS": "250"})
    during_the_cycle = dict(built)

    assert result.exit_code == 0, result.output
    engine = make_engine(fresh_database)
    with engine.connect() as conn:
        bars = conn.execute(text("select count(*) from raw.bars")).scalar_one()
    engine.dispose()
    assert bars > 0
    assert not (workdir / "home" / "pgdata").exists()
    assert during_the_cycle == {"trading client": 1, "data client": 1, "engine": 1}
