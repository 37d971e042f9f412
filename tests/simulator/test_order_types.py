"""Stop, stop-limit, bracket, oco and oto orders, driven through the real alpaca-py TradingClient.

Prices come from the simulator's seeded AAPL path on Wednesday 2024-01-03: 139.86 at 10:00 New
York, a high of 140.18 in the 10:00 bar, lows of 138.80 (11:00 bar) and 138.26 (12:00 bar), and
back to 140.02 in the 13:00 bar; it never trades at 130 or 150 that day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)

from simulator.broker import START_CASH
from simulator.market import Market, TimeFrame
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)  # Wed 10:00 New York
CLOSE = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)
EVENING = datetime(2024, 1, 3, 23, 0, tzinfo=UTC)
ASK_AT_START = Decimal("139.87")


def buy_10_aapl(tc: TradingClient) -> None:
    """Open a 10-share AAPL position at the 10:00 ask."""
    tc.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )


def bracket(
    take_profit: float,
    stop_loss: float,
    limit: float | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    stop_limit: float | None = None,
) -> MarketOrderRequest | LimitOrderRequest:
    """A 10-share AAPL buy bracket, market entry unless `limit` is given."""
    legs = {
        "order_class": OrderClass.BRACKET,
        "take_profit": TakeProfitRequest(limit_price=take_profit),
        "stop_loss": StopLossRequest(stop_price=stop_loss, limit_price=stop_limit),
    }
    common = {"symbol": "AAPL", "qty": 10, "side": OrderSide.BUY, "time_in_force": tif}
    if limit is None:
        return MarketOrderRequest(**common, **legs)
    return LimitOrderRequest(**common, limit_price=limit, **legs)


def nested(tc: TradingClient, order: Order) -> tuple[Order, Order, Order]:
    """The parent as GET /v2/orders/{id}?nested=true shows it, with its take-profit and stop."""
    parent = tc.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert parent.legs is not None
    (take_profit,) = [leg for leg in parent.legs if leg.order_type == "limit"]
    (stop_loss,) = [leg for leg in parent.legs if leg.order_type in ("stop", "stop_limit")]
    return parent, take_profit, stop_loss


def cash(tc: TradingClient) -> Decimal:
    """The account's cash."""
    return Decimal(tc.get_account().cash or "")


