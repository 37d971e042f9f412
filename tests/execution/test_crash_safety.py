"""Crash safety: the executor process is SIGKILLed at each dangerous moment, then run again.

The executor runs as its own process against the simulator (in this process, over HTTP) and a
fresh database. Whatever the moment of the kill, the rerun (`trading execute`) leaves exactly one
broker order per approved decision, every intent recorded as submitted with the broker's id, and
no POST sent for an order the broker already held.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from execution.orders import ApprovedOrder
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle
from tests.execution.approved import approved

pytestmark = pytest.mark.integration

CRASHING = Path(__file__).with_name("crashing_executor.py")
ORDERS = [approved("AAPL", 3), approved("MSFT", 2)]
Approve = Callable[[list[ApprovedOrder]], None]


@pytest.fixture
def env(executor_env: dict[str, str], approve: Approve) -> dict[str, str]:
    approve(ORDERS)
    return {
        **os.environ,
        **executor_env,
        "ALPACA_TIMEOUT_SECONDS": "120",  # a hung POST stays hung until the kill
    }


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def killed_at(env: dict[str, str], step: str, nth: int = 1) -> None:
    """Run the executor until it SIGKILLs itself the `nth` time it reaches `step`."""
    process = start(env, str(CRASHING), step, str(nth))
    output, _ = process.communicate(timeout=180)
    assert process.returncode == -signal.SIGKILL, output


def rerun(env: dict[str, str]) -> str:
    """`trading execute` to completion; returns its output."""
    process = start(env, "-m", "flows.cli", "execute")
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    return output


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def posts(sim: SimulatorHandle) -> int:
    return sim.simulator.requests.counts().get("POST /v2/orders", 0)


def broker_orders(sim: SimulatorHandle) -> dict[str, str]:
    """client_order_id → broker order id, for every order the broker holds (one per id)."""
    orders = sim.simulator.broker.list_orders(status="all", limit=10_000)
    ids = {o.client_order_id: str(o.id) for o in orders}
    assert len(ids) == len(orders), "two broker orders share a client_order_id"
    return ids


def submissions(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("select client_order_id, status, broker_order_id from raw.order_submissions")
        )
        return {row.client_order_id: (row.status, row.broker_order_id) for row in rows}


def assert_exactly_once(sim: SimulatorHandle, engine: Engine) -> None:
    held = broker_orders(sim)
    assert sorted(held) == sorted(o.client_order_id for o in ORDERS)
    assert submissions(engine) == {cid: ("submitted", order_id) for cid, order_id in held.items()}


def test_kill_after_the_intent_is_stored_sends_each_order_once_on_rerun(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    killed_at(env, "recorded")
    assert {s for s, _ in submissions(engine).values()} == {"pending"}
    assert posts(sim) == 0
    output = rerun(env)
    assert "2 approved: 2 submitted" in output
    assert posts(sim) == 2
    assert_exactly_once(sim, engine)


def test_kill_while_the_post_hangs_unprocessed_sends_it_again_after_a_lookup(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    sim.simulator.faults.replace(
        [FaultRule(kind="hang", method="POST", path="/v2/orders", times=1)]
    )
    process = start(env, "-m", "flows.cli", "execute")
    wait_for(lambda: posts(sim) == 1, "the first POST")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert broker_orders(sim) == {}
    rerun(env)
    assert posts(sim) == 3  # the hung one, then one per order after its lookup found nothing
    assert_exactly_once(sim, engine)


def test_kill_while_a_slow_post_is_still_placing_the_order_never_sends_it_twice(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    sim.simulator.faults.replace(
        [FaultRule(kind="slow", method="POST", path="/v2/orders", times=1, delay_seconds=2)]
    )
    process = start(env, "-m", "flows.cli", "execute")
    wait_for(lambda: posts(sim) == 1, "the first POST")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    wait_for(lambda: len(broker_orders(sim)) == 1, "the broker to place the orphaned POST")
    assert {s for s, _ in submissions(engine).values()} == {"pending"}
    output = rerun(env)
    assert "1 submitted" in output and "1 already done" in output
    assert posts(sim) == 2  # the orphaned one found by its id, not sent again
    assert_exactly_once(sim, engine)


def test_kill_after_the_answer_before_it_is_recorded_finds_the_order_on_rerun(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    killed_at(env, "answered")
    assert list(broker_orders(sim)) == [ORDERS[0].client_order_id]
    assert {s for s, _ in submissions(engine).values()} == {"pending"}
    output = rerun(env)
    assert "1 submitted" in output and "1 already done" in output
    assert posts(sim) == 2
    assert_exactly_once(sim, engine)


def test_kill_before_earlier_answers_are_written_finds_every_order_on_rerun(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine
) -> None:
    killed_at(env, "answered", nth=2)
    assert sorted(broker_orders(sim)) == sorted(o.client_order_id for o in ORDERS)
    # The first answer was held to be written with later ones, so the kill lost it too.
    assert {s for s, _ in submissions(engine).values()} == {"pending"}
    output = rerun(env)
    assert "0 submitted" in output and "2 already done" in output
    assert posts(sim) == 2  # both found by their ids, neither sent again
    assert_exactly_once(sim, engine)
