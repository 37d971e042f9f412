"""Backtests, sweeps and walk-forwards as Prefect flows, so a worker can run them.

Each flow resolves its own settings and database from the environment (`load_settings()`, as a
worker's run of the hourly cycle does) and calls what `trading backtest | sweep | walkforward`
call, so a flow's result is the command's `--json` object. Its one parameter is the command's
request (a dataclass Prefect stores as JSON and validates back). A sweep's chunks are tasks: the
first builds in the flow's process (it also brings the indicators up to date), the others
`workers` at a time, each in a process of its own (dbt cannot build twice at once in one
process), one by one in the flow's process with one worker.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy import Engine

from config.database import Connection, make_engine, resolve_connection
from config.settings import Settings, load_settings
from flows.backtest import BacktestRequest, build_run, run_backtest
from flows.sweep import SweepRequest, build_elsewhere, run_sweep
from flows.walkforward import WalkForwardRequest, run_walkforward
from ingestion.migrate import migrate
from strategies.spec import StrategySpec


@contextmanager
def research_database() -> Iterator[tuple[Settings, Connection, Engine]]:
    """The settings, the database connection (for dbt) and a migrated engine, resolved once
    from the environment; the engine is closed afterwards."""
    settings = load_settings()
    connection = resolve_connection(settings)
    engine = make_engine(connection)
    try:
        migrate(engine)
        yield settings, connection, engine
    finally:
        engine.dispose()


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def in_utc(request: BacktestRequest) -> BacktestRequest:
    """The request with a naive start or end taken as UTC, as the commands take them (a
    deployment's parameters are JSON: `"2024-01-02T00:00"` arrives without a zone)."""
    return replace(request, start=_utc(request.start), end=_utc(request.end))


@flow(name="backtest", log_prints=False)
def backtest(request: BacktestRequest) -> dict[str, Any]:
    """`trading backtest` as a flow: one recorded run over landed history; its summary."""
    with research_database() as (settings, connection, engine):
        result = run_backtest(settings, connection, engine, in_utc(request))
    get_run_logger().info(
        "backtest %s: total return %s, %s round trips",
        result["run_id"],
        result["total_return"],
        result["trades"],
    )
    return result


class ChunkBuild:
    """What every chunk of one sweep is built with: the connection, engine and specs.

    Slots only, as `flows.pipeline.Cycle`: a task's parameters are walked by Prefect, and this
    keeps the connection (password included) an opaque value.
    """

    __slots__ = ("connection", "engine", "specs")

    def __init__(self, connection: Connection, engine: Engine, specs: list[StrategySpec]) -> None:
        self.connection = connection
        self.engine = engine
        self.specs = specs


class TargetSlots:
    """The dbt target directories of the chunks building at the same time, one per chunk in
    flight: a chunk takes a free one, so no two processes ever share one."""

    def __init__(self, count: int) -> None:
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(count):
            self._free.put(slot)

    @contextmanager
    def taken(self) -> Iterator[int]:
        """A free slot for the `with` block's build (waits for one)."""
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)


@task(cache_policy=NO_CACHE, task_run_name="chunk {run_id}")
def build_chunk(build: ChunkBuild, run_id: uuid.UUID, upstream_built: bool) -> None:
    """Build one chunk run of a sweep in the flow's process."""
    build_run(build.connection, build.engine, run_id, build.specs, upstream_built)


@task(cache_policy=NO_CACHE, task_run_name="chunk {run_id}")
def build_chunk_elsewhere(run_id: uuid.UUID, slots: TargetSlots) -> None:
    """Build one chunk run of a sweep in a process of its own (`python -m flows.build_run`)."""
    with slots.taken() as slot:
        build_elsewhere(run_id, slot)


def build_chunk_tasks(
    connection: Connection,
    engine: Engine,
    run_ids: list[uuid.UUID],
    specs: list[StrategySpec],
    workers: int,
    on_chunk: Callable[[], None],
    upstream_built: bool,
) -> None:
    """A `flows.sweep.ChunkBuilder` that makes each chunk a task run: the first here (it also
    brings the indicators up to date), the rest here one by one with one worker, else
    `workers` at a time in processes of their own."""
    build = ChunkBuild(connection, engine, specs)
    first, rest = run_ids[0], run_ids[1:]
    build_chunk(build, first, upstream_built)
    on_chunk()
    if workers == 1:
        for run_id in rest:
            build_chunk(build, run_id, upstream_built=True)
            on_chunk()
        return
    slots = TargetSlots(workers)
    # A runner of its own, not the flow's: how many chunks run at once is the request's
    # `workers`, known only when the flow runs.
    runner: ThreadPoolTaskRunner[None] = ThreadPoolTaskRunner(max_workers=workers)
    with runner:
        futures: list[PrefectFuture[None]] = [
            runner.submit(build_chunk_elsewhere, {"run_id": run_id, "slots": slots})
            for run_id in rest
        ]
        for future in as_completed(futures):
            future.result()
            on_chunk()


@flow(name="sweep", log_prints=False)
def sweep(request: SweepRequest) -> dict[str, Any]:
    """`trading sweep` as a flow, each chunk of the grid a task run; the sweep's summary."""
    run_logger = get_run_logger()
    built = 0
    total = 0

    def started(chunks: int) -> None:
        nonlocal total
        total = chunks
        run_logger.info("sweep: %d chunks to build", chunks)

    def chunk_done() -> None:
        nonlocal built
        built += 1
        run_logger.info("sweep: %d/%d chunks built", built, total)

    with research_database() as (settings, connection, engine):
        result = run_sweep(
            settings,
            connection,
            engine,
            replace(request, backtest=in_utc(request.backtest)),
            on_start=started,
            on_chunk=chunk_done,
            build=build_chunk_tasks,
        )
    run_logger.info(
        "sweep %s: best trial %s %s, deflated Sharpe ratio %s",
        result["sweep_id"],
        result["best_trial"],
        result["best_parameters"],
        result["deflated_sharpe_ratio"],
    )
    return result


@flow(name="walkforward", log_prints=False)
def walkforward(request: WalkForwardRequest) -> dict[str, Any]:
    """`trading walkforward` as a flow; the stitched out-of-sample result and its folds."""
    with research_database() as (settings, connection, engine):
        result = run_walkforward(
            settings, connection, engine, replace(request, backtest=in_utc(request.backtest))
        )
    get_run_logger().info(
        "walk-forward %s: %s folds, walk-forward efficiency %s",
        result["run_id"],
        result["fold_count"],
        result["walk_forward_efficiency"],
    )
    return result
