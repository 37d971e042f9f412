"""Read the decisions to execute: marts.approved_orders, the one relation execution may read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Engine, text


class ApprovedOrder(BaseModel):
    """One row of marts.approved_orders (its dbt contract)."""

    client_order_id: str
    strategy: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    decision_ts: datetime
    as_of: datetime
    reference_price: Decimal
    current_qty: Decimal
    target_qty: Decimal


def approved_orders(engine: Engine) -> list[ApprovedOrder]:
    """Every approved order, in a stable order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("select * from marts.approved_orders order by symbol, client_order_id")
        ).mappings()
        return [ApprovedOrder.model_validate(dict(row)) for row in rows]
