"""The `trading` console script: the one entry point for people at the keyboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger
from typer.core import TyperGroup
from typer.exceptions import TyperException

from config.settings import Settings
from flows.cli_bench import bench_app
from flows.cli_common import console, err
from flows.cli_common import fail as _fail
from flows.cli_common import parse_time as _parse_time
from flows.cli_common import settings as _settings
from flows.cli_research import backtest, sweep, walkforward

_debug = False


class FriendlyGroup(TyperGroup):
    """Every command's failure as one or two lines naming what to fix (`--debug`: traceback).

    Exit 2 for bad input (a setting, an argument, a spec, a file), 1 for an outage.
    """

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as error:
            if _debug:
                raise
            from flows.errors import explain

            failure = explain(error)
            if failure is None:
                err.print(f"[bold red]error:[/] {type(error).__name__}: {error}")
                err.print("run again with --debug for the traceback")
                raise typer.Exit(code=1) from None
            err.print(f"[bold red]error:[/] {failure.message}")
            raise typer.Exit(code=failure.code) from None


app = typer.Typer(
    cls=FriendlyGroup,
    help="A SQL-first trading pipeline for US equities through Alpaca.",
    no_args_is_help=True,
)


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="Log level: DEBUG, INFO, WARNING, ERROR")] = "INFO",
    debug: Annotated[bool, typer.Option(help="Show the traceback of a failure")] = False,
) -> None:
    """Set up logging for every command."""
    global _debug
    _debug = debug
    logger.remove()
    logger.add(sys.stderr, level=log_level.upper())
    if not debug:
        _quiet_prefect_tracebacks()


def _quiet_prefect_tracebacks() -> None:
    """Prefect logs a failed flow's traceback; the command's own one-line error says it better."""
    import logging

    class NoTraceback(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.exc_info = None
            record.exc_text = None
            return True

    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(NoTraceback())


def _prefect_env(quiet: bool = False) -> None:
    """Prefect in local ephemeral mode: no telemetry, time to start on a busy machine."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from config.database import make_engine, resolve_connection
    from ingestion.migrate import migrate

    engine = make_engine(resolve_connection(settings))
    migrate(engine)
    return engine


@app.command("config")
def config_command() -> None:
    """Print the resolved settings, where each came from, and the database and Alpaca host the
    next command would use (secrets masked; nothing is contacted)."""
    from rich.table import Table

    from config.env_file import ENV_FILE_VARIABLE, env_file_path
    from config.settings import describe_targets, setting_rows

    settings = _settings()
    path = env_file_path()
    table = Table(title="settings: environment first, then the .env file, then defaults")
    for column in ("variable", "value", "from"):
        table.add_column(column, overflow="fold")
    for variable, value, origin in setting_rows(settings):
        table.add_row(variable, value, origin)
    console.print(table)
    console.print(
        f".env file: {path}"
        if path
        else f".env file: none (no .env in {Path.cwd()}, {ENV_FILE_VARIABLE} unset)"
    )
    for line in describe_targets(settings):
        console.print(line)


@app.command()
def init() -> None:
    """Create the schemas and raw tables (versioned migrations; safe to repeat)."""
    from config.database import resolve_connection

    settings = _settings()
    _engine(settings)
    conn = resolve_connection(settings)
    console.print(f"raw schema is up to date on database [bold]{conn.dbname}[/] at {conn.host}")


@app.command()
def backfill(
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols, e.g. AAPL,MSFT")],
    start: Annotated[str, typer.Option(help="First day or time (ISO; UTC when naive)")],
    end: Annotated[str | None, typer.Option(help="Last day or time (ISO); default now")] = None,
    timeframe: Annotated[str, typer.Option(help="Alpaca timeframe, e.g. 1Hour, 1Day")] = "1Hour",
) -> None:
    """Land Alpaca bars for SYMBOLS from START to END in raw.bars (idempotent, versioned)."""
    from config.alpaca import data_client, trading_client
    from flows.ingest import bars_progress, landing_options, summary_table
    from ingestion.bars import UnknownSymbolError
    from ingestion.bars import backfill as run_backfill
    from ingestion.timeframes import parse_timeframe

    settings = _settings()
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if not names:
        raise _fail(f"--symbols {symbols!r} names no symbol")
    begin, until = _parse_time(start, "--start"), _parse_time(end, "--end") if end else None
    now = datetime.now(UTC)
    if begin > now:
        raise _fail(f"--start {start!r} is in the future (now {now:%Y-%m-%d %H:%M} UTC)")
    if until is not None and until < begin:
        raise _fail(f"--end {end!r} is before --start {start!r}")
    options = landing_options(settings)
    try:
        tf = parse_timeframe(timeframe)
        data, trading = data_client(settings), trading_client(settings)
        engine = _engine(settings)
        with bars_progress(console, options, len(names)):
            runs = run_backfill(
                data, trading, engine, names, tf, begin, until, settings.alpaca_feed, options
            )
    except (UnknownSymbolError, ValueError) as error:
        raise _fail(str(error)) from error
    console.print(summary_table(f"{tf.name} bars", runs))


