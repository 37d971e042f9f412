"""Build the alpaca-py clients from Settings, with a request timeout and no blind order retries."""

from __future__ import annotations

from typing import Any

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from requests import Session

from config.settings import Settings


class TimeoutSession(Session):
    """A requests Session that applies a default timeout (alpaca-py sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Send the request with the default timeout unless one was given."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def trading_client(settings: Settings) -> TradingClient:
    """A TradingClient for the configured host; paper unless live was confirmed.

    The SDK would resend a POST /v2/orders after a 429 or 504, which can place an order twice;
    its automatic retries are switched off, and execution resolves ambiguity by client_order_id.
    """
    key, secret = settings.alpaca_credentials()
    client = TradingClient(
        api_key=key, secret_key=secret, paper=settings.is_paper, url_override=settings.trading_url
    )
    client._session = TimeoutSession(settings.alpaca_timeout_seconds)
    client._retry = 0
    return client


def data_client(settings: Settings) -> StockHistoricalDataClient:
    """A StockHistoricalDataClient for the configured data host."""
    key, secret = settings.alpaca_credentials()
    client = StockHistoricalDataClient(
        api_key=key, secret_key=secret, url_override=settings.data_url
    )
    client._session = TimeoutSession(settings.alpaca_timeout_seconds)
    return client
