"""Land the trading calendar (GET /v2/calendar) in raw.calendar, one row per session date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetCalendarRequest
from loguru import logger
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import Connection, Engine, text

from config.alpaca import ALPACA, source_of
from ingestion.db import RunRecord
from ingestion.records import (
    check_records,
    fetch_records,
    payload_json,
    quarantine_records,
    record_sync,
)

NEW_YORK = ZoneInfo("America/New_York")

UPSERT_SESSION = text(
    "insert into raw.calendar (session_date, open_at, close_at, payload, source) "
    "values (:session_date, :open_at, :close_at, cast(:payload as jsonb), :source) "
    "on conflict (session_date) do update set open_at = excluded.open_at, "
    "close_at = excluded.close_at, payload = excluded.payload, source = excluded.source, "
    "updated_at = now() "
    "where (raw.calendar.open_at, raw.calendar.close_at, raw.calendar.payload, "
    "raw.calendar.source) is distinct from "
    "(excluded.open_at, excluded.close_at, excluded.payload, excluded.source)"
)


class CalendarDay(BaseModel):
    """One session as GET /v2/calendar returns it: a New York date with `HH:MM` open and close."""

    session_date: date = Field(alias="date")
    open: time
    close: time

    @field_validator("close")
    @classmethod
    def _close_after_open(cls, close: time, info: ValidationInfo) -> time:
        opens = info.data.get("open")
        if opens is not None and close <= opens:
            raise ValueError(f"must be after open {opens:%H:%M}")
        return close

    @property
    def open_at(self) -> datetime:
        """The session open as an aware New York datetime."""
        return datetime.combine(self.session_date, self.open, NEW_YORK)

    @property
    def close_at(self) -> datetime:
        """The session close (13:00 on an early close) as an aware New York datetime."""
        return datetime.combine(self.session_date, self.close, NEW_YORK)


def land_calendar(
    conn: Connection, records: Sequence[Any], source: str = ALPACA
) -> tuple[int, int]:
    """Upsert decoded calendar records, quarantining malformed ones.

    Returns (rows new or changed, records quarantined). `source` says who sent them
    (`config.alpaca.source_of`).
    """
    checked = check_records(CalendarDay, records, key_field="date")
    quarantined = quarantine_records(conn, "calendar", source, checked.rejected)
    if not checked.valid:
        return 0, quarantined
    result = conn.execute(
        UPSERT_SESSION,
        [
            {
                "session_date": day.session_date,
                "open_at": day.open_at,
                "close_at": day.close_at,
                "payload": payload_json(raw),
                "source": source,
            }
            for day, raw in checked.valid
        ],
    )
    return result.rowcount, quarantined


def sync_calendar(client: TradingClient, engine: Engine, start: date, end: date) -> RunRecord:
    """Land the sessions dated `start` to `end` (inclusive), with a run record.

    The raw JSON is fetched (not alpaca-py's Calendar models) so that the payload is the original
    record and one malformed day is quarantined instead of failing the whole range.
    """
    params = GetCalendarRequest(start=start, end=end).to_request_fields()
    run = RunRecord("calendar", ALPACA, {"start": start, "end": end})
    records = fetch_records(client, "/calendar", params)
    run.source = source_of(client)  # known now that the broker has answered
    with engine.begin() as conn:
        changed, quarantined = land_calendar(conn, records, run.source)
        record_sync(conn, run, len(records), changed, quarantined)
    logger.bind(start=start.isoformat(), end=end.isoformat(), fetched=len(records)).info(
        "calendar landed: {} new or changed", changed
    )
    return run
