"""A trade made at the broker behind our back halts trading at the next build, with the
reconciliation row saying why; `trading resume` acknowledges it, whatever the broker's clock says.
A cycle's own fills, booked after the time its snapshot is stamped with, do not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Engine, text

from config.alpaca import trading_client
from config.database import Connection
from config.settings import Settings
from execution.kill_switch import current_halt, resume
from ingestion.account import snapshot_account
from ingestion.fills import sync_fills
from ingestion.orders import sync_orders
from simulator.server import SimulatorHandle, running_simulator
from strategies.params import record_params
from strategies.spec import load_specs

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
    # Equity agrees to the cent: the broker's cash plus our 5 AAPL at its price is its equity.
    equity = rows[0]
    assert [tuple(r) for r in rows] == [
        ("equity", "account", equity.broker, equity.broker, False),
        ("external_fill", "AAPL", 0, 5, True),
        ("position", "AAPL", 5, 5, False),
    ]
    account = client.get_account()
    assert equity.broker == Decimal(account.equity)  # type: ignore[union-attr]
    assert equity.broker > Decimal(account.cash)  # type: ignore[union-attr]
    found = current_halt(module_engine)
    assert found is not None and "external_fill AAPL" in found.reason

    # The simulator replays March 2024; the resume is stamped with the database's clock, years
    # after the broker's. It lifts the halt of the next build all the same.
    resume(module_engine, "the manual AAPL buy was mine")
    build_at(dbt_ok, module_database, next_cycle + timedelta(minutes=5))
    assert state(module_engine) == ("ACTIVE", None)
    assert current_halt(module_engine) is None

    # A second manual trade, made after the resume though the broker stamps it years before it:
    # it landed after the resume, so it halts again, and only it is named.
    booked = httpx.post(
        f"{sim.url}/admin/external_trade", json={"symbol": "MSFT", "side": "buy", "qty": "3"}
    )
    assert booked.status_code == 200, booked.text
    later_cycle = next_cycle + timedelta(hours=1)
    sync_orders(client, module_engine)
    assert sync_fills(client, module_engine) == 1
    snapshot_account(client, module_engine, later_cycle - timedelta(minutes=1))
    build_at(dbt_ok, module_database, later_cycle)
    halted, reason = state(module_engine)
    assert halted == "HALTED"
    assert reason is not None and reason.startswith("reconciliation: external_fill MSFT: fill ")
    assert "AAPL" not in reason


def test_fills_of_each_cycle_after_its_time_do_not_halt(
    fresh_database: Connection,
    engine: Engine,
    dbt_ok: DbtOk,
    settings_for,  # type: ignore[no-untyped-def]
) -> None:
    # A cycle is stamped with the broker's time when it starts; its orders fill a minute later,
    # then its sync lands the fills and snapshots the account under the cycle's stamp. AAPL
    # trades in four cycles in a row: by fill time alone, each snapshot would lack its cycle's
    # trade, and the position, the two cash windows and equity would all differ twice in a row.
    (spec,) = [s for s in load_specs() if s.name == "sma_crossover"]
    record_params(engine, [spec], MARKET_OPEN - timedelta(days=1))
    trades = [(OrderSide.BUY, 3), (OrderSide.BUY, 2), (OrderSide.SELL, 1), (OrderSide.BUY, 4)]
    cycles = [
        (MARKET_OPEN + timedelta(hours=hour), side, qty) for hour, (side, qty) in enumerate(trades)
    ]
    with running_simulator(start=MARKET_OPEN, speed=0.0) as sim:
        client = trading_client(settings_for(fresh_database, sim.url))
        for cycle_at, side, qty in cycles:
            moved = httpx.post(
                f"{sim.url}/admin/clock",
                json={"to": (cycle_at + timedelta(minutes=1)).isoformat()},
            )
            assert moved.status_code == 200, moved.text
            client.submit_order(
                MarketOrderRequest(
                    symbol="AAPL",
                    qty=qty,
                    side=side,
                    time_in_force=TimeInForce.DAY,
                    client_order_id=f"sma_crossover-AAPL-{cycle_at:%H%M}",
                )
            )
            sync_orders(client, engine)
            assert sync_fills(client, engine) >= 1
            snapshot_account(client, engine, cycle_at)
        account = client.get_account()
        cash = Decimal(account.cash)  # type: ignore[union-attr,arg-type]
        equity = Decimal(account.equity)  # type: ignore[union-attr,arg-type]
    build_at(dbt_ok, fresh_database, cycles[-1][0] + timedelta(minutes=5))

    assert state(engine) == ("ACTIVE", None)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select check_name, subject, ours, broker, is_mismatch from marts.reconciliation"
                " order by check_name, subject"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("cash", "account", cash, cash, False),
        ("equity", "account", equity, equity, False),
        ("position", "AAPL", 8, 8, False),
    ]
