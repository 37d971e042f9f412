"""Landing fills: each FILL activity once; a malformed one is quarantined, the others land."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from sqlalchemy import Engine, text

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
