"""An approved order as the alpaca-py request that places it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from execution.orders import ApprovedOrder


def _price(order: ApprovedOrder, name: str) -> float:
    value: Decimal | None = getattr(order, name)
    if value is None:  # ApprovedOrder already refuses this; kept for a clear message
        raise ValueError(f"{order.client_order_id}: {name} is required, got None")
    return float(value)


def order_request(order: ApprovedOrder) -> OrderRequest:
    """The request for one order: its type's prices, and a bracket's two exit legs."""
    fields: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": float(order.qty),
        "side": OrderSide(order.side),
        "time_in_force": TimeInForce(order.time_in_force),
        "client_order_id": order.client_order_id,
    }
    if order.order_class == "bracket":
        fields["order_class"] = OrderClass.BRACKET
        fields["take_profit"] = TakeProfitRequest(limit_price=_price(order, "take_profit_price"))
        fields["stop_loss"] = StopLossRequest(stop_price=_price(order, "stop_loss_price"))
    if order.order_type == "limit":
        return LimitOrderRequest(**fields, limit_price=_price(order, "limit_price"))
    if order.order_type == "stop":
        return StopOrderRequest(**fields, stop_price=_price(order, "stop_price"))
    if order.order_type == "stop_limit":
        return StopLimitOrderRequest(
            **fields,
            stop_price=_price(order, "stop_price"),
            limit_price=_price(order, "limit_price"),
        )
    return MarketOrderRequest(**fields)
