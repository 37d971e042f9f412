"""A failing command names the setting or argument to fix in a line or two, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

import strategies.spec
from config.database import Connection, make_engine
from flows.cli import app
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle
from tests.flows.conftest import SECRET

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """Two attempts per read: an outage is reported without a long wait."""
    return {**env, "ALPACA_MAX_ATTEMPTS": "2"}


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(app, args, env=env)


def assert_short(result: Result, code: int, *expected: str) -> None:
    """Exit `code`; the error in at most two lines (of 250 columns) holding each expected text;
    no traceback (the lines before the error are logs, e.g. of retries)."""
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output
    assert "error:" in output, output
    assert len(output[output.index("error:") :].strip().splitlines()) <= 2, output
    for part in expected:
        assert part in output, output
    assert SECRET not in output


def test_an_unreachable_database_names_database_url_without_its_password(
    env: dict[str, str],
) -> None:
    url = f"postgresql://trader:hunter2pass@127.0.0.1:{closed_port()}/trading"
    result = invoke(["ingest", "status"], {**env, "DATABASE_URL": url})
    assert_short(result, 1, "cannot reach the database at DATABASE_URL=", "(from environment)")
    assert "hunter2pass" not in result.output


def test_an_unreachable_redis_names_redis_url(env: dict[str, str]) -> None:
    redis_url = f"redis://127.0.0.1:{closed_port()}/0"
    result = invoke(["ingest", "reference"], {**env, "REDIS_URL": redis_url})
    assert_short(result, 1, f"cannot reach Redis at REDIS_URL='{redis_url}'")


def test_an_unreachable_alpaca_host_names_the_url_setting(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = invoke(["ingest", "reference"], {**env, "ALPACA_TRADING_URL": url})
    assert_short(result, 1, f"cannot reach Alpaca at ALPACA_TRADING_URL='{url}'")


def test_a_bars_api_failing_after_its_retries_names_the_data_url_and_records_a_failed_run(
    env: dict[str, str], sim: SimulatorHandle, fresh_database: Connection
) -> None:
    sim.simulator.faults.replace([FaultRule(kind="503", path="/v2/stocks/bars")])
    result = invoke(["backfill", "--symbols", "AAPL", "--start", "2024-03-04"], env)
    assert_short(result, 1, f"Alpaca at ALPACA_DATA_URL='{env['ALPACA_DATA_URL']}'", "503")
    engine = make_engine(fresh_database)
    with engine.connect() as conn:
        runs = conn.execute(text("select kind, status from raw.ingestion_runs")).all()
        bars = conn.execute(text("select count(*) from raw.bars")).scalar_one()
    engine.dispose()
    assert [tuple(run) for run in runs if run.kind == "bars"] == [("bars", "failed")]
    assert bars == 0


def test_a_backfill_ending_before_it_starts_is_refused(env: dict[str, str]) -> None:
    args = ["backfill", "--symbols", "AAPL", "--start", "2024-03-05", "--end", "2024-03-04"]
    result = invoke(args, env)
    assert_short(result, 2, "--end '2024-03-04' is before --start '2024-03-05'")


def test_a_backfill_starting_in_the_future_says_so(env: dict[str, str]) -> None:
    result = invoke(["backfill", "--symbols", "AAPL", "--start", "2999-01-01"], env)
    assert_short(result, 2, "--start '2999-01-01' is in the future")


def test_a_bad_strategy_spec_stops_trading_run_naming_the_file_and_key(
    env: dict[str, str], sim: SimulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    shipped = strategies.spec.SPECS_DIR / "rsi_mean_reversion.yaml"
    (specs / shipped.name).write_text(shipped.read_text().replace("oversold:", "oversoldd:"))
    monkeypatch.setattr(
        strategies.spec.load_specs,
        "__defaults__",
        (specs, strategies.spec.SIGNAL_MODELS_DIR),
    )
    result = invoke(["run", "--force"], env)
    assert_short(result, 2, "rsi_mean_reversion.yaml", "oversoldd")
    assert sim.simulator.requests.counts() == {}


def test_debug_shows_the_traceback(env: dict[str, str]) -> None:
    url = f"postgresql://trader@127.0.0.1:{closed_port()}/trading"
    result = CliRunner().invoke(
        app, ["--debug", "ingest", "status"], env={**env, "DATABASE_URL": url}
    )
    assert result.exit_code == 1
    assert result.exception is not None
    assert "OperationalError" in type(result.exception).__name__