@app.command("import-bars")
def import_bars_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars")],
    timeframe: Annotated[str, typer.Option(help="The file's bar size, e.g. 1Day")],
    symbol: Annotated[
        str | None, typer.Option(help="Symbol, when the file has no symbol column")
    ] = None,
) -> None:
    """Load your own bar history (date or timestamp, open, high, low, close, volume[, symbol])."""
    from ingestion.files import BarsFileError, import_bars
    from ingestion.timeframes import parse_timeframe

    try:
        tf = parse_timeframe(timeframe)
        run = import_bars(_engine(_settings()), file, tf, symbol)
    except (BarsFileError, ValueError) as error:
        raise _fail(str(error)) from error
    console.print(
        f"{file}: {run.fetched} rows: {run.landed} landed, {run.corrected} corrected, "
        f"{run.unchanged} unchanged, {run.quarantined} quarantined"
    )


DBT_COMMANDS_WITH_VARS = {"build", "run", "test", "compile", "docs", "list", "ls", "parse", "show"}


@app.command(
    "dbt",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def dbt_command(ctx: typer.Context) -> None:
    """Run dbt (e.g. `trading dbt build`) on the current database, embedded or not."""
    from config.database import resolve_connection
    from flows.dbt import run_dbt
    from strategies.spec import dbt_vars, load_specs

    settings = _settings()
    _engine(settings)
    args = list(ctx.args)
    if args and args[0] in DBT_COMMANDS_WITH_VARS and "--vars" not in args:
        # marts.signals unions the strategies of strategies/specs/, not only the shipped ones.
        args += ["--vars", json.dumps(dbt_vars(load_specs()))]
    result = run_dbt(args, resolve_connection(settings))
    raise typer.Exit(code=0 if result.success else 1)


@app.command()
def run(
    force: Annotated[bool, typer.Option(help="Run even while the market is closed")] = False,
) -> None:
    """Run one hourly cycle now: load → dbt build → execute → sync."""
    _prefect_env()
    from flows.prefect_server import prefect_api
    from strategies.spec import load_specs

    settings = _settings()
    try:
        load_specs()  # a bad spec stops here, before anything starts
    except ValueError as error:
        raise _fail(str(error)) from error
    # The local Prefect server (gone with this command, even after kill -9) starts now and
    # loads while the cycle's modules do.
    with prefect_api():
        from flows.pipeline import hourly_cycle, open_cycle

        with open_cycle(settings) as cycle:
            summary = hourly_cycle(force=force, cycle=cycle)
    console.print(summary)


@app.command()
def execute() -> None:
    """Submit the current marts.approved_orders now: the cycle's execute step alone.

    Sends nothing while trading is halted. Safe to rerun after a crash: each order reaches the
    broker once; exit code 1 while an outcome is still unknown.
    """
    from config.alpaca import trading_client, trading_target
    from execution.execute import execute_approved

    settings = _settings()
    client = trading_client(settings)
    engine = _engine(settings)
    console.print(trading_target(settings, client))
    result = execute_approved(client, engine, settings.trading_mode)
    orders, summary = result.orders, result.summary
    if summary is None:
        reason = result.halted.reason if result.halted else ""
        console.print(f"HALTED ({reason}): {len(orders)} approved orders not sent")
        return
    console.print(
        f"{len(orders)} approved: {len(summary.submitted)} submitted, "
        f"{len(summary.rejected)} rejected, {len(summary.already_done)} already done, "
        f"{len(summary.unknown)} unknown, {len(summary.abandoned)} abandoned"
    )
    raise typer.Exit(code=1 if summary.unknown else 0)


@app.command()
def serve() -> None:
    """Serve the hourly cycle on its schedule (minute 5, Mon–Fri, New York time)."""
    _prefect_env()
    from flows.serve import serve_hourly

    _engine(_settings())
    serve_hourly()


@app.command()
def halt(
    reason: Annotated[str, typer.Option(help="Why trading stops; recorded with the time")],
    cancel_orders: Annotated[
        bool, typer.Option(help="Also cancel every open order at the broker")
    ] = False,
    close_positions: Annotated[
        bool, typer.Option(help="Also close every position (works after hours too)")
    ] = False,
) -> None:
    """Stop trading now: the executor sends nothing until `trading resume`."""
    from config.alpaca import trading_client
    from execution.kill_switch import halt as halt_trading

    settings = _settings()
    client = trading_client(settings) if cancel_orders or close_positions else None
    try:
        # The broker first, the database (engine, migrations, record) after: see kill_switch.
        done = halt_trading(
            lambda: _engine(settings), client, reason, cancel_orders, close_positions
        )
    except ValueError as error:
        raise _fail(str(error)) from error
    if client is not None:
        console.print(
            f"asked the broker to cancel {done.cancelled} orders and close {done.closed} positions"
        )
    for failure in done.broker_failures:
        err.print(f"[bold red]broker:[/] {failure}")
    if done.recorded_at is not None:
        console.print(
            f"HALTED at {done.recorded_at.isoformat(timespec='seconds')}: {reason.strip()}"
        )
    else:
        where = "DATABASE_URL" if settings.database_url else "the embedded database"
        err.print(
            f"[bold red]halt NOT recorded[/] in {where}: {done.record_error}. The executor"
            " will not see this halt: run `trading halt` again once the database answers, and"
            " stop `trading serve` until then."
        )
    if not done.complete:
        raise typer.Exit(code=1)


@app.command()
def resume(
    reason: Annotated[str, typer.Option(help="Why trading may go on; recorded with the time")],
) -> None:
    """Lift a manual halt; the derived states (data quality, drawdown, daily loss) still apply."""
    from execution.kill_switch import current_halt
    from execution.kill_switch import resume as resume_trading

    engine = _engine(_settings())
    try:
        at = resume_trading(engine, reason)
    except ValueError as error:
        raise _fail(str(error)) from error
    console.print(f"resumed at {at.isoformat(timespec='seconds')}: {reason.strip()}")
    still = current_halt(engine)
    if still is not None:
        # marts.trading_state is the last build's, made before this resume.
        console.print(
            f"[bold yellow]the last build said HALTED[/]: {still.reason}. The next build applies"
            " this resume: it acknowledges the reconciliation mismatches landed before it; other"
            " reasons (a failed bars load, a new mismatch) hold until they clear."
        )


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8765,
    start: Annotated[
        str | None, typer.Option(help="Simulated start time (ISO); default now")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second; 0 freezes")
    ] = 1.0,
    state: Annotated[Path | None, typer.Option(help="JSON file keeping the broker's state")] = None,
) -> None:
    """Serve the Alpaca-compatible simulator (market data and paper broker)."""
    from simulator.server import serve as serve_simulator

    begin = _parse_time(start, "--start") if start else datetime.now(UTC)
    serve_simulator(port=port, start=begin, speed=speed, state_path=state)


