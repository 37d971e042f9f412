"""Reference data each cycle needs: the trading calendar around now, and the broker's assets."""

from __future__ import annotations

from datetime import datetime, timedelta

from alpaca.trading.client import TradingClient
from sqlalchemy import Engine, text

from ingestion.assets import sync_assets
from ingestion.calendar import NEW_YORK, sync_calendar
from ingestion.db import RunRecord

CALENDAR_BEHIND = timedelta(days=7)
CALENDAR_AHEAD = timedelta(days=31)
ASSETS_MAX_AGE = timedelta(hours=20)


def landed_symbols(engine: Engine) -> set[str]:
    """Every symbol in raw.assets (empty until the assets have been synced once)."""
    with engine.connect() as conn:
        return {str(s) for (s,) in conn.execute(text("select symbol from raw.assets"))}


def _assets_synced_at(engine: Engine) -> datetime | None:
    """When the assets were last synced (their run records), or None if never."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "select max(finished_at) from raw.ingestion_runs "
                "where kind = 'assets' and status = 'succeeded'"
            )
        ).scalar()


def sync_reference(client: TradingClient, engine: Engine, now: datetime) -> list[RunRecord]:
    """Land the calendar from a week back to a month ahead, and the assets when stale.

    The asset list is large and changes rarely: it is refetched when it was never synced or its
    last sync is older than ASSETS_MAX_AGE. Returns the runs made.
    """
    today = now.astimezone(NEW_YORK).date()
    runs = [sync_calendar(client, engine, today - CALENDAR_BEHIND, today + CALENDAR_AHEAD)]
    synced = _assets_synced_at(engine)
    if synced is None or now - synced > ASSETS_MAX_AGE:
        runs.append(sync_assets(client, engine))
    return runs