def test_sell_stop_triggers_at_its_stop_and_fills_at_the_bid(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    buy_10_aapl(tc)
    stop = tc.submit_order(
        StopOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            stop_price=139.00,
        )
    )
    assert (stop.status, stop.stop_price, stop.limit_price) == (
        OrderStatus.PENDING_NEW,
        "139",
        None,
    )
    assert tc.get_order_by_id(stop.id).status == OrderStatus.NEW

    move_clock(sim, CLOSE)
    order = tc.get_order_by_id(stop.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == Decimal("138.99")
    assert order.filled_at is not None and order.filled_at.hour == 16  # the 11:00 New York bar
    assert tc.get_all_positions() == []
    assert cash(tc) == START_CASH - 10 * ASK_AT_START + 10 * Decimal("138.99")


def test_buy_stop_reserves_the_collared_stop_then_fills_at_the_ask_when_reached(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    stop = tc.submit_order(
        StopOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            stop_price=140.10,
        )
    )
    # Alpaca turns a buy stop at $50 or more into a stop-limit 2.5% above the stop.
    reserved = (Decimal("140.10") * Decimal("1.025")).quantize(Decimal("0.01")) * 10
    assert Decimal(tc.get_account().buying_power or "") == START_CASH - reserved

    move_clock(sim, datetime(2024, 1, 3, 16, 0, tzinfo=UTC))
    order = tc.get_order_by_id(stop.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == Decimal("140.11")
    assert tc.get_open_position("AAPL").qty == "10"
    assert cash(tc) == START_CASH - Decimal("1401.10")


def test_stop_limit_waits_after_its_trigger_until_the_limit_is_marketable(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    buy_10_aapl(tc)
    submitted = tc.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            stop_price=139.00,
            limit_price=139.20,
        )
    )
    move_clock(sim, CLOSE)
    order = tc.get_order_by_id(submitted.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == Decimal("139.20")
    # Triggered in the 11:00 bar at 139.00, filled only when the price came back in the next.
    assert order.filled_at is not None and order.filled_at.hour == 17


def test_bracket_legs_work_after_the_entry_fills_and_the_take_profit_cancels_the_stop(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    submitted = tc.submit_order(bracket(take_profit=140.10, stop_loss=139.00))
    assert submitted.order_class == OrderClass.BRACKET
    assert submitted.legs is not None and len(submitted.legs) == 2
    assert {leg.status for leg in submitted.legs} == {OrderStatus.HELD}

    entry, take_profit, stop_loss = nested(tc, submitted)
    assert entry.status == OrderStatus.FILLED
    assert Decimal(str(entry.filled_avg_price)) == ASK_AT_START
    assert (take_profit.status, take_profit.side, take_profit.limit_price) == (
        OrderStatus.NEW,
        OrderSide.SELL,
        "140.1",
    )
    assert (stop_loss.status, stop_loss.side, stop_loss.stop_price) == (
        OrderStatus.HELD,
        OrderSide.SELL,
        "139",
    )
    assert tc.get_open_position("AAPL").qty_available == "0"  # held for the exits

    move_clock(sim, datetime(2024, 1, 3, 16, 0, tzinfo=UTC))
    _, take_profit, stop_loss = nested(tc, submitted)
    assert take_profit.status == OrderStatus.FILLED
    assert Decimal(str(take_profit.filled_avg_price)) == Decimal("140.10")
    assert stop_loss.status == OrderStatus.CANCELED
    assert stop_loss.canceled_at == take_profit.filled_at
    assert tc.get_all_positions() == []
    assert cash(tc) == START_CASH - 10 * ASK_AT_START + Decimal("1401.00")


def test_bracket_stop_loss_fills_and_cancels_the_take_profit(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    submitted = tc.submit_order(bracket(take_profit=141.00, stop_loss=139.00))
    move_clock(sim, CLOSE)
    _, take_profit, stop_loss = nested(tc, submitted)
    assert stop_loss.status == OrderStatus.FILLED
    assert Decimal(str(stop_loss.filled_avg_price)) == Decimal("138.99")
    assert take_profit.status == OrderStatus.CANCELED
    activities = tc.get("/account/activities/FILL", {"direction": "asc"})
    assert isinstance(activities, list)
    assert [(a["side"], a["qty"], a["price"]) for a in activities] == [
        ("buy", "10", "139.87"),
        ("sell", "10", "138.99"),
    ]


def test_bracket_legs_stay_held_until_a_limit_entry_fills(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    submitted = tc.submit_order(bracket(take_profit=139.50, stop_loss=137.00, limit=138.50))
    entry, take_profit, stop_loss = nested(tc, submitted)
    assert entry.status == OrderStatus.NEW
    assert (take_profit.status, stop_loss.status) == (OrderStatus.HELD, OrderStatus.HELD)
    assert tc.get_all_positions() == []
    assert Decimal(tc.get_account().buying_power or "") == START_CASH - 1385

    move_clock(sim, CLOSE)
    entry, take_profit, stop_loss = nested(tc, submitted)
    assert entry.status == OrderStatus.FILLED
    assert Decimal(str(entry.filled_avg_price)) == Decimal("138.50")
    assert take_profit.status == OrderStatus.FILLED
    assert Decimal(str(take_profit.filled_avg_price)) == Decimal("139.50")
    assert entry.filled_at is not None and take_profit.filled_at is not None
    assert entry.filled_at < take_profit.filled_at
    assert stop_loss.status == OrderStatus.CANCELED


def test_day_bracket_expires_with_its_held_legs_at_the_close(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    unfilled = tc.submit_order(
        bracket(take_profit=135, stop_loss=125, limit=130, tif=TimeInForce.DAY)
    )
    filled = tc.submit_order(bracket(take_profit=150, stop_loss=120, tif=TimeInForce.DAY))
    move_clock(sim, EVENING)
    for submitted in (unfilled, filled):
        entry, take_profit, stop_loss = nested(tc, submitted)
        assert (take_profit.status, stop_loss.status) == (OrderStatus.EXPIRED, OrderStatus.EXPIRED)
        assert take_profit.expired_at == stop_loss.expired_at == CLOSE
    assert tc.get_order_by_id(unfilled.id).status == OrderStatus.EXPIRED
    assert tc.get_order_by_id(filled.id).status == OrderStatus.FILLED
    assert tc.get_open_position("AAPL").qty_available == "10"
    assert tc.get_orders() == []


def test_day_stop_and_stop_limit_orders_expire_at_the_close(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    buy_10_aapl(tc)
    stop = tc.submit_order(
        StopOrderRequest(
            symbol="AAPL", qty=5, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, stop_price=130
        )
    )
    stop_limit = tc.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            stop_price=150,
            limit_price=151,
        )
    )
    move_clock(sim, EVENING)
    for submitted in (stop, stop_limit):
        order = tc.get_order_by_id(submitted.id)
        assert (order.status, order.expired_at, order.filled_qty) == (
            OrderStatus.EXPIRED,
            CLOSE,
            "0",
        )
    assert Decimal(tc.get_account().buying_power or "") == cash(tc)


def test_oco_exit_take_profit_is_the_parent_and_its_fill_cancels_the_stop(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    buy_10_aapl(tc)
    submitted = tc.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=140.10),
            stop_loss=StopLossRequest(stop_price=139.00),
        )
    )
    assert (submitted.order_class, submitted.type, submitted.limit_price) == (
        OrderClass.OCO,
        "limit",
        "140.1",
    )
    assert submitted.legs is not None
    (stop_loss,) = submitted.legs
    assert (stop_loss.status, stop_loss.stop_price) == (OrderStatus.HELD, "139")
    assert tc.get_open_position("AAPL").qty_available == "0"

    move_clock(sim, CLOSE)
    parent = tc.get_order_by_id(submitted.id, GetOrderByIdRequest(nested=True))
    assert parent.status == OrderStatus.FILLED
    assert Decimal(str(parent.filled_avg_price)) == Decimal("140.10")
    assert parent.legs is not None and parent.legs[0].status == OrderStatus.CANCELED


def test_oto_with_a_stop_loss_only_protects_the_filled_entry(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    submitted = tc.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=139.00),
        )
    )
    parent = tc.get_order_by_id(submitted.id, GetOrderByIdRequest(nested=True))
    assert parent.legs is not None
    (stop_loss,) = parent.legs
    assert (parent.status, stop_loss.status, stop_loss.order_class) == (
        OrderStatus.FILLED,
        OrderStatus.HELD,
        OrderClass.OTO,
    )
    move_clock(sim, CLOSE)
    assert tc.get_order_by_id(stop_loss.id).status == OrderStatus.FILLED
    assert tc.get_all_positions() == []


def test_orders_list_legs_separately_unless_nested(tc: TradingClient) -> None:
    submitted = tc.submit_order(bracket(take_profit=139.50, stop_loss=137.00, limit=138.50))
    flat = tc.get_orders()
    assert len(flat) == 3
    assert {o.status for o in flat} == {OrderStatus.NEW, OrderStatus.HELD}
    (parent,) = tc.get_orders(GetOrdersRequest(nested=True))
    assert parent.id == submitted.id
    assert parent.legs is not None and {leg.id for leg in parent.legs} == {
        o.id for o in flat if o.id != submitted.id
    }


def test_nested_open_orders_show_a_filled_entry_while_its_exits_work(tc: TradingClient) -> None:
    submitted = tc.submit_order(bracket(take_profit=150, stop_loss=130))
    (parent,) = tc.get_orders(GetOrdersRequest(nested=True))
    assert (parent.id, parent.status) == (submitted.id, OrderStatus.FILLED)
    assert parent.legs is not None
    assert sorted(leg.status for leg in parent.legs) == [OrderStatus.HELD, OrderStatus.NEW]
    assert tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, nested=True)) == []
    assert [o.id for o in tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))] == [
        submitted.id
    ]


