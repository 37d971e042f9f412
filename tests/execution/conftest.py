"""Execution fixtures: marts.approved_orders as a plain table shaped like its dbt contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from execution.orders import ApprovedOrder

# The columns and types of marts.approved_orders' enforced contract (tests/dbt/test_build.py
# checks the built model against the same list); building the dbt project would take minutes.
APPROVED_ORDERS_TABLE = """
create table marts.approved_orders (
    client_order_id text not null, strategy text not null, symbol text not null,
    side text not null, qty numeric not null, order_type text not null,
    time_in_force text not null, limit_price numeric, decision_ts timestamptz not null,
    as_of timestamptz not null, reference_price numeric not null, current_qty numeric not null,
    target_qty numeric not null
)
"""


@pytest.fixture
def approve(engine: Engine) -> Callable[[list[ApprovedOrder]], None]:
    """Replace the rows of marts.approved_orders, as a dbt build at a new as_of would."""
    with engine.begin() as conn:
        conn.execute(text("create schema if not exists marts"))
        conn.execute(text(APPROVED_ORDERS_TABLE))

    def write(orders: list[ApprovedOrder]) -> None:
        with engine.begin() as conn:
            conn.execute(text("delete from marts.approved_orders"))
            if orders:
                conn.execute(
                    text(
                        "insert into marts.approved_orders values (:client_order_id, :strategy, "
                        ":symbol, :side, :qty, :order_type, :time_in_force, :limit_price, "
                        ":decision_ts, :as_of, :reference_price, :current_qty, :target_qty)"
                    ),
                    [o.model_dump() for o in orders],
                )

    return write
