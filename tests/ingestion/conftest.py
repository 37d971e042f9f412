"""Fixtures for the ingestion tests: a simulator during market hours and what quarantine holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from sqlalchemy import Engine, text

from config.alpaca import trading_client
from config.database import Connection
from simulator.server import SimulatorHandle, running_simulator

MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)  # a Tuesday, 10:05 New York

Quarantined = list[tuple[str, str | None, str, str, Any]]


@pytest.fixture
def open_market() -> Iterator[SimulatorHandle]:
    """A simulator whose frozen clock stands inside a regular session."""
    with running_simulator(start=MARKET_OPEN, speed=0.0) as handle:
        yield handle


@pytest.fixture
def trading(
    open_market: SimulatorHandle, fresh_database: Connection, settings_for
) -> TradingClient:  # type: ignore[no-untyped-def]
    """The project's alpaca-py TradingClient pointed at the simulator."""
    return trading_client(settings_for(fresh_database, open_market.url))


@pytest.fixture
def quarantined(engine: Engine) -> Callable[[], Quarantined]:
    """Read raw.quarantine_records as (kind, record_key, source, reason, payload), oldest first."""

    def read() -> Quarantined:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select kind, record_key, source, reason, payload "
                    "from raw.quarantine_records order by id"
                )
            ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    return read
