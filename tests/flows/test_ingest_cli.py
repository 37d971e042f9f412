"""`trading backfill` and `trading ingest status` at the keyboard, against the simulator."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from config.alpaca import data_client, trading_client
from config.database import Connection
from flows.cli import app
from flows.ingest import bars_progress, landing_options
from ingestion.bars import backfill
from ingestion.timeframes import parse_timeframe
from simulator.server import SimulatorHandle, running_simulator

NOW = datetime(2024, 3, 8, 21, tzinfo=UTC)  # Friday 16:00 New York


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=NOW, speed=0.0) as handle:
        yield handle


def test_backfill_prints_a_summary_and_status_shows_watermarks_runs_and_quarantine(
    env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    bad_file = tmp_path / "spy.csv"
    bad_file.write_text(
        "date,open,high,low,close,volume\n"
        "2024-03-01,10,11,9,10.5,100\n"
        "2024-03-04,10,9,11,10.5,100\n"  # high below low
    )
    imported = runner.invoke(
        app, ["import-bars", str(bad_file), "--timeframe", "1Day", "--symbol", "SPY"], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "1 landed" in imported.output and "1 quarantined" in imported.output
    args = ["backfill", "--symbols", "AAPL,MSFT", "--start", "2024-03-04", "--end", "2024-03-08"]
    landed = runner.invoke(app, args, env=env)
    assert landed.exit_code == 0, landed.output
    assert "AAPL" in landed.output and "landed" in landed.output
    assert "56" in landed.output  # Monday to Thursday: 4 sessions × 7 bars × 2 symbols

    status = runner.invoke(app, ["ingest", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "watermarks" in status.output and "1Hour" in status.output
    assert "2024-03-07 20:00" in status.output  # Thursday's last bar
    assert "succeeded" in status.output and "quarantine" in status.output
    assert "failed expectations" in status.output
    assert "high 9.0 < low 11.0" in status.output
    assert "expect_column_pair_values" in status.output


def test_backfill_names_an_unknown_symbol_and_a_bad_timeframe(env: dict[str, str]) -> None:
    runner = CliRunner()
    unknown = runner.invoke(
        app, ["backfill", "--symbols", "AAPL,QQQQQ", "--start", "2024-03-04"], env=env
    )
    assert unknown.exit_code == 2 and "QQQQQ" in unknown.output
    bad = runner.invoke(
        app,
        ["backfill", "--symbols", "AAPL", "--start", "2024-03-04", "--timeframe", "7Weeks"],
        env=env,
    )
    assert bad.exit_code == 2 and "7Weeks" in bad.output


def test_the_progress_bar_counts_symbols_and_bars(
    sim: SimulatorHandle,
    fresh_database: Connection,
    settings_for,
    engine,  # type: ignore[no-untyped-def]
) -> None:
    settings = settings_for(fresh_database, sim.url)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    options = landing_options(settings)
    with bars_progress(console, options, symbols=2):
        backfill(
            data_client(settings),
            trading_client(settings),
            engine,
            ["AAPL", "MSFT"],
            parse_timeframe("1Hour"),
            datetime(2024, 3, 4, tzinfo=UTC),
            NOW,
            options=options,
        )
    final = screen.getvalue().split("\r")[-1]  # the bar is redrawn in place
    assert "2/2" in final and "bars 70" in final and "bars/s" in final
    assert options.on_page is None  # the callbacks are removed afterwards
