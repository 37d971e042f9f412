"""`trading backtest | sweep | walkforward`: research on the live models; none sends an order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.cli_common import console, fail, parse_time, settings, window_end

# The options every research command shares: what to backtest, over which bars, with what cash.
Strategy = Annotated[str, typer.Option(help="A strategy of strategies/specs/")]
SpecFile = Annotated[
    Path | None,
    typer.Option("--spec", help="A spec file anywhere (its `name` names the signal SQL)"),
]
Start = Annotated[str | None, typer.Option(help="First bar (ISO); default the first")]
End = Annotated[str | None, typer.Option(help="End (ISO, exclusive; a date includes its day)")]
Symbols = Annotated[str | None, typer.Option(help="Comma-separated symbols; default its universe")]
Cash = Annotated[float, typer.Option(help="Starting cash of each symbol's book")]
Grid = Annotated[
    str | None,
    typer.Option(help="e.g. 'oversold=20:35:5,exit_above=50,55,60'; default the spec's sweep:"),
]
Objective = Annotated[str, typer.Option(help="sharpe, sortino, calmar, total_return, cagr, …")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object, not a table")]


def _request(
    strategy: str, spec: Path | None, start: str | None, end: str | None, symbols: str | None,
    cash: float, mode: str = "signal",
) -> Any:  # fmt: skip
    from flows.backtest import BacktestRequest

    return BacktestRequest(
        strategy=strategy,
        spec_file=spec,
        start=parse_time(start, "--start") if start else None,
        end=window_end(end) if end else None,
        symbols=tuple(s.strip().upper() for s in (symbols or "").split(",") if s.strip()),
        cash=Decimal(str(cash)),
        mode=mode,
    )


@contextmanager
def _database() -> Iterator[tuple[Any, Any, Any]]:
    """The settings, connection and a migrated engine; a refused argument exits with code 2."""
    from config.database import make_engine, resolve_connection
    from flows.backtest import BacktestInputError
    from ingestion.migrate import migrate

    config = settings()
    connection = resolve_connection(config)
    engine = make_engine(connection)
    try:
        migrate(engine)
        yield config, connection, engine
    except BacktestInputError as error:
        raise fail(str(error)) from error
    finally:
        engine.dispose()


def _percent(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "n/a"


def _number(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "n/a"


def backtest(
    strategy: Strategy = "",
    spec: SpecFile = None,
    start: Start = None,
    end: End = None,
    symbols: Symbols = None,
    cash: Cash = 100_000,
    mode: Annotated[
        str,
        typer.Option(
            help="signal (each symbol its own book) or portfolio (one account, the live risk rules)"
        ),
    ] = "signal",
    as_json: AsJson = False,
) -> None:
    """Backtest a strategy over landed history with its own signal SQL; sends no order."""
    from flows.backtest import run_backtest

    request = _request(strategy, spec, start, end, symbols, cash, mode)
    with _database() as (config, connection, engine):
        result = run_backtest(config, connection, engine, request)
    if as_json:
        typer.echo(json.dumps(result))  # plain: for programs, never wrapped or coloured
        return
    table = Table(title=f"backtest {result['run_id']} ({result['mode']} mode)", show_header=False)
    shown = {
        "strategy": result["strategy"],
        "window": f"{result['start']} → {result['end']}",
        "symbols": ", ".join(result["symbols"]),
        "starting cash": f"{result['initial_cash']:,.2f}",
        "final equity": f"{result['final_equity']:,.2f}",
        "total return": _percent(result["total_return"]),
        "Sharpe": _number(result["sharpe"]),
        "max drawdown": _percent(result["max_drawdown"]),
        "round trips": str(result["trades"]),
        "parameters": json.dumps(result["parameters"]),
    }
    for name, value in shown.items():
        table.add_row(name, value)
    console.print(table)
    console.print(
        "trades: marts.backtest_trades, equity: marts.backtest_equity, metrics: "
        "marts.backtest_performance (where run_id = the run's)"
    )


@contextmanager
def _chunk_progress(quiet: bool) -> Iterator[tuple[Callable[[int], None], Callable[[], None]]]:
    """A progress bar over a sweep's chunks (none with --json)."""
    if quiet:
        yield (lambda chunks: None), (lambda: None)
        return
    with Progress(
        TextColumn("sweeping"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chunks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("sweep", total=None)
        yield (
            lambda chunks: progress.update(task, total=chunks),
            lambda: progress.advance(task),
        )


def _print_sweep(result: dict[str, Any]) -> None:
    title = (
        f"sweep {result['sweep_id']}: {result['strategy']}, {result['trial_count']} trials,"
        f" ranked by {result['objective']}"
    )
    table = Table(title=title)
    for column in (
        "rank",
        "parameters",
        result["objective"],
        "Sharpe",
        "return",
        "max DD",
        "trades",
    ):
        table.add_column(column, justify="left" if column == "parameters" else "right")
    for rank, trial in enumerate(result["top_trials"], start=1):
        table.add_row(
            str(rank),
            json.dumps(trial["parameters"]),
            _number(trial["objective_value"]),
            _number(trial["sharpe_ratio"]),
            _percent(trial["total_return"]),
            _percent(trial["max_drawdown"]),
            str(trial["trade_count"]),
        )
    console.print(table)
    deflated = result["deflated_sharpe_ratio"]
    console.print(
        f"best: trial {result['best_trial']} {json.dumps(result['best_parameters'])};"
        f" deflated Sharpe ratio {_number(deflated)} over {result['trial_count']} trials"
    )
    if result["is_likely_overfit"]:
        console.print(
            "[bold yellow]warning:[/] the deflated Sharpe ratio is below 0.95 (or undefined): the"
            " best trial may be the luckiest of the grid, not a real edge. Validate it out of"
            " sample (trading walkforward)."
        )
    console.print("every trial: marts.backtest_trials (where sweep_id = the sweep's)")


def sweep(
    strategy: Strategy = "",
    spec: SpecFile = None,
    grid: Grid = None,
    objective: Objective = "sharpe",
    start: Start = None,
    end: End = None,
    symbols: Symbols = None,
    cash: Cash = 100_000,
    chunk_size: Annotated[int, typer.Option(help="Trials per dbt build")] = 25,
    workers: Annotated[int, typer.Option(help="Chunks built at the same time")] = 1,
    as_json: AsJson = False,
) -> None:
    """Backtest every point of a parameter grid (signal mode) and rank them; sends no order."""
    from flows.sweep import SweepRequest, run_sweep

    request = SweepRequest(
        _request(strategy, spec, start, end, symbols, cash), grid, objective, chunk_size, workers
    )
    with _database() as (config, connection, engine), _chunk_progress(as_json) as (begin, step):
        result = run_sweep(config, connection, engine, request, begin, step)
    if as_json:
        typer.echo(json.dumps(result))
        return
    _print_sweep(result)


def walkforward(
    strategy: Strategy = "",
    spec: SpecFile = None,
    grid: Grid = None,
    train: Annotated[str, typer.Option(help="Training window in trading days, e.g. 120d")] = "",
    test: Annotated[str, typer.Option(help="Test window in trading days, e.g. 20d")] = "",
    anchored: Annotated[
        bool, typer.Option(help="Every training window starts at the first day")
    ] = False,
    objective: Objective = "sharpe",
    start: Start = None,
    end: End = None,
    symbols: Symbols = None,
    cash: Cash = 100_000,
    as_json: AsJson = False,
) -> None:
    """Pick the best trial on each training window, trade it on the next test window."""
    from flows.walkforward import WalkForwardRequest, run_walkforward

    request = WalkForwardRequest(
        _request(strategy, spec, start, end, symbols, cash), grid, train, test, anchored, objective
    )
    with _database() as (config, connection, engine):
        result = run_walkforward(config, connection, engine, request)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(
        title=f"walk-forward {result['run_id']}: {result['strategy']}, {result['fold_count']} folds"
    )
    for column in (
        "fold",
        "train",
        "test",
        "chosen",
        "IS " + result["objective"],
        "OOS return",
        "OOS Sharpe",
    ):
        table.add_column(column)
    for fold in result["folds"]:
        table.add_row(
            str(fold["fold"]),
            f"{fold['train_start']} → {fold['train_end']}",
            f"{fold['test_start']} → {fold['test_end']}",
            json.dumps(fold["parameters"]),
            _number(fold["in_sample_objective"]),
            _percent(fold["out_of_sample_return"]),
            _number(fold["out_of_sample_sharpe"]),
        )
    console.print(table)
    console.print(
        f"stitched out of sample: return {_percent(result['out_of_sample_return'])},"
        f" Sharpe {_number(result['out_of_sample_sharpe'])}, max drawdown"
        f" {_percent(result['out_of_sample_max_drawdown'])}; walk-forward efficiency"
        f" {_number(result['walk_forward_efficiency'])}"
    )
