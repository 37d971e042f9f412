"""DELETE /v2/positions through alpaca-py: a market sell per holding, open orders cancelled."""

from __future__ import annotations

from decimal import Decimal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from simulator.server import SimulatorHandle


def test_close_all_positions_sells_every_holding_and_cancels_open_orders(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    for symbol, qty in (("AAPL", 3), ("MSFT", 2)):
        tc.submit_order(
            MarketOrderRequest(
                symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
    tc.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )

    closed = tc.close_all_positions(cancel_orders=True)

    assert [(r.symbol, r.status) for r in closed] == [("AAPL", 200), ("MSFT", 200)]
    orders = [r.body for r in closed]
    assert all(isinstance(o, Order) for o in orders)
    assert [(o.symbol, o.side, Decimal(str(o.qty))) for o in orders] == [  # type: ignore[union-attr]
        ("AAPL", OrderSide.SELL, Decimal(3)),
        ("MSFT", OrderSide.SELL, Decimal(2)),
    ]
    assert tc.get_all_positions() == []
    assert tc.get_orders() == []


def test_close_all_positions_with_nothing_held_is_an_empty_list(tc: TradingClient) -> None:
    assert tc.close_all_positions(cancel_orders=False) == []
