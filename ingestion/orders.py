"""Land the broker's view of our orders in raw.orders (one row per order, latest state)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest
from pydantic import AwareDatetime, BaseModel, Field
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

PAGE_LIMIT = 500
TERMINAL = ("filled", "canceled", "expired", "rejected", "replaced", "done_for_day")

UPSERT_ORDER = text(
    "insert into raw.orders (id, client_order_id, symbol, side, order_type, time_in_force, qty, "
    "notional, filled_qty, filled_avg_price, limit_price, stop_price, order_class, "
    "parent_order_id, status, created_at, submitted_at, updated_at, filled_at, canceled_at, "
    "expired_at, payload, source, synced_at) values (:id, :client_order_id, :symbol, :side, "
    ":order_type, :time_in_force, :qty, "
    ":notional, :filled_qty, :filled_avg_price, :limit_price, :stop_price, :order_class, "
    ":parent_order_id, :status, :created_at, :submitted_at, :updated_at, :filled_at, "
    ":canceled_at, :expired_at, cast(:payload as jsonb), :source, now()) "
    "on conflict (id) do update set status = excluded.status, filled_qty = excluded.filled_qty, "
    "filled_avg_price = excluded.filled_avg_price, updated_at = excluded.updated_at, "
    "filled_at = excluded.filled_at, canceled_at = excluded.canceled_at, "
    "expired_at = excluded.expired_at, payload = excluded.payload, source = excluded.source, "
    "synced_at = now()"
)


class OrderRecord(BaseModel):
    """One order as GET /v2/orders returns it (numbers arrive as strings)."""

    id: str = Field(min_length=1)
    client_order_id: str
    symbol: str = Field(min_length=1)
    side: Literal["buy", "sell"]
    order_type: str = Field(min_length=1)
    time_in_force: Literal["day", "gtc", "opg", "cls", "ioc", "fok"]
    qty: Decimal | None = None
    notional: Decimal | None = None
    filled_qty: Decimal | None = None
    filled_avg_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    order_class: str | None = None
    parent_order_id: str | None = None
    """Set on the exit legs of a bracket, oco or oto group: the entry's id (not an API field;
    `with_legs` adds it when it lifts the legs out of their parent's `legs`)."""
    status: str = Field(min_length=1)
    created_at: AwareDatetime
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    filled_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    expired_at: AwareDatetime | None = None


def with_legs(records: Sequence[Any]) -> list[Any]:
    """The orders of a nested listing with each group's exit legs lifted out after their entry,
    each naming it as parent_order_id (their client_order_ids are the broker's, not ours)."""
    flat: list[Any] = []
    for record in records:
        flat.append(record)
        if isinstance(record, dict):
            for leg in record.get("legs") or []:
                if isinstance(leg, dict):
                    flat.append({**leg, "parent_order_id": record.get("id")})
    return flat


def order_row(order: OrderRecord, payload: Any, source: str) -> dict[str, object]:
    """The raw.orders columns of one validated order and its original record."""
    return {
        **order.model_dump(),
        "filled_qty": order.filled_qty or 0,
        "payload": payload_json(payload),
        "source": source,
    }


def land_orders(
    conn: Connection, records: Sequence[Any], source: str = ALPACA
) -> list[OrderRecord]:
    """Upsert decoded orders (legs already lifted out by `with_legs`), quarantining malformed
    ones; returns the orders landed. `source` says who sent them (`config.alpaca.source_of`)."""
    checked = check_records(OrderRecord, records, key_field="id")
    quarantine_records(conn, "order", source, checked.rejected)
    if checked.valid:
        rows = [order_row(order, raw, source) for order, raw in checked.valid]
        conn.execute(UPSERT_ORDER, rows)
    return [order for order, _ in checked.valid]


def _sync_from(engine: Engine) -> datetime | None:
    """Re-read from the oldest order still open, else from the newest one we hold."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "select coalesce(min(submitted_at) filter (where status <> all(:terminal)), "
                "max(submitted_at)) from raw.orders"
            ),
            {"terminal": list(TERMINAL)},
        ).scalar()


def sync_orders(client: TradingClient, engine: Engine) -> int:
    """Upsert every order the broker has changed since the last sync; returns the count.

    GET /v2/orders returns at most 500 orders and has no page token: page by moving `after`
    (exclusive) to just before the last order's submission time, until a page brings nothing new.
    """
    since = _sync_from(engine)
    after = since - timedelta(seconds=1) if since else None
    seen: set[str] = set()
    while True:
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL,
            limit=PAGE_LIMIT,
            direction="asc",  # type: ignore[arg-type]
            after=after,
            nested=True,  # a bracket's legs come inside their entry, which names them
        )
        page = fetch_records(client, "/orders", request.to_request_fields())
        source = source_of(client)  # known now that the broker has answered
        new = with_legs([r for r in page if record_key(r, "id") not in seen])
        landed: list[OrderRecord] = []
        if new:
            run = RunRecord("orders", source, {"after": after})
            with engine.begin() as conn:
                landed = land_orders(conn, new, source)
                # An order's row is rewritten on every sync that returns it: none is "unchanged".
                record_sync(conn, run, len(new), len(landed), len(new) - len(landed))
            seen.update(o.id for o in landed)
        if len(page) < PAGE_LIMIT or not landed:
            return len(seen)
        after = landed[-1].submitted_at - timedelta(microseconds=1)