def test_canceling_a_bracket_entry_cancels_its_held_legs(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    submitted = tc.submit_order(bracket(take_profit=139.50, stop_loss=137.00, limit=138.50))
    assert tc.cancel_order_by_id(submitted.id) is None
    entry, take_profit, stop_loss = nested(tc, submitted)
    assert {entry.status, take_profit.status, stop_loss.status} == {OrderStatus.CANCELED}
    assert tc.get_orders() == []
    assert Decimal(tc.get_account().buying_power or "") == START_CASH


def test_cancel_all_answers_207_with_every_order_it_canceled(tc: TradingClient) -> None:
    single = tc.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=50
        )
    )
    group = tc.submit_order(bracket(take_profit=139.50, stop_loss=137.00, limit=138.50))
    responses = tc.cancel_orders()
    assert len(responses) == 4
    assert {r.status for r in responses} == {200}
    ids = {r.id for r in responses}
    assert {single.id, group.id} <= ids
    assert all(
        o.status == OrderStatus.CANCELED
        for o in tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    )
    assert tc.cancel_orders() == []


def test_cancel_of_an_expired_order_is_refused_with_422(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    order = tc.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=50
        )
    )
    move_clock(sim, EVENING)
    with pytest.raises(APIError) as info:
        tc.cancel_order_by_id(order.id)
    assert (info.value.status_code, info.value.code) == (422, 42210000)
    assert info.value.message == "order is not cancelable (status: expired)"


