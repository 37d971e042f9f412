"""The research flows on a real Prefect server: each gives what its command gives for the same
request, a sweep's chunks are task runs of their own, and the requests Prefect stores validate
back to the same request (what a worker's run receives)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, TaskRun
from prefect.states import State
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from flows.backtest import BacktestRequest
from flows.cli import app
from flows.prefect_server import drain_prefect_workers, prefect_api
from flows.research_flows import backtest, sweep, walkforward
from flows.sweep import SweepRequest
from flows.walkforward import WalkForwardRequest
from simulator.server import SimulatorHandle

pytestmark = pytest.mark.integration

SYMBOLS = "AAPL,MSFT"
STRATEGY = "rsi_mean_reversion"
# Prefect records task runs from the events the flow's process sends: they land shortly after.
TASK_RUNS_DEADLINE_SECONDS = 60


@pytest.fixture
def research(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command's environment for the flows too (they resolve their own settings), a local
    Prefect server for the test, and bars of SYMBOLS landed from the simulator."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    with prefect_api():  # starts while the bars land
        landed = CliRunner().invoke(
            app, ["backfill", "--symbols", SYMBOLS, "--start", "2024-01-02"]
        )
        assert landed.exit_code == 0, landed.output
        yield


def _command(args: list[str]) -> dict[str, Any]:
    """A research command's `--json` object."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _comparable(value: Any) -> Any:
    """A result without what differs between two runs of one request: the run ids, and the code
    version (another edit in the work tree can make it `+dirty` in between)."""
    if isinstance(value, dict):
        return {
            key: _comparable(item)
            for key, item in value.items()
            if not key.endswith(("run_id", "sweep_id")) and key != "code_version"
        }
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _ran(state: State[dict[str, Any]]) -> tuple[dict[str, Any], FlowRun]:
    """A finished flow's result and its flow run as the Prefect API has it."""
    result = state.result()
    assert isinstance(result, dict)
    assert json.loads(json.dumps(result)) == result  # JSON-ready as it is
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)  # type: ignore[arg-type]
    assert flow_run.state is not None and flow_run.state.is_completed()
    return result, flow_run


def _task_runs(flow_run_id: uuid.UUID, count: int) -> list[TaskRun]:
    """The flow run's task runs once `count` of them are recorded in a final state."""
    drain_prefect_workers()
    deadline = time.monotonic() + TASK_RUNS_DEADLINE_SECONDS
    runs: list[TaskRun] = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if len(runs) >= count and all(run.state and run.state.is_final() for run in runs):
                break
            time.sleep(0.5)
    return runs


def _span(run: TaskRun) -> tuple[datetime, datetime]:
    """When a finished task run started and ended."""
    assert run.start_time is not None and run.end_time is not None
    return run.start_time, run.end_time


def _chunk_runs(engine: Engine, sweep_id: str) -> list[str]:
    with engine.connect() as conn:
        return [
            str(run_id)
            for (run_id,) in conn.execute(
                text("select run_id from raw.backtest_runs where parent_run_id = :s"),
                {"s": sweep_id},
            )
        ]


def test_backtest_flow_gives_what_the_command_gives(research: None, sim: SimulatorHandle) -> None:
    before = sim.simulator.requests.counts()
    request = BacktestRequest(strategy=STRATEGY, symbols=("AAPL", "MSFT"))

    result, flow_run = _ran(backtest(request, return_state=True))

    command = _command(["backtest", "--strategy", STRATEGY, "--symbols", SYMBOLS])
    assert result["trades"] > 0
    assert _comparable(result) == _comparable(command)
    assert result["run_id"] != command["run_id"]
    assert flow_run.name and flow_run.flow_id
    assert backtest.validate_parameters(flow_run.parameters) == {"request": request}
    assert sim.simulator.requests.counts() == before  # not one request to the broker


def test_sweep_flow_builds_each_chunk_as_a_task_run(research: None, engine: Engine) -> None:
    grid = "oversold=25,30,35,exit_above=55"
    # Two chunks (two trials, then one): the first in the flow's process, the second in a
    # process of its own. Not two in other processes at once: each chunk's build re-creates the
    # backtest marts' views, and two such builds at the same time collide in the database.
    request = SweepRequest(
        BacktestRequest(strategy=STRATEGY, symbols=("AAPL", "MSFT")),
        grid,
        chunk_size=2,
        workers=2,
    )

    result, flow_run = _ran(sweep(request, return_state=True))

    chunks = _chunk_runs(engine, result["sweep_id"])
    assert result["trial_count"] == 3 and len(chunks) == 2
    task_runs = _task_runs(flow_run.id, len(chunks))
    assert sorted(run.name for run in task_runs) == sorted(f"chunk {c}" for c in chunks)
    assert all(run.state and run.state.is_completed() for run in task_runs)
    here = [_span(run) for run in task_runs if run.task_key.startswith("build_chunk-")]
    elsewhere = [
        _span(run) for run in task_runs if run.task_key.startswith("build_chunk_elsewhere-")
    ]
    assert len(here) == len(elsewhere) == 1
    assert here[0][1] <= elsewhere[0][0]  # the first chunk brings the indicators up to date
    assert sweep.validate_parameters(flow_run.parameters) == {"request": request}

    command = _command(
        [
            "sweep", "--strategy", STRATEGY, "--grid", grid, "--symbols", SYMBOLS,
            "--chunk-size", "2", "--workers", "2",
        ]
    )  # fmt: skip
    assert _comparable(result) == _comparable(command)
    assert [t["trial"] for t in result["top_trials"]] == [t["trial"] for t in command["top_trials"]]


def test_walkforward_flow_gives_what_the_command_gives(research: None, engine: Engine) -> None:
    # Fifteen trading days (Presidents' Day is a holiday): one fold of ten then five days.
    grid = "oversold=25,35,exit_above=55"
    start, end = datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 23, 5, tzinfo=UTC)
    # As a deployment's run gets it: JSON, its times without a zone (the flow takes them as UTC).
    parameters = {
        "request": {
            "backtest": {
                "strategy": STRATEGY,
                "symbols": SYMBOLS.split(","),
                "start": "2024-02-01T00:00:00",
                "end": "2024-02-23T05:00:00",
            },
            "grid": grid,
            "train": "10d",
            "test": "5d",
        }
    }
    request = walkforward.validate_parameters(parameters)["request"]
    assert isinstance(request, WalkForwardRequest)
    assert request.backtest.start is not None and request.backtest.start.tzinfo is None

    result, flow_run = _ran(walkforward(request, return_state=True))

    assert result["fold_count"] == len(result["folds"]) == 1
    assert result["status"] == "finished"
    assert result["folds"][0]["train_start"] == "2024-02-01T05:00:00+00:00"  # midnight, New York
    assert walkforward.validate_parameters(flow_run.parameters) == {"request": request}

    command = _command(
        [
            "walkforward", "--strategy", STRATEGY, "--grid", grid, "--symbols", SYMBOLS,
            "--train", "10d", "--test", "5d", "--start", start.isoformat(),
            "--end", end.isoformat(),
        ]
    )  # fmt: skip
    assert _comparable(result) == _comparable(command)
    with engine.connect() as conn:
        rows = conn.execute(text("select kind, count(*) from raw.backtest_runs group by kind"))
        kinds = {str(kind): count for kind, count in rows}
    assert kinds == {"walkforward": 2, "sweep": 2, "backtest": 2}
