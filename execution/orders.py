"""Read the decisions to execute: marts.approved_orders, the one relation execution may read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, model_validator
from sqlalchemy import Connection, Engine, text

# marts.approved_orders' enforced contract as information_schema names it: (column, data type,
# nullable). tests/dbt/test_build.py checks the built model against it; ApprovedOrder has the
# same fields in the same order.
CONTRACT = [
    ("decision_id", "uuid", "NO"),
    ("client_order_id", "text", "NO"),
    ("strategy", "text", "NO"),
    ("symbol", "text", "NO"),
    ("side", "text", "NO"),
    ("qty", "numeric", "NO"),
    ("order_class", "text", "NO"),
    ("order_type", "text", "NO"),
    ("time_in_force", "text", "NO"),
    ("limit_price", "numeric", "YES"),
    ("stop_price", "numeric", "YES"),
    ("take_profit_price", "numeric", "YES"),
    ("stop_loss_price", "numeric", "YES"),
    ("cancel_open_exits", "boolean", "NO"),
    ("decision_ts", "timestamp with time zone", "NO"),
    ("as_of", "timestamp with time zone", "NO"),
    ("reference_price", "numeric", "NO"),
    ("current_qty", "numeric", "NO"),
    ("target_qty", "numeric", "NO"),
]

# The prices each order type must carry (and no others); a bracket also carries its legs'.
PRICES_BY_TYPE = {
    "market": set(),
    "limit": {"limit_price"},
    "stop": {"stop_price"},
    "stop_limit": {"limit_price", "stop_price"},
}


class ApprovedOrder(BaseModel):
    """One row of marts.approved_orders (its dbt contract)."""

    decision_id: UUID
    client_order_id: str
    strategy: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: Decimal
    order_class: Literal["simple", "bracket"]
    order_type: Literal["market", "limit", "stop", "stop_limit"]
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    cancel_open_exits: bool
    decision_ts: datetime
    as_of: datetime
    reference_price: Decimal
    current_qty: Decimal
    target_qty: Decimal

    @model_validator(mode="after")
    def _prices_match_the_type(self) -> ApprovedOrder:
        """Refuse an order whose prices do not fit its type, naming the field and its value."""
        wanted = set(PRICES_BY_TYPE[self.order_type])
        if self.order_class == "bracket":
            wanted |= {"take_profit_price", "stop_loss_price"}
        for name in ("limit_price", "stop_price", "take_profit_price", "stop_loss_price"):
            value = getattr(self, name)
            if (value is None) == (name in wanted):
                need = "is required" if value is None else f"({value}) does not apply"
                raise ValueError(
                    f"{self.client_order_id}: {name} {need} for a {self.order_class} "
                    f"{self.order_type} order"
                )
        return self


def stand_in_table(conn: Connection, orders: list[ApprovedOrder]) -> None:
    """Create marts.approved_orders as a plain table shaped like the contract and hold these
    orders in it: for the tests and the benchmark, where a dbt build would take minutes."""
    columns = ", ".join(
        f"{name} {kind}{' not null' if nullable == 'NO' else ''}"
        for name, kind, nullable in CONTRACT
    )
    conn.execute(text("create schema if not exists marts"))
    conn.execute(text(f"create table if not exists marts.approved_orders ({columns})"))
    conn.execute(text("delete from marts.approved_orders"))
    if orders:
        names = [name for name, _, _ in CONTRACT]  # constants, not input
        insert = (
            f"insert into marts.approved_orders ({', '.join(names)}) "  # noqa: S608
            f"values ({', '.join(':' + name for name in names)})"
        )
        conn.execute(text(insert), [order.model_dump() for order in orders])


def approved_orders(engine: Engine) -> list[ApprovedOrder]:
    """Every approved order, in a stable order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("select * from marts.approved_orders order by symbol, client_order_id")
        ).mappings()
        return [ApprovedOrder.model_validate(dict(row)) for row in rows]
