"""Execution against the simulator: each approved order reaches the broker exactly once."""

from __future__ import annotations

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest
from sqlalchemy import Engine, text

from config.alpaca import trading_client
from config.database import Connection
from config.settings import Settings
from execution.orders import ApprovedOrder
from execution.submit import submit_orders
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle
from tests.execution.approved import approved


def order(symbol: str = "AAPL", qty: str = "10", side: str = "buy") -> ApprovedOrder:
    return approved(symbol, int(qty), side)


def broker_orders(client: TradingClient) -> list[str]:
    orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    return sorted(o.client_order_id for o in orders)  # type: ignore[union-attr]


def submissions(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        return [
            tuple(row)  # type: ignore[misc]
            for row in conn.execute(
                text(
                    "select client_order_id, status, reason from raw.order_submissions "
                    "order by client_order_id"
                )
            )
        ]


def test_running_twice_submits_each_order_once(client: TradingClient, engine: Engine) -> None:
    orders = [order("AAPL"), order("MSFT", qty="3")]
    first = submit_orders(client, engine, orders, "paper")
    second = submit_orders(client, engine, orders, "paper")
    assert sorted(first.submitted) == [o.client_order_id for o in orders]
    assert sorted(second.already_done) == [o.client_order_id for o in orders]
    assert second.submitted == []
    assert broker_orders(client) == sorted(o.client_order_id for o in orders)
    assert [row[1] for row in submissions(engine)] == ["submitted", "submitted"]


def test_intent_left_pending_by_a_crash_before_sending_is_sent_once(
    client: TradingClient, engine: Engine
) -> None:
    pending = order()
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.order_submissions (client_order_id, strategy, symbol, side, qty, "
                "order_type, time_in_force, decision_ts, trading_mode, status) values "
                "(:cid, 'sma_crossover', 'AAPL', 'buy', 10, 'market', 'day', :ts, 'paper', "
                "'pending')"
            ),
            {"cid": pending.client_order_id, "ts": pending.decision_ts},
        )
    summary = submit_orders(client, engine, [pending], "paper")
    assert summary.submitted == [pending.client_order_id]
    assert broker_orders(client) == [pending.client_order_id]


def test_intent_left_pending_after_the_broker_took_it_is_not_sent_again(
    client: TradingClient, engine: Engine
) -> None:
    placed = order()
    submit_orders(client, engine, [placed], "paper")
    with engine.begin() as conn:  # the crash: the broker has it, our record still says pending
        conn.execute(text("update raw.order_submissions set status = 'pending'"))
    summary = submit_orders(client, engine, [placed], "paper")
    assert summary.submitted == []
    assert summary.already_done == [placed.client_order_id]
    assert broker_orders(client) == [placed.client_order_id]
    assert submissions(engine)[0][1] == "submitted"


def test_refused_order_is_recorded_with_the_brokers_reason(
    client: TradingClient, engine: Engine
) -> None:
    too_big = order(qty="100000")
    summary = submit_orders(client, engine, [too_big], "paper")
    assert summary.rejected == [too_big.client_order_id]
    (cid, status, reason) = submissions(engine)[0]
    assert status == "rejected"
    assert reason is not None and "403" in reason and "insufficient buying power" in reason
    assert broker_orders(client) == []
    again = submit_orders(client, engine, [too_big], "paper")
    assert again.already_done == [cid] and broker_orders(client) == []


def posts(sim: SimulatorHandle) -> int:
    return sim.simulator.requests.counts().get("POST /v2/orders", 0)


def lookups(sim: SimulatorHandle) -> int:
    return sim.simulator.requests.counts().get("GET /v2/orders:by_client_order_id", 0)


def test_order_placed_behind_a_504_is_found_by_its_id_and_not_sent_again(
    sim: SimulatorHandle, client: TradingClient, engine: Engine
) -> None:
    sim.simulator.faults.replace([FaultRule(kind="504_after", method="POST", path="/v2/orders")])
    placed = order()
    summary = submit_orders(client, engine, [placed], "paper")
    assert summary.submitted == [placed.client_order_id]
    assert (posts(sim), lookups(sim)) == (1, 1)
    assert broker_orders(client) == [placed.client_order_id]
    assert submissions(engine)[0][1] == "submitted"


@pytest.mark.parametrize("kind", ["429", "500", "503", "drop"])
def test_post_that_did_not_land_is_looked_up_then_sent_once_more(
    sim: SimulatorHandle, client: TradingClient, engine: Engine, kind: str
) -> None:
    sim.simulator.faults.replace([FaultRule(kind=kind, method="POST", path="/v2/orders", times=1)])
    placed = order()
    summary = submit_orders(client, engine, [placed], "paper")
    assert summary.submitted == [placed.client_order_id]
    assert (posts(sim), lookups(sim)) == (2, 1)
    assert broker_orders(client) == [placed.client_order_id]


