"""`trading sweep`: a grid in one set-based build per chunk, every trial kept, the deflated
Sharpe ratio right, and each trial the very backtest a plain run of its parameters gives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from flows.cli import app
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration

GRID = "oversold=25:35:5,exit_above=50,60"  # 6 points, all valid


def _query(engine: Engine, sql: str, **params: object) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def _reference_deflated_sharpe(trials: list[dict[str, object]], best: dict[str, object]) -> float:
    """Bailey & López de Prado (2014), written from the paper with scipy."""
    sharpes = np.array([float(t["daily_sharpe_ratio"]) for t in trials])  # type: ignore[arg-type]
    count = len(sharpes)
    variance = float(np.var(sharpes, ddof=1))
    gamma = 0.5772156649015329
    expected_max = math.sqrt(variance) * (
        (1 - gamma) * norm.ppf(1 - 1 / count) + gamma * norm.ppf(1 - 1 / (count * math.e))
    )
    sharpe = float(best["daily_sharpe_ratio"])  # type: ignore[arg-type]
    n = int(best["observation_count"])  # type: ignore[call-overload]
    skew, kurt = float(best["skewness"]), float(best["kurtosis"])  # type: ignore[arg-type]
    return float(
        norm.cdf(
            (sharpe - expected_max)
            * math.sqrt(n - 1)
            / math.sqrt(1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2)
        )
    )


def test_a_sweep_keeps_every_trial_equal_to_its_own_backtest(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    landed = runner.invoke(
        app, ["backfill", "--symbols", "AAPL,MSFT,NVDA", "--start", "2023-09-01"], env=env
    )
    assert landed.exit_code == 0, landed.output
    before = sim.simulator.requests.counts()

    # Three chunks of two trials: the first here, the other two in two processes at once.
    result = runner.invoke(
        app,
        [
            "sweep", "--strategy", "rsi_mean_reversion", "--grid", GRID,
            "--symbols", "AAPL,MSFT,NVDA", "--chunk-size", "2", "--workers", "2", "--json",
        ],
        env=env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["trial_count"] == 6
    trials = _query(
        engine,
        "select * from marts.backtest_trials where sweep_id = :s order by trial",
        s=summary["sweep_id"],
    )
    assert [t["trial"] for t in trials] == [1, 2, 3, 4, 5, 6]
    assert len({t["run_id"] for t in trials}) == 3  # the three chunks
    assert {(t["parameters"]["oversold"], t["parameters"]["exit_above"]) for t in trials} == {  # type: ignore[index]
        (o, e) for o in (25, 30, 35) for e in (50, 60)
    }
    best = min(trials, key=lambda t: t["objective_rank"])  # type: ignore[arg-type,return-value]
    assert best["trial"] == summary["best_trial"]
    assert best["sharpe_ratio"] == max(
        t["sharpe_ratio"] for t in trials if t["sharpe_ratio"] is not None
    )
    assert summary["deflated_sharpe_ratio"] == pytest.approx(
        _reference_deflated_sharpe(trials, best), abs=1e-9
    )
    assert sim.simulator.requests.counts() == before  # not one request to the broker

    # The best trial is exactly what a plain backtest of its parameters gives.
    variant = yaml.safe_load(Path("strategies/specs/rsi_mean_reversion.yaml").read_text())
    variant["parameters"] = best["parameters"]
    spec_file = tmp_path / "best.yaml"
    spec_file.write_text(yaml.safe_dump(variant))
    plain = runner.invoke(
        app,
        ["backtest", "--spec", str(spec_file), "--symbols", "AAPL,MSFT,NVDA", "--json"],
        env=env,
    )
    assert plain.exit_code == 0, plain.output
    single = json.loads(plain.output.strip().splitlines()[-1])
    assert single["final_equity"] == pytest.approx(float(best["final_equity"]), abs=1e-9)  # type: ignore[arg-type]
    assert single["trades"] == best["trade_count"]
    statuses = _query(engine, "select kind, status from raw.backtest_runs")
    assert {(s["kind"], s["status"]) for s in statuses} == {
        ("sweep", "finished"),
        ("backtest", "finished"),
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--grid", "oversold=20:60:20,exit_above=50"], "--grid point oversold=60, exit_above=50"),
        (["--grid", "oversld=20"], "--grid oversld: not a parameter of rsi_mean_reversion"),
        (["--grid", "oversold=30:20:5"], "stops below its start"),
        (["--grid", "oversold=30", "--objective", "luck"], "--objective 'luck' must be one of"),
    ],
)
def test_a_refused_grid_names_the_value_and_records_nothing(
    env: dict[str, str], engine: Engine, args: list[str], says: str
) -> None:
    result = CliRunner().invoke(app, ["sweep", "--strategy", "rsi_mean_reversion", *args], env=env)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert _query(engine, "select run_id from raw.backtest_runs") == []
