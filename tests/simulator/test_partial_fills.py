"""Partial fills (Alpaca paper splits 10% of fills), seeded, through the real alpaca-py client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from simulator.broker import PARTIAL_FILL_INTERVAL, START_CASH, FillModel
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)  # Wed 10:00 New York
CLOSE = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)


@pytest.fixture
def always_partial() -> Iterator[SimulatorHandle]:
    """A simulator that splits every fill it can (probability 1, seed 0)."""
    model = FillModel(partial_fill_probability=1.0, seed=0)
    with running_simulator(start=START, fill_model=model) as handle:
        yield handle


def buy(tc: TradingClient, qty: int, symbol: str = "AAPL") -> str:
    """Submit a market day buy; its order id."""
    order = tc.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    return str(order.id)


def fills(tc: TradingClient) -> list[dict[str, str]]:
    """FILL activities, oldest first."""
    result = tc.get("/account/activities/FILL", {"direction": "asc"})
    assert isinstance(result, list)
    return result


def executions(handle: SimulatorHandle, make_trading: Any, qty: int) -> list[tuple[str, str, str]]:
    """(time, qty, price) of each execution of one market buy, after ten minutes."""
    tc = make_trading(handle)
    buy(tc, qty)
    handle.simulator.advance(600)
    return [(a["transaction_time"], a["qty"], a["price"]) for a in fills(tc)]


def test_an_order_fills_in_parts_a_minute_apart_until_complete(
    always_partial: SimulatorHandle, make_trading: Any
) -> None:
    tc = make_trading(always_partial)
    order_id = buy(tc, 10)
    first = tc.get_order_by_id(order_id)
    assert first.status == OrderStatus.PARTIALLY_FILLED
    assert 0 < Decimal(str(first.filled_qty)) < 10
    assert first.filled_at is None

    always_partial.simulator.advance(600)
    order = tc.get_order_by_id(order_id)
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, "10")
    activities = fills(tc)
    assert len(activities) >= 2
    assert [a["type"] for a in activities] == ["partial_fill"] * (len(activities) - 1) + ["fill"]
    assert [a["order_status"] for a in activities[:-1]] == ["partially_filled"] * (
        len(activities) - 1
    )
    assert sum(Decimal(a["qty"]) for a in activities) == 10
    cumulative = Decimal(0)
    for n, activity in enumerate(activities):
        cumulative += Decimal(activity["qty"])
        assert (Decimal(activity["cum_qty"]), Decimal(activity["leaves_qty"])) == (
            cumulative,
            10 - cumulative,
        )
        at = datetime.fromisoformat(activity["transaction_time"])
        assert at == START + n * PARTIAL_FILL_INTERVAL
        ask = always_partial.simulator.market.quote("AAPL", at).ask
        assert Decimal(activity["price"]) == ask
    cost = sum(Decimal(a["qty"]) * Decimal(a["price"]) for a in activities)
    assert Decimal(str(order.filled_avg_price)) == (cost / 10).quantize(Decimal("0.0001"))
    assert Decimal(tc.get_account().cash or "") == START_CASH - cost
    assert tc.get_open_position("AAPL").qty == "10"


def test_partial_fills_replay_exactly_for_a_seed_and_differ_for_another(
    make_trading: Any,
) -> None:
    runs = []
    for seed in (0, 0, 1):
        model = FillModel(partial_fill_probability=1.0, seed=seed)
        with running_simulator(start=START, fill_model=model) as handle:
            runs.append(executions(handle, make_trading, 50))
    assert runs[0] == runs[1]
    assert [q for _, q, _ in runs[0]] != [q for _, q, _ in runs[2]]


def test_a_day_order_still_partly_open_at_the_close_expires_with_its_fills(
    make_trading: Any,
) -> None:
    model = FillModel(partial_fill_probability=1.0, seed=0)
    with running_simulator(start=CLOSE - timedelta(minutes=2), fill_model=model) as handle:
        tc = make_trading(handle)
        order_id = buy(tc, 100)
        handle.simulator.advance(3600)
        order = tc.get_order_by_id(order_id)
        assert (order.status, order.expired_at) == (OrderStatus.EXPIRED, CLOSE)
        activities = fills(tc)
        assert len(activities) == 2  # at 15:58 and 15:59 New York; 16:00 is the close
        assert {a["type"] for a in activities} == {"partial_fill"}
        filled = sum(Decimal(a["qty"]) for a in activities)
        assert Decimal(str(order.filled_qty)) == filled < 100
        assert tc.get_open_position("AAPL").qty == str(filled)
        account = tc.get_account()
        assert Decimal(account.buying_power or "") == Decimal(account.cash or "")


def test_admin_fill_model_sets_alpaca_papers_rate_with_a_reproducible_outcome(
    sim: SimulatorHandle, tc: TradingClient, http: httpx.Client
) -> None:
    assert http.get(f"{sim.url}/admin/fill_model").json() == {
        "partial_fill_probability": 0.0,
        "seed": 0,
    }
    answer = http.post(
        f"{sim.url}/admin/fill_model", json={"partial_fill_probability": 0.1, "seed": 42}
    )
    assert answer.json() == {"partial_fill_probability": 0.1, "seed": 42}
    ids = [buy(tc, 10, symbol) for symbol in ("AAPL", "MSFT", "KO", "SPY", "JPM") * 8]
    split = [i for i in ids if tc.get_order_by_id(i).status == OrderStatus.PARTIALLY_FILLED]
    assert len(split) == 5  # seed 42 splits 5 of these 40 fills (about 10%)
    sim.simulator.advance(3600)
    assert {tc.get_order_by_id(i).status for i in ids} == {OrderStatus.FILLED}


def test_admin_fill_model_refuses_a_probability_outside_0_to_1(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    answer = http.post(f"{sim.url}/admin/fill_model", json={"partial_fill_probability": 1.5})
    assert answer.status_code == 422
    assert answer.json()["message"] == "partial_fill_probability must be within [0, 1], got 1.5"
    assert http.get(f"{sim.url}/admin/fill_model").json()["partial_fill_probability"] == 0.0


def test_a_partly_filled_order_resumes_after_a_restart_with_the_state_file(
    tmp_path: Path, make_trading: Any
) -> None:
    state = tmp_path / "state.json"
    model = FillModel(partial_fill_probability=1.0, seed=0)
    with running_simulator(start=START, state_path=state, fill_model=model) as handle:
        tc = make_trading(handle)
        order_id = buy(tc, 10)
        before = tc.get_order_by_id(order_id)
        assert before.status == OrderStatus.PARTIALLY_FILLED
    with running_simulator(start=START, state_path=state, fill_model=model) as handle:
        tc = make_trading(handle)
        assert tc.get_order_by_id(order_id).filled_qty == before.filled_qty
        handle.simulator.advance(600)
        assert tc.get_order_by_id(order_id).status == OrderStatus.FILLED
    with running_simulator(start=START, fill_model=model) as handle:
        uninterrupted = executions(handle, make_trading, 10)
    with running_simulator(start=START, state_path=state) as handle:
        tc = make_trading(handle)
        assert [(a["transaction_time"], a["qty"], a["price"]) for a in fills(tc)] == uninterrupted
