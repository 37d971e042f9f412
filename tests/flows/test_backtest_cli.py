"""`trading backtest` at the keyboard: a recorded, reproducible run that never sends an order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from flows.cli import app
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {"run_id", "strategy", "start", "end", "final_equity", "total_return"}
SUMMARY_KEYS |= {"sharpe", "max_drawdown", "trades"}


def runs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select strategy, status from raw.backtest_runs")).all()
    return [(str(strategy), str(status)) for strategy, status in rows]


def test_a_backtest_prints_its_summary_records_the_run_and_sends_nothing(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    landed = runner.invoke(
        app, ["backfill", "--symbols", "AAPL,MSFT", "--start", "2024-01-15"], env=env
    )
    assert landed.exit_code == 0, landed.output
    before = sim.simulator.requests.counts()

    result = runner.invoke(
        app,
        ["backtest", "--strategy", "sma_crossover", "--symbols", "AAPL,MSFT", "--json"],
        env=env,
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert SUMMARY_KEYS <= set(summary)
    assert summary["strategy"] == "sma_crossover"
    assert summary["symbols"] == ["AAPL", "MSFT"]
    with engine.connect() as conn:
        trades = conn.execute(
            text("select count(*) from marts.backtest_trades where run_id = :r"),
            {"r": summary["run_id"]},
        ).scalar_one()
        recorded = conn.execute(
            text("select spec, costs, code_version from raw.backtest_runs where run_id = :r"),
            {"r": summary["run_id"]},
        ).one()
        submissions = conn.execute(text("select count(*) from raw.order_submissions")).scalar_one()
    assert trades == summary["trades"] > 0
    assert recorded.spec["name"] == "sma_crossover" and "slippage_bps" in recorded.costs
    assert recorded.code_version
    assert runs(engine) == [("sma_crossover", "finished")]
    assert submissions == 0
    assert sim.simulator.requests.counts() == before  # not one request to the broker

    # A spec file outside strategies/specs/ (any file name; `name` names the signal SQL), with
    # other parameters and one symbol: its own signals, recorded with the run.
    variant = yaml.safe_load(Path("strategies/specs/sma_crossover.yaml").read_text())
    variant |= {"universe": ["MSFT"], "parameters": {"full_strength_gap": 0.5}}
    spec_file = tmp_path / "my_variant.yaml"
    spec_file.write_text(yaml.safe_dump(variant))
    result = runner.invoke(app, ["backtest", "--spec", str(spec_file), "--json"], env=env)
    assert result.exit_code == 0, result.output
    variant_summary = json.loads(result.output.strip().splitlines()[-1])
    assert variant_summary["symbols"] == ["MSFT"]
    assert variant_summary["parameters"] == {"full_strength_gap": 0.5}

    refused = runner.invoke(
        app, ["backtest", "--strategy", "sma_crossover", "--symbols", "AAPL,ZZZZ"], env=env
    )
    assert refused.exit_code == 2 and "--symbols ZZZZ: no 1Hour bars" in refused.output
    assert len(runs(engine)) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--strategy", "momentum"], "--strategy 'momentum' is not a strategy"),
        (["--strategy", "sma_crossover", "--symbols", "ZZZZ"], "no 1Hour bars of ZZZZ"),
        (["--spec", "no/such/spec.yaml"], "--spec no/such/spec.yaml: no such file"),
        (
            ["--strategy", "sma_crossover", "--start", "2020-01-01", "--end", "2020-02-01"],
            "no 1Hour bars",
        ),
        (["--strategy", "sma_crossover", "--mode", "both"], "--mode 'both' must be one of"),
    ],
)
def test_bad_input_names_the_argument_and_records_no_run(
    env: dict[str, str], engine: Engine, args: list[str], says: str
) -> None:
    result = CliRunner().invoke(app, ["backtest", *args], env=env)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert runs(engine) == []
