"""The Alpaca session: reads survive faults, orders are sent once, every request is rate-limited."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from loguru import logger

from config.alpaca import data_client, source_of, trading_client
from config.alpaca_http import SIMULATOR_HEADER, AlpacaSession, AlpacaUnavailableError
from config.ratelimit import LocalRateLimiter
from config.settings import Settings
from simulator.faults import FaultRule
from simulator.server import SimulatorHandle, running_simulator

NOW = datetime(2024, 3, 8, 21, tzinfo=UTC)  # Friday 16:00 New York
BARS = StockBarsRequest(
    symbol_or_symbols="AAPL",
    timeframe=TimeFrame.Hour,
    start=datetime(2024, 3, 4, tzinfo=UTC),
    end=NOW,
)
MAX_ATTEMPTS = 4
BACKOFF = [0.5, 1.0, 2.0]  # base 0.5 s doubling, with the jitter pinned to its top


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(start=NOW, speed=0.0) as handle:
        yield handle


def settings_for_sim(sim: SimulatorHandle, home: Path, **overrides: Any) -> Settings:
    """Settings for the simulator, with an in-process rate limit."""
    values: dict[str, Any] = {
        "alpaca_api_key": "PKTEST",
        "alpaca_secret_key": "SECRET",
        "alpaca_trading_url": sim.url,
        "alpaca_data_url": sim.url,
        "alpaca_max_attempts": MAX_ATTEMPTS,
        "alpaca_timeout_seconds": 5.0,
        "redis_url": None,
        "trading_home": home,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def settings(sim: SimulatorHandle, tmp_path: Path) -> Settings:
    return settings_for_sim(sim, tmp_path)


def session_of(client: TradingClient | StockHistoricalDataClient) -> AlpacaSession:
    session = client._session
    assert isinstance(session, AlpacaSession)
    return session


def instant_backoff(*clients: TradingClient | StockHistoricalDataClient) -> list[float]:
    """Record the clients' backoff waits instead of sleeping; jitter pinned to the top."""
    waits: list[float] = []
    for client in clients:
        session_of(client).sleep = waits.append
        session_of(client).jitter = lambda: 1.0
    return waits


def inject(sim: SimulatorHandle, *rules: FaultRule) -> None:
    """Replace the fault plan and forget the request counts so far."""
    sim.simulator.faults.replace(rules)
    sim.simulator.requests.reset()


def market_buy(client_order_id: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAPL",
        qty=1,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=client_order_id,
    )


@pytest.mark.parametrize(
    ("kind", "waits"),
    [
        ("429", [8.0, 8.0]),  # the server's X-Ratelimit-Reset is ~60 s away: capped at 8 s
        ("500", BACKOFF[:2]),
        ("503", BACKOFF[:2]),
        ("504", BACKOFF[:2]),
        ("slow", BACKOFF[:2]),
        ("drop", BACKOFF[:2]),
        ("truncate", BACKOFF[:2]),
    ],
)
def test_a_failing_bars_read_is_retried_until_it_succeeds(
    sim: SimulatorHandle, tmp_path: Path, kind: str, waits: list[float]
) -> None:
    # A 0.3 s timeout against 1 s slow answers; other kinds answer at once.
    client = data_client(settings_for_sim(sim, tmp_path, alpaca_timeout_seconds=0.3))
    expected = client.get_stock_bars(BARS)
    recorded = instant_backoff(client)
    inject(sim, FaultRule(kind=kind, path="/v2/stocks/bars", times=2, delay_seconds=None))
    assert client.get_stock_bars(BARS) == expected
    assert len(expected["AAPL"]) == 35  # type: ignore[index]
    assert sim.simulator.requests.counts() == {"GET /v2/stocks/bars": 3}
    assert recorded == waits


