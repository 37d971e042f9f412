"""Broker behaviour, driven through the real alpaca-py TradingClient against the simulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from simulator.broker import START_CASH
from simulator.market import TimeFrame as SimTimeFrame
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)  # Wed 10:00 New York, session open
CLOSE = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)  # Wed 16:00 New York
EVENING = datetime(2024, 1, 3, 23, 0, tzinfo=UTC)  # Wed 18:00 New York
NEXT_OPEN = datetime(2024, 1, 4, 14, 30, tzinfo=UTC)


def market_buy(symbol: str, qty: float, client_order_id: str | None = None) -> MarketOrderRequest:
    """A market day buy."""
    return MarketOrderRequest(
        symbol=symbol,
        qty=qty,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=client_order_id,
    )


def limit_order(
    symbol: str,
    qty: float,
    limit: Decimal,
    side: OrderSide = OrderSide.BUY,
    tif: TimeInForce = TimeInForce.DAY,
    client_order_id: str | None = None,
) -> LimitOrderRequest:
    """A limit order."""
    return LimitOrderRequest(
        symbol=symbol,
        qty=qty,
        side=side,
        time_in_force=tif,
        limit_price=float(limit),
        client_order_id=client_order_id,
    )


def fills(tc: TradingClient, **params: object) -> list[dict[str, str]]:
    """Raw FILL activities (TradingClient has no method for them)."""
    result = tc.get("/account/activities/FILL", params or None)
    assert isinstance(result, list)
    return result


def test_market_buy_fills_at_the_ask_at_submission_and_books_cash_position_and_fill(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    quote = sim.simulator.market.quote("AAPL", START)
    submitted = tc.submit_order(market_buy("AAPL", 10, "buy-1"))
    assert submitted.status == OrderStatus.PENDING_NEW
    assert submitted.filled_qty == "0"

    order = tc.get_order_by_id(submitted.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == quote.ask
    assert order.filled_at == START
    assert order.filled_qty == "10"

    cost = 10 * quote.ask
    account = tc.get_account()
    assert Decimal(account.cash or "") == START_CASH - cost
    assert Decimal(account.buying_power or "") == START_CASH - cost
    mid = quote.ask - Decimal("0.01")
    assert Decimal(account.equity or "") == START_CASH - cost + 10 * mid

    position = tc.get_open_position("AAPL")
    assert position.qty == "10"
    assert Decimal(position.avg_entry_price) == quote.ask
    assert Decimal(position.cost_basis) == cost
    assert Decimal(position.current_price or "") == mid

    (activity,) = fills(tc)
    assert activity["order_id"] == str(order.id)
    assert activity["id"].startswith("20240103100000000::")  # New York time of the fill
    assert (activity["qty"], activity["cum_qty"], activity["leaves_qty"]) == ("10", "10", "0")
    assert Decimal(activity["price"]) == quote.ask
    assert (activity["type"], activity["order_status"], activity["side"]) == (
        "fill",
        "filled",
        "buy",
    )


def test_market_sell_fills_at_the_bid_and_closing_removes_the_position(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    quote = sim.simulator.market.quote("AAPL", START)
    tc.submit_order(market_buy("AAPL", 10))
    sell = tc.submit_order(
        MarketOrderRequest(
            symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.DAY
        )
    )
    assert Decimal(str(tc.get_order_by_id(sell.id).filled_avg_price)) == quote.bid
    assert tc.get_all_positions() == []
    with pytest.raises(APIError) as info:
        tc.get_open_position("AAPL")
    assert (info.value.status_code, info.value.code) == (404, 40410000)
    spread_cost = 10 * (quote.ask - quote.bid)
    assert Decimal(tc.get_account().cash or "") == START_CASH - spread_cost


def test_order_after_the_close_stays_accepted_and_fills_at_the_next_open(
    move_clock, make_trading, make_data
) -> None:
    with running_simulator(start=EVENING) as handle:
        tc, dc = make_trading(handle), make_data(handle)
        submitted = tc.submit_order(market_buy("MSFT", 5))
        assert submitted.status == OrderStatus.ACCEPTED
        assert tc.get_order_by_id(submitted.id).status == OrderStatus.ACCEPTED

        move_clock(handle, NEXT_OPEN - timedelta(minutes=1))
        assert tc.get_order_by_id(submitted.id).status == OrderStatus.ACCEPTED

        move_clock(handle, datetime(2024, 1, 4, 15, 0, tzinfo=UTC))
        order = tc.get_order_by_id(submitted.id)
        assert order.status == OrderStatus.FILLED
        assert order.filled_at == NEXT_OPEN
        bars = dc.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols="MSFT",
                timeframe=TimeFrame.Hour,
                start=NEXT_OPEN - timedelta(minutes=30),
            )
        )
        first_bar = bars["MSFT"][0]
        assert first_bar.timestamp == datetime(2024, 1, 4, 14, 0, tzinfo=UTC)
        assert Decimal(str(order.filled_avg_price)) == Decimal(str(first_bar.open)) + Decimal(
            "0.01"
        )
        (activity,) = fills(tc)
        assert activity["transaction_time"].startswith("2024-01-04T14:30:00")


def _rest_of_day_low(handle: SimulatorHandle, symbol: str) -> Decimal:
    bars = handle.simulator.market.bars(symbol, SimTimeFrame.HOUR)
    lo, hi = bars.visible_range(START.timestamp(), CLOSE.timestamp(), CLOSE.timestamp())
    return Decimal(str(bars.l[lo + 1 : hi].min()))


def test_limit_buy_fills_at_its_limit_when_the_price_falls_to_it(
    sim: SimulatorHandle, tc: TradingClient, dc, move_clock
) -> None:
    limit = _rest_of_day_low(sim, "AAPL") + Decimal("0.02")
    assert sim.simulator.market.quote("AAPL", START).ask > limit  # not marketable yet
    submitted = tc.submit_order(limit_order("AAPL", 3, limit))
    assert tc.get_order_by_id(submitted.id).status == OrderStatus.NEW

    move_clock(sim, CLOSE)
    order = tc.get_order_by_id(submitted.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == limit
    assert order.filled_at is not None and START < order.filled_at < CLOSE
    bars = dc.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Hour, start=START)
    )
    hour = order.filled_at.replace(minute=0, second=0, microsecond=0)
    (bar,) = [b for b in bars["AAPL"] if b.timestamp == hour]
    assert Decimal(str(bar.low)) <= limit - Decimal("0.01")


def test_unfilled_day_limit_expires_at_the_close_while_gtc_stays_open(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    day = tc.submit_order(limit_order("AAPL", 2, Decimal("50")))
    gtc = tc.submit_order(limit_order("AAPL", 3, Decimal("50"), tif=TimeInForce.GTC))
    assert Decimal(tc.get_account().buying_power or "") == START_CASH - 250

    move_clock(sim, EVENING)
    expired = tc.get_order_by_id(day.id)
    assert expired.status == OrderStatus.EXPIRED
    assert expired.expired_at == CLOSE
    assert tc.get_order_by_id(gtc.id).status == OrderStatus.NEW
    assert Decimal(tc.get_account().buying_power or "") == START_CASH - 150


def test_marketable_limit_buy_fills_at_the_ask_not_the_limit(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    ask = sim.simulator.market.quote("AAPL", START).ask
    submitted = tc.submit_order(limit_order("AAPL", 1, ask + 5))
    order = tc.get_order_by_id(submitted.id)
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_avg_price)) == ask


def test_notional_buy_fills_a_fractional_quantity(sim: SimulatorHandle, tc: TradingClient) -> None:
    ask = sim.simulator.market.quote("AAPL", START).ask
    submitted = tc.submit_order(
        MarketOrderRequest(
            symbol="AAPL", notional=1000, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    assert submitted.notional == "1000" and submitted.qty is None
    order = tc.get_order_by_id(submitted.id)
    qty = Decimal(str(order.filled_qty))
    assert qty == (Decimal(1000) / ask).quantize(Decimal("0.000000001"), rounding="ROUND_DOWN")
    assert Decimal(tc.get_account().cash or "") == START_CASH - (qty * ask).quantize(
        Decimal("0.01")
    )


def test_duplicate_client_order_id_is_refused_even_for_a_canceled_order(
    tc: TradingClient,
) -> None:
    first = tc.submit_order(limit_order("AAPL", 1, Decimal("50"), client_order_id="dup-1"))
    tc.cancel_order_by_id(first.id)
    with pytest.raises(APIError) as info:
        tc.submit_order(limit_order("AAPL", 1, Decimal("50"), client_order_id="dup-1"))
    assert (info.value.status_code, info.value.code) == (422, 40010001)
    assert info.value.message == "client_order_id must be unique"
    assert len(tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))) == 1


def test_duplicate_client_order_id_of_a_filled_order_is_refused(tc: TradingClient) -> None:
    tc.submit_order(market_buy("AAPL", 1, "dup-2"))
    with pytest.raises(APIError) as info:
        tc.submit_order(market_buy("AAPL", 1, "dup-2"))
    assert (info.value.status_code, info.value.code) == (422, 40010001)
    assert tc.get_open_position("AAPL").qty == "1"


def test_buying_beyond_buying_power_is_refused_with_403(tc: TradingClient) -> None:
    with pytest.raises(APIError) as info:
        tc.submit_order(market_buy("AAPL", 1000))
    assert (info.value.status_code, info.value.code) == (403, 40310000)
    assert info.value.message == "insufficient buying power"
    assert info.value.response.json()["buying_power"] == "100000"
    assert tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []


def test_selling_more_than_held_is_refused_with_the_quantities(tc: TradingClient) -> None:
    tc.submit_order(market_buy("AAPL", 10))
    with pytest.raises(APIError) as info:
        tc.submit_order(
            MarketOrderRequest(
                symbol="AAPL", qty=15, side=OrderSide.SELL, time_in_force=TimeInForce.DAY
            )
        )
    assert (info.value.status_code, info.value.code) == (403, 40310000)
    assert (
        info.value.message == "insufficient qty available for order (requested: 15, available: 10)"
    )


def test_open_sell_orders_commit_shares(tc: TradingClient) -> None:
    tc.submit_order(market_buy("AAPL", 10))
    tc.submit_order(limit_order("AAPL", 6, Decimal("500"), side=OrderSide.SELL))
    assert tc.get_open_position("AAPL").qty_available == "4"
    with pytest.raises(APIError) as info:
        tc.submit_order(limit_order("AAPL", 5, Decimal("500"), side=OrderSide.SELL))
    assert "available: 4" in info.value.message


def test_cancel_open_order_then_cancel_again_is_refused(tc: TradingClient) -> None:
    order = tc.submit_order(limit_order("AAPL", 1, Decimal("50")))
    assert tc.cancel_order_by_id(order.id) is None
    canceled = tc.get_order_by_id(order.id)
    assert canceled.status == OrderStatus.CANCELED
    assert canceled.canceled_at == START
    with pytest.raises(APIError) as info:
        tc.cancel_order_by_id(order.id)
    assert info.value.status_code == 422


def test_cancel_of_a_filled_order_is_refused_with_422(tc: TradingClient) -> None:
    order = tc.submit_order(market_buy("AAPL", 1))
    with pytest.raises(APIError) as info:
        tc.cancel_order_by_id(order.id)
    assert (info.value.status_code, info.value.code) == (422, 42210000)
    assert tc.get_order_by_id(order.id).status == OrderStatus.FILLED


def test_unknown_orders_are_404(tc: TradingClient) -> None:
    unknown = uuid.uuid4()
    for call in (
        lambda: tc.get_order_by_id(unknown),
        lambda: tc.cancel_order_by_id(unknown),
        lambda: tc.get_order_by_client_id("never-submitted"),
    ):
        with pytest.raises(APIError) as info:
            call()
        assert (info.value.status_code, info.value.code) == (404, 40410000)


def test_unknown_symbol_is_refused_naming_it(tc: TradingClient) -> None:
    with pytest.raises(APIError) as info:
        tc.submit_order(market_buy("ZZZZ", 1))
    assert (info.value.status_code, info.value.code) == (422, 40010001)
    assert "ZZZZ" in info.value.message


def test_sub_penny_limit_price_is_refused(tc: TradingClient) -> None:
    with pytest.raises(APIError) as info:
        tc.submit_order(limit_order("AAPL", 1, Decimal("100.123")))
    assert (info.value.status_code, info.value.code) == (422, 42210000)
    assert info.value.message == (
        "invalid limit_price 100.123. sub-penny increment does not fulfill minimum pricing criteria"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"qty": "1", "notional": "10"}, "notional"),
        ({}, "qty"),
        ({"qty": "0"}, "qty"),
        ({"qty": "1", "time_in_force": "ioc"}, "time_in_force"),
        ({"qty": "1", "type": "stop"}, "stop_price"),
        ({"qty": "1", "type": "trailing_stop", "trail_percent": "1"}, "trailing_stop"),
        (
            {"qty": "1.5", "type": "limit", "limit_price": "10", "time_in_force": "gtc"},
            "fractional",
        ),
        ({"qty": "1", "client_order_id": "x" * 129}, "client_order_id"),
    ],
)
def test_invalid_order_bodies_are_refused_with_422_naming_the_problem(
    sim: SimulatorHandle, tc: TradingClient, body: dict[str, str], field: str
) -> None:
    payload = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", **body}
    with pytest.raises(APIError) as info:
        tc.post("/orders", payload)
    assert info.value.status_code == 422
    assert isinstance(info.value.code, int)
    assert field in info.value.message


def test_order_fields_accept_strings_as_well_as_numbers(tc: TradingClient) -> None:
    order = tc.post(
        "/orders",
        {
            "symbol": "AAPL",
            "qty": "2",
            "side": "buy",
            "type": "limit",
            "limit_price": "50.10",
            "time_in_force": "gtc",
        },
    )
    assert isinstance(order, dict)
    assert (order["qty"], order["limit_price"], order["status"]) == ("2", "50.1", "pending_new")
    assert len(order["client_order_id"]) == 36  # generated uuid4


def test_list_orders_defaults_to_open_newest_first_with_exclusive_bounds(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    filled = tc.submit_order(market_buy("AAPL", 1))
    sim.simulator.advance(60)
    first_open = tc.submit_order(limit_order("MSFT", 1, Decimal("50")))
    sim.simulator.advance(60)
    second_open = tc.submit_order(limit_order("AAPL", 1, Decimal("50")))

    assert [o.id for o in tc.get_orders()] == [second_open.id, first_open.id]
    closed = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert [o.id for o in closed] == [filled.id]
    everything = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc"))
    assert [o.id for o in everything] == [filled.id, first_open.id, second_open.id]
    between = tc.get_orders(
        GetOrdersRequest(
            status=QueryOrderStatus.ALL,
            after=filled.submitted_at,
            until=second_open.submitted_at,
        )
    )
    assert [o.id for o in between] == [first_open.id]
    aapl_only = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["AAPL"]))
    assert {o.id for o in aapl_only} == {filled.id, second_open.id}
    newest = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=1, nested=True))
    assert [o.id for o in newest] == [second_open.id]
    sells = tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, side=OrderSide.SELL))
    assert sells == []


def test_fill_activities_page_by_the_last_id_in_both_directions(
    sim: SimulatorHandle, tc: TradingClient
) -> None:
    for _ in range(3):
        tc.submit_order(market_buy("KO", 1))
        sim.simulator.advance(60)
    newest_first = fills(tc)
    assert len(newest_first) == 3
    times = [a["transaction_time"] for a in newest_first]
    assert times == sorted(times, reverse=True)
    page1 = fills(tc, direction="asc", page_size=2)
    page2 = fills(tc, direction="asc", page_size=2, page_token=page1[-1]["id"])
    assert [a["id"] for a in page1 + page2] == [a["id"] for a in reversed(newest_first)]
    after_first = fills(tc, after=page1[0]["transaction_time"], direction="asc")
    assert [a["id"] for a in after_first] == [page1[1]["id"], page2[0]["id"]]


def test_last_equity_is_the_equity_at_the_previous_close(
    sim: SimulatorHandle, tc: TradingClient, move_clock
) -> None:
    tc.submit_order(market_buy("AAPL", 10))
    assert tc.get_account().last_equity == "100000"
    day_close = sim.simulator.market.price_at("AAPL", CLOSE)
    move_clock(sim, datetime(2024, 1, 4, 16, 0, tzinfo=UTC))
    account = tc.get_account()
    cash = Decimal(account.cash or "")
    assert Decimal(account.last_equity or "") == cash + 10 * day_close
    assert Decimal(tc.get_open_position("AAPL").lastday_price or "") == day_close


def test_state_file_keeps_orders_fills_and_cash_across_a_restart(
    tmp_path: Path, make_trading
) -> None:
    state = tmp_path / "sim" / "state.json"
    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        tc.submit_order(market_buy("AAPL", 5, "demo-aapl-1"))
        tc.submit_order(limit_order("MSFT", 1, Decimal("50"), client_order_id="demo-msft-1"))
        cash_before = tc.get_account().cash
    assert state.exists()

    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        assert tc.get_order_by_client_id("demo-aapl-1").status == OrderStatus.FILLED
        assert tc.get_order_by_client_id("demo-msft-1").status == OrderStatus.NEW
        assert tc.get_account().cash == cash_before
        assert tc.get_open_position("AAPL").qty == "5"
        assert len(fills(tc)) == 1
        with pytest.raises(APIError) as info:
            tc.submit_order(market_buy("AAPL", 5, "demo-aapl-1"))
        assert info.value.status_code == 422
        assert len(tc.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))) == 2


def test_restart_resumes_the_clock_where_the_state_file_left_it(tmp_path: Path, move_clock) -> None:
    state = tmp_path / "state.json"
    later = START + timedelta(hours=2)
    with running_simulator(start=START, state_path=state) as handle:
        move_clock(handle, later)
    with running_simulator(start=START, state_path=state) as handle:
        assert handle.simulator.clock.now() == later
