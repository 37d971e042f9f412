"""Every order type of marts.approved_orders reaches the simulator as it was decided, and a
bracket strategy's exit cancels the bracket's live legs before it sells."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrderByIdRequest, GetOrdersRequest
from sqlalchemy import Engine

from execution.orders import CONTRACT, ApprovedOrder
from execution.submit import submit_orders
from simulator.server import SimulatorHandle
from tests.execution.approved import DECIDED, MARKET_OPEN, approved


def decided(symbol: str, side: str = "buy", qty: int = 2, **fields: object) -> ApprovedOrder:
    """brk's order decided on the 14:00 bar, its id ending in the side as risk_decisions' do."""
    return approved(
        symbol,
        qty,
        side,
        strategy="brk",
        client_order_id=f"brk-{symbol}-{DECIDED:%Y%m%d%H%M}-{side[0]}",
        as_of=MARKET_OPEN,
        **fields,
    )


def price(sim: SimulatorHandle, symbol: str, factor: str) -> Decimal:
    return round(sim.simulator.market.quote(symbol, MARKET_OPEN).ask * Decimal(factor), 2)


def bracket_entry(sim: SimulatorHandle) -> ApprovedOrder:
    """A gtc bracket buy of NVDA whose legs stay far from the price (neither fills)."""
    return decided(
        "NVDA",
        order_class="bracket",
        time_in_force="gtc",
        take_profit_price=price(sim, "NVDA", "1.5"),
        stop_loss_price=price(sim, "NVDA", "0.5"),
    )


def enter_with_bracket(client: TradingClient, sim: SimulatorHandle, engine: Engine) -> None:
    """Place the bracket entry and let it fill: its exit legs are then live."""
    submit_orders(client, engine, [bracket_entry(sim)], "paper")
    sim.simulator.advance(1)


def at_broker(client: TradingClient, client_order_id: str) -> Order:
    return client.get_order_by_client_id(client_order_id)  # type: ignore[return-value]


def test_each_order_type_reaches_the_broker_with_its_prices(
    client: TradingClient, sim: SimulatorHandle, engine: Engine
) -> None:
    orders = [
        decided("AAPL"),
        decided("MSFT", order_type="limit", limit_price=price(sim, "MSFT", "0.9")),
        decided("GOOGL", order_type="stop", stop_price=price(sim, "GOOGL", "1.1")),
        decided(
            "AMZN",
            order_type="stop_limit",
            stop_price=price(sim, "AMZN", "1.1"),
            limit_price=price(sim, "AMZN", "1.12"),
        ),
        bracket_entry(sim),
    ]
    summary = submit_orders(client, engine, orders, "paper")
    assert sorted(summary.submitted) == sorted(o.client_order_id for o in orders)
    sim.simulator.advance(1)

    for order in orders:
        placed = at_broker(client, order.client_order_id)
        assert placed.order_type is not None
        assert (placed.order_type.value, placed.time_in_force.value) == (
            order.order_type,
            order.time_in_force,
        )
        assert placed.qty is not None and Decimal(placed.qty) == order.qty
        for name in ("limit_price", "stop_price"):
            sent = getattr(placed, name)
            assert (Decimal(sent) if sent is not None else None) == getattr(order, name)
    assert at_broker(client, "brk-AAPL-202403051400-b").status.value == "filled"
    assert at_broker(client, "brk-MSFT-202403051400-b").status.value == "new"
    bracket = client.get_order_by_id(
        at_broker(client, "brk-NVDA-202403051400-b").id, GetOrderByIdRequest(nested=True)
    )
    assert bracket.order_class is not None and bracket.order_class.value == "bracket"  # type: ignore[union-attr]
    legs = {leg.order_type.value: leg for leg in bracket.legs or []}  # type: ignore[union-attr]
    assert Decimal(legs["limit"].limit_price) == orders[-1].take_profit_price
    assert Decimal(legs["stop"].stop_price) == orders[-1].stop_loss_price


def test_an_exit_cancels_the_brackets_live_legs_then_sells(
    client: TradingClient, sim: SimulatorHandle, engine: Engine
) -> None:
    enter_with_bracket(client, sim, engine)
    held = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["NVDA"]))
    assert sorted(o.status.value for o in held) == ["held", "new"]  # type: ignore[union-attr]

    exit_ = decided("NVDA", side="sell", cancel_open_exits=True, time_in_force="gtc")
    summary = submit_orders(client, engine, [exit_], "paper")
    sim.simulator.advance(1)

    assert summary.submitted == [exit_.client_order_id]
    assert at_broker(client, exit_.client_order_id).status.value == "filled"
    still_open = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["NVDA"]))
    assert still_open == []
    assert client.get_all_positions() == []


def test_without_cancelling_the_legs_the_broker_refuses_the_exit(
    client: TradingClient, sim: SimulatorHandle, engine: Engine
) -> None:
    enter_with_bracket(client, sim, engine)
    exit_ = decided("NVDA", side="sell", time_in_force="gtc")
    summary = submit_orders(client, engine, [exit_], "paper")
    assert summary.rejected == [exit_.client_order_id]


def test_the_order_model_has_the_contracts_columns_in_order() -> None:
    assert list(ApprovedOrder.model_fields) == [name for name, _, _ in CONTRACT]


def test_an_order_missing_a_price_its_type_needs_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"brk-MSFT-202403051400-b: limit_price is required"):
        decided("MSFT", order_type="limit")
    with pytest.raises(ValueError, match=r"stop_loss_price is required for a bracket market"):
        decided("NVDA", order_class="bracket", take_profit_price=Decimal(10))
    with pytest.raises(ValueError, match=r"stop_price \(5\) does not apply"):
        decided("AAPL", stop_price=Decimal(5))
