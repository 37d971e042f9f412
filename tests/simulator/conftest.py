"""Fixtures for the simulator tests: a running simulator and real alpaca-py clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from simulator.server import SimulatorHandle, running_simulator

# Wednesday 2024-01-03 10:00 New York: the regular session is open.
SESSION_START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)

TradingFactory = Callable[[SimulatorHandle], TradingClient]
DataFactory = Callable[[SimulatorHandle], StockHistoricalDataClient]
ClockMover = Callable[[SimulatorHandle, datetime], dict[str, object]]


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    """A frozen simulator (speed 0) at Wednesday 2024-01-03 10:00 New York."""
    with running_simulator(start=SESSION_START, speed=0.0) as handle:
        yield handle


@pytest.fixture(scope="module")
def readonly_sim() -> Iterator[SimulatorHandle]:
    """A simulator shared by a module's read-only tests: never submit orders or move its clock."""
    with running_simulator(start=SESSION_START, speed=0.0) as handle:
        yield handle


@pytest.fixture
def make_trading() -> TradingFactory:
    """Build a real TradingClient for a simulator handle."""

    def build(handle: SimulatorHandle) -> TradingClient:
        return TradingClient(
            api_key="PKTEST", secret_key="SECRET", paper=True, url_override=handle.url
        )

    return build


@pytest.fixture
def make_data() -> DataFactory:
    """Build a real StockHistoricalDataClient for a simulator handle."""

    def build(handle: SimulatorHandle) -> StockHistoricalDataClient:
        return StockHistoricalDataClient(
            api_key="PKTEST", secret_key="SECRET", url_override=handle.url
        )

    return build


@pytest.fixture
def tc(sim: SimulatorHandle, make_trading: TradingFactory) -> TradingClient:
    """Trading client for the `sim` fixture."""
    return make_trading(sim)


@pytest.fixture
def dc(sim: SimulatorHandle, make_data: DataFactory) -> StockHistoricalDataClient:
    """Market data client for the `sim` fixture."""
    return make_data(sim)


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain-HTTP client for raw requests (building httpx clients per call is slow)."""
    with httpx.Client(timeout=10, verify=False) as client:  # noqa: S501 - loopback HTTP only
        yield client


@pytest.fixture
def move_clock(http: httpx.Client) -> ClockMover:
    """Move a simulator's clock through `POST /admin/clock` and return the answer."""

    def move(handle: SimulatorHandle, to: datetime) -> dict[str, object]:
        response = http.post(f"{handle.url}/admin/clock", json={"to": to.isoformat()})
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body

    return move
