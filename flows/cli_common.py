"""What every `trading` command module shares: the consoles, the settings, argument parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from config.settings import Settings, load_settings

console = Console()
err = Console(stderr=True)


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
