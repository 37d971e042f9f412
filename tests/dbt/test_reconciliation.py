"""A trade made at the broker behind our back halts trading at the next build, with the
reconciliation row saying why; `trading resume` acknowledges it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from config.settings import Settings
from execution.kill_switch import current_halt, resume
from ingestion.account import snapshot_account
from ingestion.alpaca import trading_client
from ingestion.fills import sync_fills
from ingestion.orders import sync_orders
from simulator.server import SimulatorHandle, running_simulator

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)  # Tuesday 10:05 New York
# As the hourly cycle builds: only the tests whose parents are all selected.
BUILD = [
    "build",
    "--select",
    "+trading_state",
    "--indirect-selection",
    "cautious",
    "--exclude",
    "test_type:unit",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=MARKET_OPEN, speed=0.0) as handle:
        yield handle


def build_at(dbt_ok: DbtOk, database: Connection, as_of: datetime) -> None:
    dbt_ok([*BUILD, "--vars", json.dumps({"as_of": as_of.isoformat()})], database)


def state(engine: Engine) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(text("select state, reason_summary from marts.trading_state")).one()
    return row.state, row.reason_summary


def test_an_external_trade_halts_the_next_cycle_until_resume(
    sim: SimulatorHandle,
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    settings_for,  # type: ignore[no-untyped-def]
) -> None:
    settings: Settings = settings_for(module_database, sim.url)
    client = trading_client(settings)
    # A cycle's sync with nothing unusual: ACTIVE.
    sync_orders(client, module_engine)
    sync_fills(client, module_engine)
    snapshot_account(client, module_engine, MARKET_OPEN)
    build_at(dbt_ok, module_database, MARKET_OPEN + timedelta(minutes=1))
    assert state(module_engine) == ("ACTIVE", None)

    # Someone buys 5 AAPL in the broker's web UI; the next cycle syncs it, then builds.
    booked = httpx.post(
        f"{sim.url}/admin/external_trade", json={"symbol": "AAPL", "side": "buy", "qty": "5"}
    )
    assert booked.status_code == 200, booked.text
    next_cycle = MARKET_OPEN + timedelta(hours=1)
    sync_orders(client, module_engine)
    assert sync_fills(client, module_engine) == 1
    snapshot_account(client, module_engine, next_cycle - timedelta(minutes=1))
    build_at(dbt_ok, module_database, next_cycle)

    halted, reason = state(module_engine)
    assert halted == "HALTED"
    assert reason is not None and reason.startswith("reconciliation: external_fill AAPL: fill ")
    assert "carries no strategy prefix" in reason
    with module_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select check_name, subject, ours, broker, is_mismatch from marts.reconciliation"
                " order by check_name"
            )
        ).all()
    # The position itself adds up (the external fill is synced); the fill is what is flagged.
    assert [tuple(r) for r in rows] == [
        ("external_fill", "AAPL", 0, 5, True),
        ("position", "AAPL", 5, 5, False),
    ]
    found = current_halt(module_engine)
    assert found is not None and "external_fill AAPL" in found.reason

    resume(module_engine, "the manual AAPL buy was mine")
    build_at(dbt_ok, module_database, datetime.now(UTC))
    assert state(module_engine) == ("ACTIVE", None)
    assert current_halt(module_engine) is None
