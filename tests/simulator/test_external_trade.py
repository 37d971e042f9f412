"""`POST /admin/external_trade`: a manual trade at the broker, seen through alpaca-py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from simulator.broker import START_CASH
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)  # Wed 10:00 New York


def external(http: httpx.Client, handle: SimulatorHandle, **body: Any) -> httpx.Response:
    """Place a manual trade through the admin API."""
    return http.post(f"{handle.url}/admin/external_trade", json=body)


def fills(tc: TradingClient) -> list[dict[str, str]]:
    """FILL activities, oldest first."""
    result = tc.get("/account/activities/FILL", {"direction": "asc"})
    assert isinstance(result, list)
    return result


def test_an_external_buy_books_a_filled_order_without_a_prefix_a_position_and_a_fill(
    sim: SimulatorHandle, tc: TradingClient, http: httpx.Client
) -> None:
    tc.submit_order(
        MarketOrderRequest(
            symbol="MSFT",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id="sma-MSFT-20240103T1500-buy",
        )
    )
    answer = external(http, sim, symbol="AAPL", side="buy", qty=7)
    assert answer.status_code == 200
    placed = answer.json()
    assert uuid.UUID(placed["client_order_id"]).version == 4  # like a web-UI order: no prefix
    assert (placed["status"], placed["filled_qty"], placed["order_class"]) == ("filled", "7", "")

    order = tc.get_order_by_id(placed["id"])
    ask = sim.simulator.market.quote("AAPL", START).ask
    assert (order.status, order.filled_at) == (OrderStatus.FILLED, START)
    assert Decimal(str(order.filled_avg_price)) == ask
    closed = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert {o.client_order_id for o in closed} == {
        "sma-MSFT-20240103T1500-buy",
        placed["client_order_id"],
    }
    position = tc.get_open_position("AAPL")
    assert (position.qty, Decimal(position.avg_entry_price)) == ("7", ask)
    (activity,) = [a for a in fills(tc) if a["order_id"] == placed["id"]]
    assert (activity["type"], activity["qty"], activity["side"]) == (
        "fill",
        "7",
        "buy",
    )
    msft_ask = sim.simulator.market.quote("MSFT", START).ask
    assert Decimal(tc.get_account().cash or "") == START_CASH - 7 * ask - msft_ask


def test_an_external_sell_at_a_given_price_reduces_the_position_and_adds_cash(
    sim: SimulatorHandle, tc: TradingClient, http: httpx.Client
) -> None:
    external(http, sim, symbol="AAPL", side="buy", qty=10, price="100")
    sold = external(http, sim, symbol="AAPL", side="sell", qty="4", price=150.25).json()
    assert (sold["side"], sold["filled_avg_price"]) == ("sell", "150.25")
    assert [p.qty for p in tc.get_all_positions()] == ["6"]
    assert Decimal(tc.get_account().cash or "") == START_CASH - 1000 + Decimal("601.00")


def test_an_external_trade_beyond_the_account_is_refused_like_an_order(
    sim: SimulatorHandle, tc: TradingClient, http: httpx.Client
) -> None:
    oversold = external(http, sim, symbol="AAPL", side="sell", qty=1)
    assert (oversold.status_code, oversold.json()["code"]) == (403, 40310000)
    assert oversold.json()["message"] == (
        "insufficient qty available for order (requested: 1, available: 0)"
    )
    too_big = external(http, sim, symbol="AAPL", side="buy", qty=1000, price=101)
    assert too_big.status_code == 403
    assert too_big.json()["message"] == "insufficient buying power"
    unknown = external(http, sim, symbol="ZZZZ", side="buy", qty=1)
    assert (unknown.status_code, unknown.json()["message"]) == (422, 'asset "ZZZZ" not found')
    assert tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []


def test_external_trades_are_not_counted_as_api_requests(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    external(http, sim, symbol="AAPL", side="buy", qty=1)
    assert http.get(f"{sim.url}/admin/requests").json() == {"requests": {}}


def test_an_external_trade_survives_a_restart_with_the_state_file(
    tmp_path: Path, http: httpx.Client, make_trading: Any
) -> None:
    state = tmp_path / "state.json"
    with running_simulator(start=START, state_path=state) as handle:
        placed = external(http, handle, symbol="KO", side="buy", qty=3).json()
    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        assert tc.get_open_position("KO").qty == "3"
        assert tc.get_order_by_id(placed["id"]).client_order_id == placed["client_order_id"]
        assert [a["order_id"] for a in fills(tc)] == [placed["id"]]
