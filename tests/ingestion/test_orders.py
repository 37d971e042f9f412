"""Syncing the broker's orders: past the API's 500-order page, once per order, bad ones aside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest, StopLossRequest, TakeProfitRequest
from sqlalchemy import Engine, text

from config.alpaca import source_of, trading_client
from config.database import Connection
from ingestion.orders import PAGE_LIMIT, land_orders, sync_orders
from simulator.server import SimulatorHandle, running_simulator

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


def test_orders_synced_from_the_simulator_say_so(
    trading: TradingClient, open_market: SimulatorHandle, engine: Engine
) -> None:
    trading.submit_order(
        MarketOrderRequest(symbol="INTC", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    open_market.simulator.advance(1)
    assert sync_orders(trading, engine) == 1
    with engine.connect() as conn:
        orders = conn.execute(text("select source from raw.orders")).scalars().all()
        runs = conn.execute(text("select kind, source from raw.ingestion_runs")).all()
    assert orders == ["simulator"]
    assert [tuple(r) for r in runs] == [("orders", "simulator")]


def test_malformed_order_is_quarantined_and_the_others_land(
    trading: TradingClient,
    open_market: SimulatorHandle,
    engine: Engine,
    quarantined: Callable[[], list],
) -> None:
    for i in range(3):
        trading.submit_order(
            MarketOrderRequest(
                symbol="INTC",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                client_order_id=f"craft-{i}",
            )
        )
    records = trading.get("/orders", {"status": "all", "direction": "asc"})
    first, second, third = records  # type: ignore[misc]
    bad = {**second, "side": "hold"}
    with engine.begin() as conn:
        landed = land_orders(conn, [first, bad, third], source_of(trading))
    assert [o.client_order_id for o in landed] == ["craft-0", "craft-2"]
    with engine.connect() as conn:
        held = conn.execute(text("select client_order_id from raw.orders order by 1")).scalars()
        assert list(held) == ["craft-0", "craft-2"]
    assert quarantined() == [
        (
            "order",
            second["id"],
            "simulator",
            "side: Input should be 'buy' or 'sell' (value 'hold')",
            bad,
        )
    ]


def test_bracket_legs_land_with_their_entry_as_parent(
    trading: TradingClient, open_market: SimulatorHandle, engine: Engine
) -> None:
    price = open_market.simulator.market.quote("INTC", MARKET_OPEN).ask
    take_at, stop_at = round(price * Decimal("1.5"), 2), round(price * Decimal("0.5"), 2)
    entry = trading.submit_order(
        MarketOrderRequest(
            symbol="INTC",
            qty=2,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            client_order_id="brk-INTC-202403051400-b",
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=float(take_at)),
            stop_loss=StopLossRequest(stop_price=float(stop_at)),
        )
    )
    open_market.simulator.advance(1)
    assert sync_orders(trading, engine) == 3
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select client_order_id, order_class, parent_order_id, status, limit_price, "
                "stop_price from raw.orders "
                "order by parent_order_id nulls first, stop_price nulls first"
            )
        ).all()
    entry_row, take_profit, stop_loss = rows
    assert entry_row.client_order_id == "brk-INTC-202403051400-b"
    assert (entry_row.order_class, entry_row.parent_order_id) == ("bracket", None)
    assert entry_row.status == "filled"
    assert {take_profit.parent_order_id, stop_loss.parent_order_id} == {str(entry.id)}
    assert not take_profit.client_order_id.startswith("brk-")
    assert (take_profit.status, stop_loss.status) == ("new", "held")
    assert (take_profit.limit_price, stop_loss.stop_price) == (take_at, stop_at)
