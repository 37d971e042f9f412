"""Land the broker's FILL activities in raw.fills, keyed by activity id, paged to the end.

Each sync re-reads an overlap window before the newest fill held and lets the primary key drop
the ones already landed: activity ids sort by a random uuid within one millisecond, and a fill
can appear at the broker after a later one was read, so "after the largest id held" misses fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from alpaca.trading.client import TradingClient
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Connection, Engine, text

from config.alpaca import ALPACA, source_of
from ingestion.db import RunRecord
from ingestion.records import (
    check_records,
    fetch_records,
    payload_json,
    quarantine_records,
    record_key,
    record_sync,
)

PAGE_SIZE = 100
# How far before the newest fill held each sync reads again. Anything above a millisecond covers
# fills stamped in the same millisecond; the rest is room for a fill the broker posts late. The
# overlap costs no extra request while it holds fewer than PAGE_SIZE fills.
OVERLAP = timedelta(hours=1)


class FillActivity(BaseModel):
    """One execution as `/v2/account/activities/FILL` returns it (numbers arrive as strings)."""

    id: str
    activity_type: Literal["FILL"]
    transaction_time: AwareDatetime
    type: str
    price: Decimal
    qty: Decimal
    side: Literal["buy", "sell", "sell_short"]
    symbol: str
    order_id: str
    cum_qty: Decimal | None = None
    leaves_qty: Decimal | None = None
    order_status: str | None = None


INSERT_FILL = text(
    "insert into raw.fills (id, order_id, symbol, side, qty, price, transaction_time, fill_type, "
    "cum_qty, leaves_qty, order_status, payload, source) values (:id, :order_id, :symbol, "
    ":side, :qty, :price, :transaction_time, :type, :cum_qty, :leaves_qty, :order_status, "
    "cast(:payload as jsonb), :source) on conflict (id) do nothing"
)


def _sync_start(engine: Engine) -> datetime | None:
    """Where the next sync reads from: OVERLAP before the newest fill held (None: the start)."""
    with engine.connect() as conn:
        newest = conn.execute(text("select max(transaction_time) from raw.fills")).scalar()
    return None if newest is None else newest - OVERLAP


def land_fills(conn: Connection, records: Sequence[Any], source: str = ALPACA) -> tuple[int, int]:
    """Insert decoded FILL activities, quarantining malformed ones.

    Returns (fills new, records quarantined); a fill already held is not inserted again.
    `source` says who sent them (`config.alpaca.source_of`).
    """
    checked = check_records(FillActivity, records, key_field="id")
    quarantined = quarantine_records(conn, "fill", source, checked.rejected)
    if not checked.valid:
        return 0, quarantined
    result = conn.execute(
        INSERT_FILL,
        [
            {**fill.model_dump(), "payload": payload_json(raw), "source": source}
            for fill, raw in checked.valid
        ],
    )
    return result.rowcount, quarantined


def _next_page_token(page: Sequence[Any]) -> str | None:
    """The id of the page's last activity that has one (a malformed last record may not)."""
    for record in reversed(page):
        key = record_key(record, "id")
        if key is not None:
            return key
    return None


def sync_fills(client: TradingClient, engine: Engine) -> int:
    """Fetch every fill from OVERLAP before the newest one we hold; returns how many were new."""
    start = _sync_start(engine)
    after = None if start is None else start.astimezone(UTC).isoformat()
    page_token: str | None = None
    new = 0
    while True:
        params: dict[str, Any] = {"direction": "asc", "page_size": PAGE_SIZE}
        if after:
            params["after"] = after
        if page_token:
            params["page_token"] = page_token
        page = fetch_records(client, "/account/activities/FILL", params)
        if page:
            source = source_of(client)  # known now that the broker has answered
            run = RunRecord("fills", source, {"after": after, "page_token": page_token})
            with engine.begin() as conn:
                landed, quarantined = land_fills(conn, page, source)
                record_sync(conn, run, len(page), landed, quarantined)
            new += landed
        if len(page) < PAGE_SIZE:
            return new
        page_token = _next_page_token(page)
        if page_token is None:
            return new