def test_the_path_the_module_docstring_relies_on() -> None:
    """Guard: the AAPL path the expectations above were derived from is unchanged."""
    bars = Market().bars("AAPL", TimeFrame.HOUR)
    lo, hi = bars.visible_range(START.timestamp(), CLOSE.timestamp(), CLOSE.timestamp())
    assert bars.h[lo : lo + 1].tolist() == [140.18]
    assert bars.l[lo + 1 : lo + 3].tolist() == [138.8, 138.26]
    assert bars.h[lo + 3] == 140.02
    assert bars.l[lo:hi].min() > 130 and bars.h[lo:hi].max() < 150


def test_state_file_keeps_stops_and_bracket_groups_working_across_a_restart(
    tmp_path: Path, make_trading: Any, move_clock: Any
) -> None:
    state = tmp_path / "state.json"
    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        group = tc.submit_order(bracket(take_profit=139.50, stop_loss=137.00, limit=138.50))
        stop = tc.submit_order(
            StopOrderRequest(
                symbol="MSFT",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                stop_price=369.00,
            )
        )
        buying_power = tc.get_account().buying_power
    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        entry, take_profit, stop_loss = nested(tc, group)
        assert (entry.status, take_profit.status, stop_loss.status) == (
            OrderStatus.NEW,
            OrderStatus.HELD,
            OrderStatus.HELD,
        )
        assert tc.get_order_by_id(stop.id).stop_price == "369"
        assert tc.get_account().buying_power == buying_power
        move_clock(handle, CLOSE)
        _, take_profit, stop_loss = nested(tc, group)
        assert (take_profit.status, stop_loss.status) == (OrderStatus.FILLED, OrderStatus.CANCELED)
        assert Decimal(str(tc.get_order_by_id(stop.id).filled_avg_price)) == Decimal("369.01")
