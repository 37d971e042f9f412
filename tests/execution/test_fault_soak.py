"""Fault soak: 200 cycles of submit + sync while the broker misbehaves at seeded rates.

Every request risks a 429 (10%), a 500 or 503 (5% together) or a hang (2%, a timeout for our
0.5 s client); a POST /v2/orders also risks a 504 after the order was placed (2%). Afterwards
the broker holds no duplicate, every intent is at the broker or recorded refused with a reason,
and every order and fill the broker has is landed in the state the broker gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from requests import RequestException
from sqlalchemy import Engine, text

from config.alpaca import shared_rate_limiter, trading_client
from config.alpaca_http import AlpacaSession
from config.database import Connection
from config.settings import Settings
from execution.orders import ApprovedOrder, approved_orders
from execution.submit import submit_orders
from ingestion.fills import sync_fills
from ingestion.orders import sync_orders
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle, running_simulator
from tests.execution.approved import DECIDED, approved

pytestmark = pytest.mark.integration

CYCLES = 200
SYMBOLS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA", "KO", "INTC", "AMD", "CSCO", "NKE"]
FAULTS = [
    FaultRule(kind="429", rate=0.10),
    FaultRule(kind="500", rate=0.025),
    FaultRule(kind="503", rate=0.025),
    FaultRule(kind="504_after", method="POST", path="/v2/orders", rate=0.02),
    FaultRule(kind="hang", rate=0.02, delay_seconds=10),
]
FAULT_SEED = 20240305


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(
        start=DECIDED.replace(hour=15, minute=5), speed=0.0, faults=FAULTS, fault_seed=FAULT_SEED
    ) as handle:
        yield handle


@pytest.fixture
def client(sim: SimulatorHandle, fresh_database: Connection, settings_for) -> TradingClient:  # type: ignore[no-untyped-def]
    """The executor's client with a short timeout (a hang costs 0.5 s) and short backoffs."""
    settings: Settings = settings_for(fresh_database, sim.url)
    client = trading_client(settings)
    client._session = AlpacaSession(
        shared_rate_limiter(settings), timeout=0.5, backoff_base=0.01, backoff_cap=0.05
    )
    return client


def cycle_orders(cycle: int) -> list[ApprovedOrder]:
    """Three one-share buys per cycle; every 20th cycle one of them is far beyond buying power."""
    decided = DECIDED + timedelta(minutes=cycle)
    symbols = [SYMBOLS[(3 * cycle + i) % len(SYMBOLS)] for i in range(3)]
    orders = [approved(symbol, 1, decided=decided) for symbol in symbols]
    if cycle % 20 == 0:
        orders[0] = approved(symbols[0], 1_000_000, decided=decided)
    return orders


def sync(client: TradingClient, engine: Engine) -> bool:
    """Land orders and fills; False when the broker kept failing (the next cycle catches up)."""
    try:
        sync_orders(client, engine)
        sync_fills(client, engine)
    except (APIError, RequestException):
        return False
    return True


def test_soak_leaves_no_duplicate_no_lost_intent_and_every_order_known(
    sim: SimulatorHandle,
    client: TradingClient,
    engine: Engine,
    approve: Callable[[list[ApprovedOrder]], None],
) -> None:
    failed_syncs = 0
    for cycle in range(CYCLES):
        approve(cycle_orders(cycle))
        submit_orders(client, engine, approved_orders(engine), "paper")
        sim.simulator.advance(60)
        failed_syncs += not sync(client, engine)

    fired = {rule["kind"]: rule["fired"] for rule in sim.simulator.faults.snapshot()["faults"]}
    assert all(count > 0 for count in fired.values()), fired
    sim.simulator.faults.clear()
    last = submit_orders(client, engine, [], "paper")  # settles what the last cycle left open
    sim.simulator.advance(60)
    assert sync(client, engine)

    broker = sim.simulator.broker.list_orders(status="all", limit=10_000)
    at_broker = {o.client_order_id: o for o in broker}
    assert len(at_broker) == len(broker), "two broker orders share a client_order_id"
    with engine.connect() as conn:
        intents = {
            row.client_order_id: row
            for row in conn.execute(
                text(
                    "select client_order_id, status, broker_order_id, reason, qty "
                    "from raw.order_submissions"
                )
            )
        }
        landed = {
            row.client_order_id: row.status
            for row in conn.execute(text("select client_order_id, status from raw.orders"))
        }
        fills = conn.execute(text("select count(*) from raw.fills")).scalar_one()

    assert len(intents) == 3 * CYCLES
    submitted = {cid for cid, row in intents.items() if row.status == "submitted"}
    refused = {cid for cid, row in intents.items() if row.status == "rejected"}
    assert submitted | refused == set(intents), "an intent is still pending or unknown"
    assert submitted == set(at_broker)
    assert all(intents[cid].broker_order_id == str(at_broker[cid].id) for cid in submitted)
    too_big = {cid for cid, row in intents.items() if row.qty == 1_000_000}
    assert too_big <= refused
    assert all("insufficient buying power" in intents[cid].reason for cid in too_big)
    assert all(intents[cid].reason.startswith("never reached") for cid in refused - too_big)

    assert landed == {o.client_order_id: o.status for o in broker}
    assert {o.status for o in broker} == {"filled"}
    assert fills == len(sim.simulator.broker.fills)
    print(  # the soak's own figures, shown with pytest -s
        f"faults fired {fired}; {len(submitted)} placed, {len(refused - too_big)} abandoned, "
        f"{len(too_big)} refused by the broker; {failed_syncs} failed syncs; "
        f"final pass settled {len(last.already_done)} and abandoned {len(last.abandoned)}"
    )
