"""Land the broker's view of our orders in raw.orders (one row per order, latest state)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest
from sqlalchemy import Engine, text

PAGE_LIMIT = 500
TERMINAL = ("filled", "canceled", "expired", "rejected", "replaced", "done_for_day")

UPSERT_ORDER = text(
    "insert into raw.orders (id, client_order_id, symbol, side, order_type, time_in_force, qty, "
    "notional, filled_qty, filled_avg_price, limit_price, status, created_at, submitted_at, "
    "updated_at, filled_at, canceled_at, expired_at, payload, synced_at) values (:id, "
    ":client_order_id, :symbol, :side, :order_type, :time_in_force, :qty, :notional, :filled_qty, "
    ":filled_avg_price, :limit_price, :status, :created_at, :submitted_at, :updated_at, "
    ":filled_at, :canceled_at, :expired_at, cast(:payload as jsonb), now()) "
    "on conflict (id) do update set status = excluded.status, filled_qty = excluded.filled_qty, "
    "filled_avg_price = excluded.filled_avg_price, updated_at = excluded.updated_at, "
    "filled_at = excluded.filled_at, canceled_at = excluded.canceled_at, "
    "expired_at = excluded.expired_at, payload = excluded.payload, synced_at = now()"
)


def order_row(order: Order) -> dict[str, object]:
    """The raw.orders columns of one alpaca-py Order."""
    return {
        "id": str(order.id),
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value if order.side else None,
        "order_type": order.order_type.value if order.order_type else None,
        "time_in_force": order.time_in_force.value,
        "qty": order.qty,
        "notional": order.notional,
        "filled_qty": order.filled_qty or 0,
        "filled_avg_price": order.filled_avg_price,
        "limit_price": order.limit_price,
        "status": order.status.value,
        "created_at": order.created_at,
        "submitted_at": order.submitted_at,
        "updated_at": order.updated_at,
        "filled_at": order.filled_at,
        "canceled_at": order.canceled_at,
        "expired_at": order.expired_at,
        "payload": order.model_dump_json(),
    }


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
        )
        orders: list[Order] = client.get_orders(request)  # type: ignore[assignment]
        new = [o for o in orders if str(o.id) not in seen]
        if new:
            with engine.begin() as conn:
                conn.execute(UPSERT_ORDER, [order_row(o) for o in new])
            seen.update(str(o.id) for o in new)
        if len(orders) < PAGE_LIMIT or not new:
            return len(seen)
        after = orders[-1].submitted_at - timedelta(microseconds=1)
