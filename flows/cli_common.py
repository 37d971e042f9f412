"""What every `trading` command module shares: the consoles, the settings, argument parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from config.settings import Settings, load_settings


def make_console(*, stderr: bool = False) -> Console:
    """A console that sizes its output as it prints: COLUMNS then, else the terminal, else 80."""
    made = Console(stderr=stderr)
    # rich turns the COLUMNS it sees when a Console is built into a fixed width, and these two
    # are built at import. A COLUMNS set afterwards (a CliRunner's env exists only while it
    # invokes) would be ignored for whatever the importing process had: under pytest-xdist, the
    # COLUMNS=80 that the controller's `import readline` exports to its workers. Without a fixed
    # width rich reads COLUMNS, the terminal's size or 80 each time it lays out a line.
    made._width = None
    return made


console = make_console()
err = make_console(stderr=True)


def settings() -> Settings:
    """The settings (environment, then `.env`); a bad value stops here, naming its variable."""
    return load_settings()


def fail(message: str) -> typer.Exit:
    """Print a refused argument's message; the caller raises the returned exit (code 2)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def parse_time(value: str, option: str) -> datetime:
    """An ISO date or timestamp; a date or naive time is taken as UTC (as Alpaca does)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise fail(
            f"{option} {value!r} is not an ISO date or timestamp (e.g. 2024-01-02)"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window_end(value: str, option: str = "--end") -> datetime:
    """A backtest window's end, exclusive: a bare date includes that whole day (New York)."""
    parsed = parse_time(value, option)
    if len(value.strip()) != len("2024-01-02"):
        return parsed
    day = parsed.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("America/New_York"))