def test_trading_reads_are_retried_too(settings: Settings, sim: SimulatorHandle) -> None:
    client = trading_client(settings)
    waits = instant_backoff(client)
    inject(sim, FaultRule(kind="503", path="/v2/clock", times=1))
    clock = client.get_clock()
    assert clock.timestamp == NOW  # type: ignore[union-attr]
    assert sim.simulator.requests.counts() == {"GET /v2/clock": 2}
    assert waits == BACKOFF[:1]


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("504", 504)])
def test_a_persistent_error_status_surfaces_as_the_servers_api_error(
    settings: Settings, sim: SimulatorHandle, kind: str, status: int
) -> None:
    client = data_client(settings)
    waits = instant_backoff(client)
    inject(sim, FaultRule(kind=kind, path="/v2/stocks/bars"))
    with pytest.raises(APIError) as caught:
        client.get_stock_bars(BARS)
    assert caught.value.status_code == status
    assert caught.value.code == status * 100_000 + 10_000
    # Exactly max_attempts requests: alpaca-py's own retry is off, so nothing multiplies them.
    assert sim.simulator.requests.counts() == {"GET /v2/stocks/bars": MAX_ATTEMPTS}
    assert len(waits) == MAX_ATTEMPTS - 1


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("drop", "ConnectionError: ('Connection aborted.', RemoteDisconnected("),
        ("truncate", "response body is not valid JSON (truncated?)"),
    ],
)
def test_a_persistent_transport_failure_names_method_path_attempts_and_cause(
    settings: Settings, sim: SimulatorHandle, kind: str, cause: str
) -> None:
    client = trading_client(settings)
    waits = instant_backoff(client)
    inject(sim, FaultRule(kind=kind, path="/v2/clock"))
    with pytest.raises(AlpacaUnavailableError) as caught:
        client.get_clock()
    assert str(caught.value).startswith(f"GET /v2/clock failed after 4 attempts: {cause}")
    assert isinstance(caught.value, requests.RequestException)  # what callers already catch
    assert sim.simulator.requests.counts() == {"GET /v2/clock": MAX_ATTEMPTS}
    assert waits == BACKOFF


@pytest.mark.parametrize("kind", ["429", "500", "504", "drop"])
def test_an_order_is_sent_exactly_once_and_the_failure_reaches_the_caller(
    settings: Settings, sim: SimulatorHandle, kind: str
) -> None:
    client = trading_client(settings)
    waits = instant_backoff(client)
    inject(sim, FaultRule(kind=kind, method="POST", path="/v2/orders"))
    expected = requests.ConnectionError if kind == "drop" else APIError
    with pytest.raises(expected) as caught:
        client.submit_order(market_buy(f"once-{kind}"))
    assert not isinstance(caught.value, AlpacaUnavailableError)
    assert sim.simulator.requests.counts() == {"POST /v2/orders": 1}
    assert waits == []


def test_every_request_and_every_attempt_takes_a_slot_from_the_shared_limiter(
    settings: Settings, sim: SimulatorHandle
) -> None:
    trading, data = trading_client(settings), data_client(settings)
    assert session_of(trading).limiter is session_of(data).limiter
    fake_now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fake_now[0] += seconds

    limiter = LocalRateLimiter(4, clock=lambda: fake_now[0], sleep=sleep)
    session_of(trading).limiter = session_of(data).limiter = limiter
    instant_backoff(trading, data)
    inject(sim, FaultRule(kind="503", path="/v2/clock", times=1))
    trading.get_clock()  # two attempts
    data.get_stock_bars(BARS)
    trading.submit_order(market_buy("limited-1"))
    assert slept == []
    trading.get_account()  # the fifth request within the minute
    assert slept == [60.0]


def test_retries_are_logged_without_credentials(settings: Settings, sim: SimulatorHandle) -> None:
    client = trading_client(settings)
    instant_backoff(client)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message} {extra}", level="DEBUG")
    try:
        inject(sim, FaultRule(kind="500", path="/v2/account", times=1))
        client.get_account()
    finally:
        logger.remove(sink)
    retries = [line for line in lines if "retrying" in line]
    assert len(retries) == 1
    assert "GET /v2/account attempt 1 failed (HTTP 500); retrying in 0.50s" in retries[0]
    assert not any("SECRET" in line or "PKTEST" in line for line in lines)


