"""Landing fills: each FILL activity once; a malformed one is quarantined, the others land."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Engine, text

from ingestion import fills
from ingestion.fills import land_fills, sync_fills
from simulator.server import SimulatorHandle


def buy(client: TradingClient, sim: SimulatorHandle, symbol: str, qty: int) -> None:
    """Place a market buy and let the simulator fill it."""
    client.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    sim.simulator.advance(1)


def buy_now(client: TradingClient, symbol: str, qty: int) -> None:
    """Place a market buy that fills at once, at the simulator's frozen clock."""
    client.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )


def fill_activities(client: TradingClient) -> list[dict[str, Any]]:
    return client.get("/account/activities/FILL", {"direction": "asc"})  # type: ignore[return-value]


def landed_fills(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select id, symbol from raw.fills order by id"))
        return [(fill_id, symbol) for fill_id, symbol in rows]


def test_sync_lands_each_fill_once(
    trading: TradingClient, open_market: SimulatorHandle, engine: Engine
) -> None:
    buy(trading, open_market, "AAPL", 3)
    buy(trading, open_market, "MSFT", 2)
    assert sync_fills(trading, engine) == len(fill_activities(trading)) >= 2
    assert sync_fills(trading, engine) == 0
    with engine.connect() as conn:
        runs = conn.execute(
            text("select kind, fetched, landed, unchanged from raw.ingestion_runs order by id")
        ).all()
    assert runs[0][:3] == ("fills", runs[0][1], runs[0][1]) and runs[0][1] >= 2
    assert {symbol for _, symbol in landed_fills(engine)} == {"AAPL", "MSFT"}


def test_malformed_fill_is_quarantined_and_the_others_land(
    trading: TradingClient,
    open_market: SimulatorHandle,
    engine: Engine,
    quarantined: Callable[[], list],
) -> None:
    buy(trading, open_market, "AAPL", 3)
    buy(trading, open_market, "MSFT", 2)
    activities = fill_activities(trading)
    good = [a for a in activities if a["symbol"] == "AAPL"]
    bad = {**next(a for a in activities if a["symbol"] == "MSFT"), "qty": "abc"}
    with engine.begin() as conn:
        landed, quarantined_now = land_fills(conn, [*good, bad])
    with engine.begin() as conn:
        land_fills(conn, [bad])
    assert landed == len(good) >= 1 and quarantined_now == 1
    assert landed_fills(engine) == sorted((a["id"], "AAPL") for a in good)
    assert quarantined() == [
        ("fill", bad["id"], "alpaca", "qty: Input should be a valid decimal (value 'abc')", bad)
    ]


def test_fill_in_the_same_millisecond_as_the_newest_held_lands_whatever_its_id(
    trading: TradingClient, open_market: SimulatorHandle, engine: Engine
) -> None:
    buy_now(trading, "AAPL", 1)
    assert sync_fills(trading, engine) == 1
    [(held, _)] = landed_fills(engine)
    # Ids within one millisecond order by a random uuid: each new fill sorts below the held one
    # with probability 1/2, so 40 tries miss only with probability 2**-40.
    for _ in range(40):
        buy_now(trading, "MSFT", 1)
        if min(a["id"] for a in fill_activities(trading)) < held:
            break
    else:
        pytest.fail(f"no fill sorted below {held} in 40 tries")
    broker = fill_activities(trading)
    assert {a["transaction_time"] for a in broker} == {broker[0]["transaction_time"]}
    assert sync_fills(trading, engine) == len(broker) - 1
    assert [fill_id for fill_id, _ in landed_fills(engine)] == sorted(a["id"] for a in broker)


def test_sync_pages_to_the_end_and_counts_only_new_fills(
    trading: TradingClient,
    open_market: SimulatorHandle,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fills, "PAGE_SIZE", 2)
    for _ in range(3):
        buy(trading, open_market, "AAPL", 1)
    assert sync_fills(trading, engine) == 3
    for _ in range(2):
        buy(trading, open_market, "MSFT", 1)
    assert sync_fills(trading, engine) == 2
    assert sync_fills(trading, engine) == 0
    assert len(landed_fills(engine)) == len(fill_activities(trading)) == 5
    with engine.connect() as conn:
        fetched, landed, unchanged = conn.execute(
            text("select sum(fetched), sum(landed), sum(unchanged) from raw.ingestion_runs")
        ).one()
    assert landed == 5 and fetched == landed + unchanged
