"""What the `trading` command says when something fails: the setting to fix, not a traceback.

Bad input (a setting, an argument, a strategy spec, a file) exits 2; an outage (the database,
Redis or Alpaca cannot be reached, or Alpaca answers with an error) exits 1. Secrets are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from alpaca.common.exceptions import APIError
from sqlalchemy.exc import DBAPIError, OperationalError

from config.alpaca_http import AlpacaUnavailableError
from config.env_file import EnvFileError
from config.settings import ConfigurationError, Settings, load_settings, origin, shown
from flows.prefect_server import PrefectServerError
from ingestion.sources import DemoDatabaseError

BAD_INPUT = 2
OUTAGE = 1


@dataclass(frozen=True)
class Failure:
    """One or two lines for people, and the exit code."""

    message: str
    code: int


def _setting(settings: Settings | None, name: str, fallback: str = "") -> str:
    """`VARIABLE='value' (from …)`, masked; the fallback when the setting is unset."""
    value = getattr(settings, name, None) if settings is not None else None
    if not value:
        return fallback or f"{name.upper()} (unset)"
    return f"{name.upper()}={shown(name, value)!r} (from {origin(name)})"


def _current_settings() -> Settings | None:
    try:
        return load_settings()
    except (ConfigurationError, EnvFileError):
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _transport_cause(error: BaseException) -> str:
    """`GET /v2/clock failed after 5 attempts: Connection refused`, not urllib3's whole story."""
    text = _first_line(error)
    reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text) or re.search(r"(\w+ timed out)", text)
    if reason is None:
        return text
    head = text.split(": ")[0] if " failed after " in text else ""
    return f"{head}: {reason.group(1).strip()}" if head else reason.group(1).strip()


def _database(error: BaseException, settings: Settings | None) -> Failure:
    where = _setting(
        settings,
        "database_url",
        fallback=(
            "the embedded PostgreSQL in "
            + _setting(settings, "trading_home", fallback="TRADING_HOME")
            + " (DATABASE_URL is unset)"
        ),
    )
    cause = _first_line(getattr(error, "orig", None) or error)
    return Failure(f"cannot reach the database at {where}: {cause}", OUTAGE)


def _alpaca_setting(settings: Settings | None, url: str | None) -> str:
    if settings is not None and url and url.startswith(settings.data_url):
        return _setting(settings, "alpaca_data_url", fallback=f"Alpaca's data host {url}")
    return _setting(
        settings,
        "alpaca_trading_url",
        fallback=f"Alpaca's {'paper' if not settings or settings.is_paper else 'live'} host",
    )


def _request_url(error: BaseException) -> str | None:
    for candidate in (error, error.__cause__):
        request = getattr(candidate, "request", None)
        if request is not None and getattr(request, "url", None):
            return str(request.url)
    return None


def explain(error: BaseException) -> Failure | None:
    """The failure as people should read it, or None for a defect (shown with its type)."""
    import redis

    if isinstance(error, ConfigurationError | EnvFileError):
        return Failure(str(error), BAD_INPUT)
    settings = _current_settings()
    if isinstance(error, PrefectServerError):
        return Failure(str(error), OUTAGE)
    if isinstance(error, DemoDatabaseError):
        advice = (
            "name an empty database in DATABASE_URL, or unset it for the embedded one"
            if settings is not None and settings.database_url
            else "point TRADING_HOME at an empty directory for a new embedded database"
        )
        return Failure(f"{error}; {advice}", BAD_INPUT)
    if isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return _database(error, settings)
    if _is_psycopg_connection_error(error):
        return _database(error, settings)
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        where = _setting(settings, "redis_url")
        return Failure(f"cannot reach Redis at {where}: {_transport_cause(error)}", OUTAGE)
    if isinstance(error, AlpacaUnavailableError | requests.ConnectionError | requests.Timeout):
        where = _alpaca_setting(settings, _request_url(error))
        return Failure(f"cannot reach Alpaca at {where}: {_transport_cause(error)}", OUTAGE)
    if isinstance(error, APIError):
        status = error.status_code
        where = _alpaca_setting(settings, _request_url(error))
        if status in (401, 403):
            keys = _setting(settings, "alpaca_api_key")
            return Failure(
                f"Alpaca at {where} refused the keys ({keys}, HTTP {status}): {error}", BAD_INPUT
            )
        return Failure(f"Alpaca at {where} answered HTTP {status}: {error}", OUTAGE)
    return None


def _is_psycopg_connection_error(error: BaseException) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError)
