"""Land the broker's FILL activities in raw.fills, keyed by activity id, paged to the end."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from alpaca.trading.client import TradingClient
from pydantic import BaseModel
from sqlalchemy import Engine, text

PAGE_SIZE = 100


class FillActivity(BaseModel):
    """One execution as `/v2/account/activities/FILL` returns it (numbers arrive as strings)."""

    id: str
    activity_type: Literal["FILL"]
    transaction_time: datetime
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
    "cum_qty, leaves_qty, order_status, payload) values (:id, :order_id, :symbol, :side, :qty, "
    ":price, :transaction_time, :type, :cum_qty, :leaves_qty, :order_status, "
    "cast(:payload as jsonb)) on conflict (id) do nothing"
)


def _last_fill_id(engine: Engine) -> str | None:
    """Activity ids sort in time order, so the largest one is where the next page starts."""
    with engine.connect() as conn:
        return conn.execute(text("select max(id) from raw.fills")).scalar()


def sync_fills(client: TradingClient, engine: Engine) -> int:
    """Fetch every fill after the newest one we hold; returns how many were new."""
    page_token = _last_fill_id(engine)
    new = 0
    while True:
        params: dict[str, Any] = {"direction": "asc", "page_size": PAGE_SIZE}
        if page_token:
            params["page_token"] = page_token
        page = client.get("/account/activities/FILL", params) or []
        fills = [FillActivity.model_validate(item) for item in page]  # type: ignore[union-attr]
        if fills:
            with engine.begin() as conn:
                result = conn.execute(
                    INSERT_FILL,
                    [
                        {**fill.model_dump(), "payload": json.dumps(raw, default=str)}
                        for fill, raw in zip(fills, page, strict=True)  # type: ignore[arg-type]
                    ],
                )
                new += result.rowcount
        if len(fills) < PAGE_SIZE:
            return new
        page_token = fills[-1].id