@app.command()
def dashboard(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8501) -> None:
    """Start the Streamlit dashboard on the current database."""
    from config.database import resolve_connection
    from dashboard.launch import streamlit_command

    settings = _settings()
    connection = resolve_connection(settings)
    # The resolved URL (an embedded server's socket included), options and all: the dashboard
    # reads the same database as this command, whatever its working directory holds.
    env = {**os.environ, "DATABASE_URL": connection.url}
    console.print(f"dashboard on http://127.0.0.1:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(streamlit_command(port), env=env))  # noqa: S603


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="Trading days to run hour by hour")] = 5,
    history_days: Annotated[int, typer.Option(help="Trading days of hourly history")] = 60,
) -> None:
    """Run the whole pipeline offline on the simulator and print a summary."""
    _prefect_env(quiet=True)
    from flows.prefect_server import prefect_api

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = _settings()
    with prefect_api():  # starts while the demo backfills
        from flows.demo import run_demo

        run_demo(settings, days=days, history_days=history_days, console=console)


ingest_app = typer.Typer(help="Ingestion: what has landed, and what is held in quarantine.")
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("status")
def ingest_status() -> None:
    """Watermarks, the last ten runs, quarantine by reason, failed expectations of the week."""
    from flows.ingest import status_tables

    for table in status_tables(_engine(_settings()), datetime.now(UTC)):
        console.print(table)


@ingest_app.command("reference")
def ingest_reference() -> None:
    """Land the trading calendar (a week back to a month ahead) and, when stale, the assets."""
    from config.alpaca import trading_client
    from flows.ingest import summary_table
    from ingestion.reference import sync_reference

    settings = _settings()
    runs = sync_reference(trading_client(settings), _engine(settings), datetime.now(UTC))
    console.print(summary_table("reference data", runs))


app.command()(backtest)
app.command()(sweep)
app.command()(walkforward)
app.add_typer(bench_app, name="bench")


def main() -> None:
    """Entry point for `python -m flows.cli`."""
    app()


if __name__ == "__main__":
    main()
