"""Syncing the broker's orders: past the API's 500-order page, once per order."""

from __future__ import annotations

from datetime import UTC, datetime

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Engine, text

from config.database import Connection
from ingestion.alpaca import trading_client
from ingestion.orders import PAGE_LIMIT, sync_orders
from simulator.server import running_simulator

MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)


def test_more_orders_than_one_page_are_all_synced_once(
    fresh_database: Connection, engine: Engine, settings_for
) -> None:  # type: ignore[no-untyped-def]
    with running_simulator(start=MARKET_OPEN, speed=0.0) as sim:
        client = trading_client(settings_for(fresh_database, sim.url))
        for i in range(PAGE_LIMIT + 20):
            client.submit_order(
                MarketOrderRequest(
                    symbol="INTC",
                    qty=1,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.DAY,
                    client_order_id=f"bulk-{i}",
                )
            )
            sim.simulator.advance(1)
        first = sync_orders(client, engine)
        sync_orders(client, engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("select count(*), count(distinct client_order_id) from raw.orders")
        ).one()
        statuses = conn.execute(text("select distinct status from raw.orders")).scalars().all()
    assert first == PAGE_LIMIT + 20
    assert tuple(rows) == (PAGE_LIMIT + 20, PAGE_LIMIT + 20)
    assert statuses == ["filled"]
