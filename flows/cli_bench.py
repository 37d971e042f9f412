"""`trading bench …`: the benchmarks, each printed as a table (figures go in docs/benchmarks.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from loguru import logger

from config.settings import load_settings
from flows.cli_common import console

bench_app = typer.Typer(help="Benchmarks; results belong in docs/benchmarks.md.")


@bench_app.command("ingest")
def bench_ingest_command(
    symbols: Annotated[int, typer.Option(help="Synthetic symbols")] = 500,
    hours: Annotated[int, typer.Option(help="Hourly bars per symbol")] = 2000,
) -> None:
    """Land symbols × hours bars: our path vs plain COPY vs pandas to_sql, then unchanged."""
    from rich.table import Table

    from config.database import resolve_connection
    from flows.bench import bench_ingest

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    result = bench_ingest(resolve_connection(load_settings()), symbols, hours)
    table = Table(title=f"landing {result.rows:,} bars")
    table.add_column("path")
    table.add_column("rows/s", justify="right")
    table.add_column("vs plain COPY", justify="right")
    for name, rate in (
        ("validate + GX suite + COPY, versioned (first landing)", result.landing),
        ("same rows again (nothing changed)", result.unchanged),
        ("plain COPY into an empty unlogged table", result.plain_copy),
        ("pandas DataFrame.to_sql", result.to_sql),
    ):
        table.add_row(name, f"{rate:,.0f}", f"{rate / result.plain_copy:.0%}")
    console.print(table)
    console.print(
        f"first landing is {result.landing / result.plain_copy:.0%} of plain COPY "
        f"and {result.landing / result.to_sql:.1f}x to_sql; "
        f"unchanged re-landing is {result.unchanged / result.landing:.1f}x the first; "
        f"peak memory of the landing path {result.landing_memory_mb:,.0f} MB "
        f"(whole run, pandas included: {result.peak_memory_mb:,.0f} MB)"
    )


@bench_app.command("dbt")
def bench_dbt_command(
    symbols: Annotated[int, typer.Option(help="Synthetic symbols")] = 500,
    hours: Annotated[int, typer.Option(help="Hourly bars per symbol")] = 3500,
) -> None:
    """Indicator and signal models: full refresh vs polars, hourly update at 1x and 4x history."""
    from rich.table import Table

    from config.database import resolve_connection
    from flows.bench_dbt import bench_dbt

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    result = bench_dbt(resolve_connection(load_settings()), symbols, hours)
    table = Table(title=f"indicators and signals, {symbols} symbols")
    for column in ("measurement", "bars", "wall s", "dbt model s", "indicator models s"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    table.add_row(
        "polars, the same indicators in memory", f"{result.bars:,}", f"{result.polars:.1f}", ""
    )
    for name, bars, timing in (
        ("dbt build --full-refresh", result.bars, result.full_refresh),
        ("hourly update (one new bar per symbol)", result.bars, result.hourly),
        ("hourly update at 4x the history", result.long_bars, result.long_hourly),
    ):
        table.add_row(
            name,
            f"{bars:,}",
            f"{timing.wall:.1f}",
            f"{timing.models:.1f}",
            f"{timing.indicators:.1f}",
        )
    console.print(table)
    console.print(
        f"full refresh of the indicator models is "
        f"{result.full_refresh.indicators / result.polars:.1f}x polars; "
        f"at 4x the history the hourly indicator models cost "
        f"{result.long_hourly.indicators / result.hourly.indicators:.2f}x"
    )


@bench_app.command("execute")
def bench_execute_command(
    orders: Annotated[int, typer.Option(help="Approved orders to submit and confirm")] = 500,
    limit: Annotated[int, typer.Option(help="Requests per minute for the limited run")] = 200,
) -> None:
    """Submit and confirm ORDERS against the simulator, limiter off and at LIMIT per minute."""
    from rich.table import Table

    from config.database import resolve_connection
    from flows.bench_execute import bench_execute

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = load_settings()
    runs = bench_execute(settings, resolve_connection(settings), orders, limit)
    table = Table(title=f"{orders} approved orders submitted and confirmed against the simulator")
    for column in (
        "client rate limit",
        "submit s",
        "confirm s",
        "orders/s",
        "requests",
        "most in any 60 s",
        "limiter wait s",
        "HTTP ms/order",
        "own ms/order",
        "of which not DB",
    ):
        table.add_column(column, justify="left" if column == "client rate limit" else "right")
    for run in runs:
        table.add_row(
            f"{run.limit}/min" if run.limit else "off",
            f"{run.submit_seconds:.1f}",
            f"{run.confirm_seconds:.2f}",
            f"{run.orders_per_second:.1f}",
            f"{run.requests}",
            f"{run.max_per_minute}",
            f"{run.limiter_wait_seconds:.1f}",
            f"{run.http_ms_per_order:.2f}",
            f"{run.own_ms_per_order:.2f}",
            f"{run.python_ms_per_order:.2f}",
        )
    console.print(table)
    console.print(
        "requests and the 60 s window count submit and confirm; HTTP ms/order is the "
        "session's request time while submitting, limiter waits excluded; own ms/order is the "
        "executor's wall time outside HTTP and limiter waits; 'of which not DB' also leaves out "
        "the time database connections were held. The simulator runs in this process."
    )


@bench_app.command("backtest")
def bench_backtest_command(
    symbols: Annotated[int, typer.Option(help="Synthetic symbols")] = 500,
    bars: Annotated[int, typer.Option(help="Hourly session bars per symbol (before gaps)")] = 3500,
    grid_size: Annotated[int, typer.Option(help="Grid points (oversold x exit_above)")] = 100,
    backtrader_symbols: Annotated[
        int, typer.Option(help="Symbols backtrader runs (extrapolated per bar)")
    ] = 10,
    database: Annotated[
        str, typer.Option(help="Scratch database (replaced, dropped afterwards)")
    ] = "trading_bench_backtest",
    chunk_size: Annotated[
        int | None, typer.Option(help="Trials per build of the sweep; default the whole grid")
    ] = None,
    workers: Annotated[int, typer.Option(help="Sweep chunks built at the same time")] = 1,
) -> None:
    """Backtests at scale: one signal run, a grid, vectorbt, backtrader, portfolio mode."""
    from rich.table import Table

    from config.database import resolve_connection
    from flows.bench_backtest import BenchInputError, BenchOptions, bench_backtest, check_options

    options = BenchOptions(
        symbols, bars, grid_size, backtrader_symbols, database, chunk_size, workers
    )
    try:
        check_options(options)
    except BenchInputError as error:
        console.print(f"[bold red]error:[/] {error}")
        raise typer.Exit(code=2) from error
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = load_settings()
    result = bench_backtest(
        settings,
        resolve_connection(settings),
        options,
        progress=lambda line: console.print(f"[dim]{line}[/]"),
    )
    table = Table(
        title=f"{result.symbols} symbols, {result.bars:,} bars, {len(result.grid)} grid points"
    )
    for column in ("step", "wall s", "bar-evaluations", "per second", "peak MB", "notes"):
        table.add_column(column, justify="left" if column in ("step", "notes") else "right")
    for step in result.steps:
        if not step.measured and step.seconds is None:
            table.add_row(
                step.name, "", "", "", "", "; ".join(filter(None, (step.status, step.note)))
            )
            continue
        table.add_row(
            step.name,
            f"{step.seconds:.1f}",
            f"{step.evaluations:,}" if step.evaluations is not None else "",
            f"{step.rate:,.0f}" if step.rate is not None else "",
            f"{step.peak_mb:,.0f}" if step.peak_mb is not None else "",
            step.note,
        )
    console.print(table)
    console.print(
        "bar-evaluations: bars × grid points; per second: over the step's wall time. Peak MB: "
        "this process' resident memory plus the Postgres backends' private memory "
        "(smaps_rollup), sampled every 0.25 s. 'ours: a N×' is (a)'s rate over the row's."
    )