def test_a_429_wait_follows_the_server_within_the_cap() -> None:
    session = AlpacaSession(
        LocalRateLimiter(1), timeout=1.0, clock=lambda: 1_000.0, jitter=lambda: 0.0
    )

    def too_many(**headers: str) -> requests.Response:
        response = requests.Response()
        response.status_code = 429
        response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return response

    assert session.retry_wait(1, too_many(Retry_After="3")) == 3.0
    assert session.retry_wait(1, too_many(X_Ratelimit_Reset="1002")) == 2.0
    assert session.retry_wait(1, too_many(X_Ratelimit_Reset="1100")) == 8.0  # the cap
    # No usable hint: backoff, half to all of 0.5 s doubling per attempt (jitter at 0 here).
    assert session.retry_wait(1, too_many(X_Ratelimit_Reset="999")) == 0.25
    assert session.retry_wait(3, too_many()) == 1.0
    assert session.retry_wait(6, None) == 4.0  # half the 8 s cap


class _UnmarkedHost(BaseHTTPRequestHandler):
    """Answers every GET with Alpaca's clock JSON and no simulator mark, as real Alpaca (or a
    proxy in front of it) would."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server hook's name)
        body = json.dumps(
            {
                "timestamp": NOW.isoformat(),
                "is_open": False,
                "next_open": NOW.isoformat(),
                "next_close": NOW.isoformat(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the hook's signature)
        pass


@pytest.fixture
def unmarked_url() -> Iterator[str]:
    """The URL of a local host that is not the simulator."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UnmarkedHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_every_simulator_answer_carries_its_mark_even_refusals_and_faults(
    sim: SimulatorHandle,
) -> None:
    inject(sim, FaultRule(kind="503", path="/v2/clock", times=1))
    faulted = requests.get(f"{sim.url}/v2/clock", headers={"Authorization": "x"}, timeout=5)
    refused = requests.get(f"{sim.url}/v2/account", timeout=5)  # no credentials
    admin = requests.get(f"{sim.url}/admin/clock", timeout=5)
    assert [r.status_code for r in (faulted, refused, admin)] == [503, 401, 200]
    assert {r.headers.get(SIMULATOR_HEADER) for r in (faulted, refused, admin)} == {"1"}


def test_a_client_answered_by_the_simulator_lands_as_simulator_without_asking_again(
    settings: Settings, sim: SimulatorHandle
) -> None:
    client = trading_client(settings)
    assert session_of(client).simulator is None
    client.get_clock()
    inject(sim)
    assert source_of(client) == "simulator"
    assert sim.simulator.requests.counts() == {}


def test_a_client_not_yet_answered_asks_once(settings: Settings, sim: SimulatorHandle) -> None:
    client = data_client(settings)
    inject(sim)
    assert (source_of(client), source_of(client)) == ("simulator", "simulator")
    assert sim.simulator.requests.counts() == {"GET /v2/clock": 1}


def test_a_host_without_the_mark_is_alpaca(tmp_path: Path, unmarked_url: str) -> None:
    settings = Settings(
        alpaca_api_key="PKTEST",  # type: ignore[arg-type]
        alpaca_secret_key="SECRET",  # type: ignore[arg-type]
        alpaca_trading_url=unmarked_url,
        alpaca_data_url=unmarked_url,
        redis_url=None,
        trading_home=tmp_path,
    )
    trading, data = trading_client(settings), data_client(settings)
    trading.get_clock()
    assert (source_of(trading), source_of(data)) == ("alpaca", "alpaca")


def test_one_unmarked_answer_makes_a_session_alpaca_for_good(
    settings: Settings, sim: SimulatorHandle, unmarked_url: str
) -> None:
    client = trading_client(settings)
    session = session_of(client)
    session.get(f"{sim.url}/v2/clock", headers={"Authorization": "x"})
    assert source_of(client) == "simulator"
    session.get(f"{unmarked_url}/v2/clock")
    client.get_clock()  # the simulator again
    assert source_of(client) == "alpaca"