def test_timed_out_post_is_looked_up_before_it_is_sent_again(
    sim: SimulatorHandle,
    fresh_database: Connection,
    settings_for,
    engine: Engine,  # type: ignore[no-untyped-def]
) -> None:
    settings: Settings = settings_for(fresh_database, sim.url)
    client = trading_client(settings.model_copy(update={"alpaca_timeout_seconds": 0.5}))
    sim.simulator.faults.replace(
        [FaultRule(kind="hang", method="POST", path="/v2/orders", times=1, delay_seconds=5)]
    )
    placed = order()
    summary = submit_orders(client, engine, [placed], "paper")
    assert summary.submitted == [placed.client_order_id]
    assert (posts(sim), lookups(sim)) == (2, 1)
    assert broker_orders(client) == [placed.client_order_id]


def test_order_the_broker_already_holds_is_recorded_from_the_duplicate_id_refusal(
    sim: SimulatorHandle, client: TradingClient, engine: Engine
) -> None:
    placed = order()
    client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=placed.client_order_id,
        )
    )
    summary = submit_orders(client, engine, [placed], "paper")
    assert summary.submitted == [placed.client_order_id]
    assert broker_orders(client) == [placed.client_order_id]
    assert submissions(engine)[0][1] == "submitted"


def test_outcome_the_broker_cannot_tell_stays_unknown_until_a_later_run_finds_it(
    sim: SimulatorHandle, client: TradingClient, engine: Engine
) -> None:
    sim.simulator.faults.replace(
        [
            FaultRule(kind="504_after", method="POST", path="/v2/orders"),
            FaultRule(kind="500", method="GET", path="/v2/orders:by_client_order_id"),
        ]
    )
    client._session.sleep = lambda _seconds: None  # type: ignore[attr-defined]
    placed = order()
    first = submit_orders(client, engine, [placed], "paper")
    assert first.unknown == [placed.client_order_id]
    assert submissions(engine)[0][1] == "unknown"
    sim.simulator.faults.clear()
    second = submit_orders(client, engine, [placed], "paper")
    assert second.already_done == [placed.client_order_id]
    assert posts(sim) == 1
    assert broker_orders(client) == [placed.client_order_id]
    assert submissions(engine)[0][1] == "submitted"


def test_unsettled_intent_no_longer_approved_is_looked_up_and_never_sent_late(
    sim: SimulatorHandle, client: TradingClient, engine: Engine
) -> None:
    placed, lost = order("AAPL"), order("MSFT")
    client._session.sleep = lambda _seconds: None  # type: ignore[attr-defined]
    sim.simulator.faults.replace(
        [
            FaultRule(kind="504_after", method="POST", path="/v2/orders", times=1),
            FaultRule(kind="500", method="POST", path="/v2/orders"),
            FaultRule(kind="500", method="GET", path="/v2/orders:by_client_order_id"),
        ]
    )
    first = submit_orders(client, engine, [placed, lost], "paper")
    assert first.unknown == [placed.client_order_id, lost.client_order_id]
    sim.simulator.faults.clear()
    later = submit_orders(client, engine, [], "paper")
    assert later.already_done == [placed.client_order_id]
    assert later.abandoned == [lost.client_order_id]
    assert broker_orders(client) == [placed.client_order_id]
    assert [(cid, status) for cid, status, _ in submissions(engine)] == [
        (placed.client_order_id, "submitted"),
        (lost.client_order_id, "rejected"),
    ]


def test_interrupted_run_still_records_the_answers_received_before_it(
    sim: SimulatorHandle, client: TradingClient, engine: Engine
) -> None:
    orders = [order("AAPL"), order("MSFT"), order("AMZN")]
    answers = 0

    def interrupt_at_the_third_answer(step: str) -> None:
        nonlocal answers
        answers += step == "answered"
        if answers == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        submit_orders(client, engine, orders, "paper", interrupt_at_the_third_answer)
    assert [(cid, status) for cid, status, _ in submissions(engine)] == [
        ("sma_crossover-AAPL-202403051400", "submitted"),
        ("sma_crossover-AMZN-202403051400", "pending"),  # placed, its answer not yet recorded
        ("sma_crossover-MSFT-202403051400", "submitted"),
    ]
    rerun = submit_orders(client, engine, orders, "paper")
    assert rerun.already_done == [o.client_order_id for o in orders]
    assert posts(sim) == 3
    assert broker_orders(client) == sorted(o.client_order_id for o in orders)
    assert {status for _, status, _ in submissions(engine)} == {"submitted"}
