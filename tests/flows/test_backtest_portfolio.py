"""Portfolio mode: one account, the live risk rules replayed decision time by decision time."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from flows.cli import app
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration


def test_a_portfolio_backtest_shares_one_account(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    runner = CliRunner()
    landed = runner.invoke(
        app, ["backfill", "--symbols", "AAPL,MSFT,NVDA", "--start", "2024-01-15"], env=env
    )
    assert landed.exit_code == 0, landed.output

    result = runner.invoke(
        app,
        ["backtest", "--strategy", "bollinger_breakout", "--symbols", "AAPL,MSFT,NVDA"]
        + ["--mode", "portfolio", "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "select outcome, count(*) from marts.backtest_portfolio_decisions"
                " where run_id = :r group by outcome"
            ),
            {"r": summary["run_id"]},
        ).all()
    assert decisions
