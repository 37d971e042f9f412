"""`trading sweep`: every point of a parameter grid backtested in one set-based build per chunk.

A sweep is a run of kind `sweep` whose trials are the grid's points (the parameter set is one
more key of the backtest models, not one dbt run per point). A large grid is split into chunks,
each a run under the sweep, built one after another in this process or at the same time in
separate processes (`workers`). Every trial is kept (marts.backtest_trials); the sweep's best
trial and its deflated Sharpe ratio are in marts.backtest_sweeps.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from config.database import Connection
from config.settings import Settings
from flows.backtest import (
    REPO_ROOT,
    BacktestInputError,
    BacktestRequest,
    RunKind,
    build_run,
    build_vars,
    check_request,
    finish,
    plain,
    record_run,
    request_spec,
)
from strategies.grid import GridError, grid_points, parse_grid
from strategies.spec import StrategySpec, load_specs

# What a sweep may rank its trials by: columns of marts.backtest_performance, higher is better.
OBJECTIVES = {
    "sharpe": "sharpe_ratio",
    "sortino": "sortino_ratio",
    "calmar": "calmar_ratio",
    "total_return": "total_return",
    "cagr": "cagr",
    "profit_factor": "profit_factor",
    "expectancy": "expectancy",
    "psr": "probabilistic_sharpe_ratio",
}
# Below this deflated Sharpe ratio the best trial may just be the luckiest of many.
DEFLATED_SHARPE_THRESHOLD = 0.95
SCRATCH_TARGETS = REPO_ROOT / "dbt_project" / "target" / "sweeps"


@dataclass(frozen=True)
class SweepRequest:
    """A grid (the spec's `sweep:` block unless given) over one backtest's window and symbols."""

    backtest: BacktestRequest
    grid: str | None = None
    objective: str = "sharpe"
    chunk_size: int = 25
    workers: int = 1


@dataclass
class SweepPlan:
    """A checked sweep: the spec, symbols, the grid's points and the objective column."""

    spec: StrategySpec
    symbols: list[str]
    points: list[dict[str, float]]
    objective: str
    specs: list[StrategySpec] = field(default_factory=list)


def objective_column(name: str) -> str:
    """The marts.backtest_performance column an objective names; refused if unknown."""
    if name in OBJECTIVES.values():
        return name
    if name not in OBJECTIVES:
        raise BacktestInputError(f"--objective {name!r} must be one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def plan_sweep(engine: Engine, request: SweepRequest) -> SweepPlan:
    """Check everything before anything is recorded: the backtest, the grid, the objective."""
    if request.backtest.mode != "signal":
        raise BacktestInputError("--mode: sweeps run in signal mode (each symbol its own book)")
    if request.chunk_size < 1:
        raise BacktestInputError(f"--chunk-size {request.chunk_size} must be at least 1")
    if request.workers < 1:
        raise BacktestInputError(f"--workers {request.workers} must be at least 1")
    objective = objective_column(request.objective)
    specs = load_specs()
    spec = request_spec(request.backtest, specs)
    try:
        grid = parse_grid(request.grid) if request.grid else dict(spec.sweep or {})
        points = grid_points(spec, grid)
    except GridError as error:
        raise BacktestInputError(str(error)) from None
    spec, symbols = check_request(engine, request.backtest, specs)
    return SweepPlan(spec, symbols, points, objective, specs)


def _chunks(points: list[dict[str, float]], size: int) -> list[list[dict[str, float]]]:
    return [points[i : i + size] for i in range(0, len(points), size)]


def record_sweep(
    engine: Engine,
    request: SweepRequest,
    plan: SweepPlan,
    settings: Settings,
    parent: RunKind | None = None,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Record the sweep (under `parent`'s run and fold when a walk-forward's) and its chunks (the
    sweep itself when it is one chunk); returns the sweep's id and the runs to build."""
    parent_id, fold = (parent.parent_run_id, parent.fold) if parent else (None, None)
    kind = RunKind("sweep", plan.objective, parent_id, fold)
    chunks = _chunks(plan.points, request.chunk_size)
    if len(chunks) == 1:
        run_id = record_run(
            engine, request.backtest, plan.spec, plan.symbols, settings, plan.points, kind
        )
        return run_id, [run_id]
    sweep_id = record_run(engine, request.backtest, plan.spec, plan.symbols, settings, [], kind)
    chunk_ids, first = [], 1
    for chunk in chunks:
        chunk_kind = RunKind("sweep", plan.objective, sweep_id, fold)
        chunk_ids.append(
            record_run(
                engine,
                request.backtest,
                plan.spec,
                plan.symbols,
                settings,
                chunk,
                chunk_kind,
                first_trial=first,
            )
        )
        first += len(chunk)
    return sweep_id, chunk_ids


def build_elsewhere(run_id: uuid.UUID, worker: int) -> None:
    """Build one recorded run in a separate process (its own dbt target directory)."""
    target = scratch_target(worker)
    completed = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "flows.build_run", str(run_id), "--target-path", str(target)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        raise RuntimeError(f"chunk {run_id}: {lines[-1] if lines else 'failed'}")


def build_chunks(
    connection: Connection,
    engine: Engine,
    run_ids: list[uuid.UUID],
    specs: list[StrategySpec],
    workers: int,
    on_chunk: Callable[[], None] = lambda: None,
    upstream_built: bool = False,
) -> None:
    """Build every chunk: the first here (it also brings the indicators up to date), the rest
    here one by one, or `workers` at a time in separate processes."""
    first, rest = run_ids[0], run_ids[1:]
    build_run(connection, engine, first, specs, upstream_built)
    on_chunk()
    if workers == 1:
        for run_id in rest:
            build_run(connection, engine, run_id, specs, upstream_built=True)
            on_chunk()
        return
    # Each build in flight holds one dbt target directory of its own.
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def build_in_a_slot(run_id: uuid.UUID) -> None:
        slot = slots.get()
        try:
            build_elsewhere(run_id, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in as_completed([pool.submit(build_in_a_slot, run_id) for run_id in rest]):
            future.result()
            on_chunk()


# How run_sweep builds a sweep's recorded chunk runs: build_chunks' signature (connection,
# engine, run ids, specs, workers, on_chunk, upstream_built); the Prefect sweep flow passes one
# that builds each chunk as a task of its own.
ChunkBuilder = Callable[
    [Connection, Engine, list[uuid.UUID], list[StrategySpec], int, Callable[[], None], bool], None
]


def run_sweep(
    settings: Settings,
    connection: Connection,
    engine: Engine,
    request: SweepRequest,
    on_start: Callable[[int], None] = lambda chunks: None,
    on_chunk: Callable[[], None] = lambda: None,
    parent: RunKind | None = None,
    upstream_built: bool = False,
    build: ChunkBuilder = build_chunks,
) -> dict[str, Any]:
    """Check, record and build the sweep (its chunks by `build`); return its summary
    (marts.backtest_sweeps)."""
    plan = plan_sweep(engine, request)
    sweep_id, run_ids = record_sweep(engine, request, plan, settings, parent)
    on_start(len(run_ids))
    try:
        build(
            connection,
            engine,
            run_ids,
            build_vars(plan.specs, plan.spec),
            request.workers,
            on_chunk,
            upstream_built,
        )
    except BaseException as error:
        for run_id in {sweep_id, *run_ids}:
            finish(engine, run_id, f"{type(error).__name__}: {error}")
        raise
    if sweep_id not in run_ids:
        finish(engine, sweep_id, None)
    return sweep_summary(engine, sweep_id)


def sweep_summary(engine: Engine, sweep_id: uuid.UUID, top: int = 10) -> dict[str, Any]:
    """The sweep's best trial, its deflated Sharpe ratio, and the top trials by the objective."""
    with engine.connect() as conn:
        sweep = (
            conn.execute(
                text("select * from marts.backtest_sweeps where sweep_id = :id"), {"id": sweep_id}
            )
            .mappings()
            .one()
        )
        trials = (
            conn.execute(
                text(
                    "select trial, parameters, objective_value, sharpe_ratio, total_return,"
                    " max_drawdown, trade_count from marts.backtest_trials"
                    " where sweep_id = :id order by objective_rank limit :top"
                ),
                {"id": sweep_id, "top": top},
            )
            .mappings()
            .all()
        )
    summary = {key: plain(value) for key, value in sweep.items()}
    summary["top_trials"] = [{key: plain(value) for key, value in t.items()} for t in trials]
    return summary


def scratch_target(worker: int) -> Path:
    """The dbt target directory of a chunk built in another process (under DBT_TARGET_PATH when
    set: test workers each have their own)."""
    base = os.environ.get("DBT_TARGET_PATH")
    return (Path(base) / "sweeps" if base else SCRATCH_TARGETS) / f"worker-{worker}"
