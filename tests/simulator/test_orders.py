"""Order validation as Alpaca does it: status, code and message of each refusal, via alpaca-py."""

from __future__ import annotations

from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

# AAPL trades at 139.86 (bid 139.85, ask 139.87) at the fixture's start, Wed 2024-01-03 10:00 NY.
LAST_TRADE = "139.86"


def refusal(tc: TradingClient, body: dict[str, Any]) -> tuple[int, int, str]:
    """POST a raw order body (bypassing alpaca-py's own checks); the error it gets."""
    payload = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", **body}
    with pytest.raises(APIError) as info:
        tc.post("/orders", payload)
    return info.value.status_code, info.value.code, info.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"qty": "1", "type": "stop"}, "stop orders require a stop_price"),
        (
            {"qty": "1", "type": "stop_limit", "stop_price": "150"},
            "stop_limit orders require a limit_price",
        ),
        ({"qty": "1", "type": "limit"}, "limit orders require a limit_price"),
        ({"qty": "1", "stop_price": "150"}, "stop_price is not allowed for a market order"),
        (
            {"qty": "1", "type": "stop", "stop_price": "150", "limit_price": "151"},
            "limit_price is not allowed for a stop order",
        ),
        ({"qty": "1", "notional": "100"}, "qty and notional cannot both be specified"),
        (
            {"notional": "100", "type": "stop", "stop_price": "150"},
            "fractional orders must be market orders with time_in_force day",
        ),
        (
            {
                "notional": "1000",
                "order_class": "bracket",
                "take_profit": {"limit_price": "150"},
                "stop_loss": {"stop_price": "130"},
            },
            "fractional orders cannot be bracket orders",
        ),
        (
            {"qty": "1", "order_class": "bracket", "take_profit": {"limit_price": "150"}},
            "bracket orders require both take_profit and stop_loss",
        ),
        (
            {
                "qty": "1",
                "type": "stop",
                "stop_price": "150",
                "order_class": "bracket",
                "take_profit": {"limit_price": "160"},
                "stop_loss": {"stop_price": "130"},
            },
            "bracket orders must be market or limit orders",
        ),
        (
            {
                "qty": "1",
                "order_class": "oto",
                "take_profit": {"limit_price": "150"},
                "stop_loss": {"stop_price": "130"},
            },
            "oto orders require either take_profit or stop_loss",
        ),
        (
            {
                "qty": "1",
                "order_class": "oco",
                "take_profit": {"limit_price": "150"},
                "stop_loss": {"stop_price": "130"},
            },
            "oco orders must be limit orders",
        ),
        ({"qty": "1", "take_profit": {"limit_price": "150"}}, "take_profit is only allowed"),
        ({"qty": "1", "order_class": "mleg"}, "invalid order_class: 'mleg'"),
        ({"qty": "1", "time_in_force": "fok"}, 'time_in_force "fok" is not supported'),
    ],
)
def test_malformed_orders_are_refused_with_422_40010001(
    tc: TradingClient, body: dict[str, Any], message: str
) -> None:
    status, code, text = refusal(tc, body)
    assert (status, code) == (422, 40010001)
    assert text.startswith(message)
    assert tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"qty": "1", "type": "stop", "stop_price": "150.005"},
            "invalid stop_price 150.005. sub-penny increment does not fulfill minimum pricing "
            "criteria",
        ),
        (
            {"qty": "1", "type": "stop", "stop_price": "0.12345"},
            "invalid stop_price 0.12345. sub-penny increment does not fulfill minimum pricing "
            "criteria",
        ),
        (
            {
                "qty": "1",
                "order_class": "bracket",
                "take_profit": {"limit_price": "150.001"},
                "stop_loss": {"stop_price": "130"},
            },
            "invalid take_profit.limit_price 150.001. sub-penny increment",
        ),
        (
            {
                "qty": "1",
                "order_class": "bracket",
                "take_profit": {"limit_price": LAST_TRADE},
                "stop_loss": {"stop_price": "130"},
            },
            f"take_profit.limit_price must be >= base_price + 0.01 (base_price: {LAST_TRADE})",
        ),
        (
            {
                "qty": "1",
                "order_class": "bracket",
                "take_profit": {"limit_price": "150"},
                "stop_loss": {"stop_price": "139.86"},
            },
            f"stop_loss.stop_price must be <= base_price - 0.01 (base_price: {LAST_TRADE})",
        ),
        (
            {
                "qty": "1",
                "type": "limit",
                "limit_price": "120",
                "order_class": "bracket",
                "take_profit": {"limit_price": "125"},
                "stop_loss": {"stop_price": "120"},
            },
            "stop_loss.stop_price must be <= base_price - 0.01 (base_price: 120)",
        ),
        (
            {
                "qty": "1",
                "side": "sell",
                "order_class": "bracket",
                "take_profit": {"limit_price": "150"},
                "stop_loss": {"stop_price": "130"},
            },
            f"take_profit.limit_price must be <= base_price - 0.01 (base_price: {LAST_TRADE})",
        ),
        (
            {
                "qty": "1",
                "side": "sell",
                "order_class": "bracket",
                "take_profit": {"limit_price": "130"},
                "stop_loss": {"stop_price": "150"},
            },
            "bracket orders must be entry orders",
        ),
        (
            {
                "qty": "1",
                "type": "limit",
                "order_class": "oco",
                "take_profit": {"limit_price": "130"},
                "stop_loss": {"stop_price": "150"},
            },
            "oco orders must be exit orders",
        ),
    ],
)
def test_bad_prices_and_impossible_groups_are_refused_with_422_42210000(
    tc: TradingClient, body: dict[str, Any], message: str
) -> None:
    status, code, text = refusal(tc, body)
    assert (status, code) == (422, 42210000)
    assert text.startswith(message)


def test_a_sound_bracket_through_alpaca_py_is_accepted_with_its_legs(tc: TradingClient) -> None:
    order = tc.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=139.00,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=139.01),
            stop_loss=StopLossRequest(stop_price=138.99, limit_price=138.50),
        )
    )
    assert order.legs is not None
    kinds = sorted((leg.order_type, leg.limit_price, leg.stop_price, leg.qty) for leg in order.legs)
    assert kinds == [("limit", "139.01", None, "3"), ("stop_limit", "138.5", "138.99", "3")]
    assert {leg.client_order_id for leg in order.legs}.isdisjoint({order.client_order_id})


def test_buying_beyond_buying_power_with_a_bracket_is_refused_with_alpacas_body(
    tc: TradingClient,
) -> None:
    with pytest.raises(APIError) as info:
        tc.submit_order(
            MarketOrderRequest(
                symbol="AAPL",
                qty=1000,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.BRACKET,
                take_profit=TakeProfitRequest(limit_price=150),
                stop_loss=StopLossRequest(stop_price=130),
            )
        )
    assert info.value.status_code == 403
    assert info.value.response.json() == {
        "buying_power": "100000",
        "cost_basis": "139870",
        "code": 40310000,
        "message": "insufficient buying power",
    }
    assert tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []


def test_a_sell_of_shares_not_held_is_refused_with_403_and_the_quantities(
    tc: TradingClient,
) -> None:
    with pytest.raises(APIError) as info:
        tc.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=5,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=150),
                stop_loss=StopLossRequest(stop_price=130),
            )
        )
    assert (info.value.status_code, info.value.code) == (403, 40310000)
    assert info.value.message == (
        "insufficient qty available for order (requested: 5, available: 0)"
    )
