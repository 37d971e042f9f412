"""Account snapshots: the account and positions as of one time; malformed records quarantined."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Engine, text

from config.alpaca import source_of
from ingestion.account import land_snapshot, snapshot_account
from simulator.server import SimulatorHandle

AT = datetime(2024, 3, 5, 15, 10, tzinfo=UTC)


@pytest.fixture
def holdings(trading: TradingClient, open_market: SimulatorHandle) -> None:
    """Buy 3 AAPL and 2 MSFT and let the simulator fill them."""
    for symbol, qty in (("AAPL", 3), ("MSFT", 2)):
        trading.submit_order(
            MarketOrderRequest(
                symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
        open_market.simulator.advance(1)


def positions(engine: Engine) -> dict[str, Decimal]:
    with engine.connect() as conn:
        return dict(conn.execute(text("select symbol, qty from raw.position_snapshots")).all())  # type: ignore[arg-type]


def test_snapshot_records_account_and_positions_once(
    trading: TradingClient, holdings: None, engine: Engine
) -> None:
    account = snapshot_account(trading, engine, AT)
    snapshot_account(trading, engine, AT)
    with engine.connect() as conn:
        equity = conn.execute(text("select equity from raw.account_snapshots")).scalar_one()
    assert equity == Decimal(account.equity)  # type: ignore[arg-type]
    assert positions(engine) == {"AAPL": 3, "MSFT": 2}


def test_snapshot_from_the_simulator_says_so(
    trading: TradingClient, holdings: None, engine: Engine
) -> None:
    snapshot_account(trading, engine, AT)
    with engine.connect() as conn:
        accounts = conn.execute(text("select source from raw.account_snapshots")).scalars()
        held = conn.execute(text("select source from raw.position_snapshots")).scalars()
        assert (list(accounts), list(held)) == (["simulator"], ["simulator", "simulator"])


def test_malformed_position_is_quarantined_and_the_others_land(
    trading: TradingClient, holdings: None, engine: Engine, quarantined: Callable[[], list]
) -> None:
    account = trading.get("/account")
    aapl, msft = trading.get("/positions")  # type: ignore[misc]
    bad = {**msft, "qty": "abc"}
    with engine.begin() as conn:
        landed = land_snapshot(conn, AT, account, [aapl, bad], source_of(trading))
    assert landed is not None
    assert positions(engine) == {"AAPL": 3}
    assert quarantined() == [
        ("position", "MSFT", "simulator", "qty: Input should be a valid decimal (value 'abc')", bad)
    ]


def test_malformed_account_is_quarantined_and_refused(
    trading: TradingClient, engine: Engine, quarantined: Callable[[], list]
) -> None:
    bad = {**trading.get("/account"), "equity": None}  # type: ignore[dict-item]
    with engine.begin() as conn:
        assert land_snapshot(conn, AT, bad, []) is None
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.account_snapshots")).scalar_one() == 0
    assert [(kind, reason) for kind, _, _, reason, _ in quarantined()] == [
        ("account", "equity: Input should be a valid string (value None)")
    ]
