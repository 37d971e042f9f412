"""The Alpaca adapter: alpaca-py clients on one rate-limited session that retries reads.

Ingestion and execution both build their clients here (with `alpaca_http` and `ratelimit`).
"""

from __future__ import annotations

import threading

from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from config.alpaca_http import AlpacaSession
from config.ratelimit import RateLimiter, rate_limiter
from config.settings import Settings

_limiters: dict[tuple[str | None, int, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_rate_limiter(settings: Settings) -> RateLimiter:
    """The process's one limiter for the configured Alpaca host, shared by both clients.

    Keyed by REDIS_URL, the limit and the trading host, so separate simulators in one test
    process do not share a budget; with Redis, every process shares `trading:ratelimit:alpaca`.
    """
    key = (settings.redis_url, settings.alpaca_rate_limit_per_minute, settings.trading_url)
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = rate_limiter(settings)
        return _limiters[key]


def alpaca_session(settings: Settings) -> AlpacaSession:
    """A session with ALPACA_TIMEOUT_SECONDS, the shared limiter and ALPACA_MAX_ATTEMPTS."""
    return AlpacaSession(
        shared_rate_limiter(settings),
        timeout=settings.alpaca_timeout_seconds,
        max_attempts=settings.alpaca_max_attempts,
    )


def trading_client(settings: Settings) -> TradingClient:
    """A TradingClient for the configured host; paper unless live was confirmed.

    Requests go through `AlpacaSession`: rate-limited, with a timeout, GETs retried. The SDK's
    own retry (which would resend a POST /v2/orders after a 429 or 504 and could place an order
    twice) is off; orders get one attempt and execution resolves ambiguity by client_order_id.
    """
    key, secret = settings.alpaca_credentials()
    client = TradingClient(
        api_key=key, secret_key=secret, paper=settings.is_paper, url_override=settings.trading_url
    )
    client._session = alpaca_session(settings)
    client._retry = 0
    return client


def data_client(settings: Settings) -> StockHistoricalDataClient:
    """A StockHistoricalDataClient for the configured data host, on an `AlpacaSession`.

    The SDK's own retry is off, so the session is the single retry layer.
    """
    key, secret = settings.alpaca_credentials()
    client = StockHistoricalDataClient(
        api_key=key, secret_key=secret, url_override=settings.data_url
    )
    client._session = alpaca_session(settings)
    client._retry = 0
    return client


def trading_target(settings: Settings, client: TradingClient) -> str:
    """Which mode, host and account this client trades: printed before anything is sent."""
    account = client.get("/account")
    number = account.get("account_number", "?") if isinstance(account, dict) else "?"
    return f"{settings.trading_mode.upper()} trading at {settings.trading_url}, account {number}"


ALPACA = "alpaca"
SIMULATOR = "simulator"


def source_of(client: RESTClient) -> str:
    """Who answers this client, as landed rows' `source`: 'simulator' or 'alpaca'.

    Our simulator marks every response with `X-Trading-Simulator: 1` and the client's
    `AlpacaSession` notes whether every response it had carried the mark. Real Alpaca never
    sends it, nor does a proxy in front of it, so anything but the simulator itself is 'alpaca',
    the side the demo guard refuses; so is a client not on an `AlpacaSession`. A client that
    has had no response yet is asked once (GET /v2/clock, whose status does not matter: only
    the header is read). The syncs ask after their first fetch, so it costs them nothing; bars
    must know before they fetch (watermarks are kept per source): one probe per data client.
    """
    session = client._session
    if not isinstance(session, AlpacaSession):
        return ALPACA
    if session.simulator is None:
        try:
            client.get("/clock")
        except APIError:
            pass  # e.g. 404 from a data host: the response was still noticed
    return SIMULATOR if session.simulator else ALPACA
