"""`trading walkforward`: folds that never overlap their test windows, choices made from the
training window alone, and an out-of-sample curve stitched from the test runs."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from flows.cli import app
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration

GRID = "oversold=25,35,exit_above=55,65"
SYMBOLS = "AAPL,MSFT"


def _query(engine: Engine, sql: str, **params: object) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


def _last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_folds_choose_from_their_training_window_alone(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    runner = CliRunner()
    landed = runner.invoke(
        app, ["backfill", "--symbols", SYMBOLS, "--start", "2023-10-02"], env=env
    )
    assert landed.exit_code == 0, landed.output
    before = sim.simulator.requests.counts()

    result = runner.invoke(
        app,
        [
            "walkforward", "--strategy", "rsi_mean_reversion", "--grid", GRID,
            "--symbols", SYMBOLS, "--train", "50d", "--test", "25d", "--json",
        ],
        env=env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    summary = _last_json(result.output)
    folds = summary["folds"]
    assert isinstance(folds, list) and summary["fold_count"] == len(folds) >= 2
    for fold in folds:
        assert fold["train_start"] < fold["train_end"] == fold["test_start"] < fold["test_end"]
    for earlier, later in zip(folds, folds[1:], strict=False):
        assert earlier["test_end"] <= later["test_start"]  # test windows never overlap
    # The stitched curve compounds the folds' test runs.
    growth = math.prod(1 + fold["out_of_sample_return"] for fold in folds)
    assert summary["out_of_sample_final_equity"] == pytest.approx(100_000 * growth, rel=1e-9)
    in_sample = sum(fold["in_sample_cagr"] for fold in folds) / len(folds)
    assert summary["walk_forward_efficiency"] == pytest.approx(
        summary["out_of_sample_cagr"] / in_sample, rel=1e-9
    )
    assert sim.simulator.requests.counts() == before

    # Truncate the history at the first fold's boundary and choose again from scratch: the
    # same parameters, the same in-sample objective.
    first = folds[0]
    with engine.begin() as conn:
        conn.execute(text("delete from raw.bars where ts >= :end"), {"end": first["train_end"]})
    rebuilt = runner.invoke(
        app, ["dbt", "build", "--select", "+indicators", "--full-refresh"], env=env
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    again = runner.invoke(
        app,
        [
            "sweep", "--strategy", "rsi_mean_reversion", "--grid", GRID, "--symbols", SYMBOLS,
            "--start", str(first["train_start"]), "--json",
        ],
        env=env,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    chosen = _last_json(again.output)
    assert chosen["best_parameters"] == first["parameters"]
    assert chosen["best_objective_value"] == pytest.approx(first["in_sample_objective"], abs=1e-12)
    runs = _query(
        engine,
        "select kind, count(*) as n from raw.backtest_runs where status = 'finished' group by kind",
    )
    assert {r["kind"]: r["n"] for r in runs} == {
        "walkforward": 1,
        "sweep": len(folds) + 1,
        "backtest": len(folds),
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--train", "abc", "--test", "5d"], "--train 'abc' must be a number of trading days"),
        (["--train", "2d", "--test", "1d"], "fewer than the indicators' 50-bar warm-up"),
        (["--train", "900d", "--test", "20d"], "need 920 trading days"),
    ],
)
def test_a_refused_walkforward_names_the_argument(
    env: dict[str, str], engine: Engine, args: list[str], says: str
) -> None:
    runner = CliRunner()
    landed = runner.invoke(app, ["backfill", "--symbols", "AAPL", "--start", "2024-01-02"], env=env)
    assert landed.exit_code == 0, landed.output
    result = runner.invoke(
        app,
        [
            "walkforward",
            "--strategy",
            "rsi_mean_reversion",
            "--grid",
            GRID,
            "--symbols",
            "AAPL",
            *args,
        ],
        env=env,
    )
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert _query(engine, "select run_id from raw.backtest_runs") == []
