"""The HTTP session under both alpaca-py clients: timeout, rate limit, and retries for reads."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from loguru import logger

from config.ratelimit import RateLimiter

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Our simulator (simulator/app.py) sends this header, value "1", on every response; Alpaca never.
SIMULATOR_HEADER = "X-Trading-Simulator"
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
_TRANSPORT_ERRORS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,  # refused, reset or dropped connections
    requests.exceptions.ChunkedEncodingError,  # the connection closed mid-body
)


class AlpacaUnavailableError(requests.ConnectionError):
    """A read kept failing in transport (timeout, dropped connection, truncated body)."""


class AlpacaSession(requests.Session):
    """A requests Session that rate-limits every request and retries failed GETs.

    Every request, whatever its method, first takes a slot from `limiter` and gets `timeout`
    unless it has one. A GET is retried, up to `max_attempts` in all, after 429, 500, 502, 503,
    504, a timeout, a dropped connection or a 2xx body that is not JSON, with exponential backoff
    and jitter (a 429's Retry-After or X-Ratelimit-Reset is honoured up to the cap). Any other
    method gets exactly one attempt: a resent POST /v2/orders could place an order twice.

    `simulator` says who has been answering: None before the first response, True while every
    response has carried SIMULATOR_HEADER, False for good once one has not (see `notice`).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        timeout: float,
        max_attempts: int = 5,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_cap: float = BACKOFF_CAP_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.limiter = limiter
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.clock = clock
        self.jitter = jitter
        self.simulator: bool | None = None

    def notice(self, response: requests.Response) -> None:
        """Note whether `response` came from our simulator (it carries SIMULATOR_HEADER).

        One unmarked response makes the session count as real Alpaca from then on: a proxy, a
        load balancer or another host that answers even once must never pass for the simulator.
        """
        marked = response.headers.get(SIMULATOR_HEADER) == "1"
        self.simulator = marked if self.simulator is None else self.simulator and marked

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send the request under the rate limit; a GET is retried as the class describes."""
        kwargs.setdefault("timeout", self.timeout)
        method = method.upper()
        if method != "GET":
            self.limiter.acquire()
            sent = super().request(method, url, *args, **kwargs)
            self.notice(sent)
            return sent
        path = urlsplit(url).path
        response: requests.Response | None = None
        cause: str | None = None
        error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            self.limiter.acquire()
            response = None
            try:
                response = super().request(method, url, *args, **kwargs)
            except _TRANSPORT_ERRORS as e:
                if isinstance(e, requests.exceptions.SSLError):
                    raise  # a certificate problem does not go away by asking again
                error, cause = e, _describe(e)
            else:
                self.notice(response)
                cause = _failure(response)
                if cause is None:
                    return response
                error = requests.RequestException(cause)
            if attempt == self.max_attempts:
                break
            wait = self.retry_wait(attempt, response)
            logger.bind(method=method, path=path, attempt=attempt, cause=cause, wait=wait).warning(
                "Alpaca {} {} attempt {} failed ({}); retrying in {:.2f}s",
                method,
                path,
                attempt,
                cause,
                wait,
            )
            self.sleep(wait)
        if response is not None and response.status_code in RETRY_STATUSES:
            return response  # alpaca-py raises its APIError with the server's message
        raise AlpacaUnavailableError(
            f"{method} {path} failed after {self.max_attempts} attempts: {cause}"
        ) from error

    def retry_wait(self, attempt: int, response: requests.Response | None) -> float:
        """Seconds before the next attempt: the server's hint on a 429, else backoff with jitter."""
        if response is not None and response.status_code == 429:
            hint = _server_wait(response, self.clock())
            if hint is not None and hint > 0:
                return min(hint, self.backoff_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + ceiling / 2 * self.jitter()


def _failure(response: requests.Response) -> str | None:
    """Why a response is worth another try, or None when it is final."""
    if response.status_code in RETRY_STATUSES:
        return f"HTTP {response.status_code}"
    if 200 <= response.status_code < 300 and response.content:
        try:
            json.loads(response.content)
        except ValueError:
            return "response body is not valid JSON (truncated?)"
    return None


def _server_wait(response: requests.Response, now: float) -> float | None:
    """Seconds the server asks us to wait: Retry-After (seconds) or X-Ratelimit-Reset (epoch)."""
    try:
        if (retry_after := response.headers.get("Retry-After")) is not None:
            return float(retry_after)
        if (reset := response.headers.get("X-Ratelimit-Reset")) is not None:
            return float(reset) - now
    except ValueError:
        return None
    return None


def _describe(error: Exception) -> str:
    """A transport failure as a short cause: its kind and what requests said."""
    return f"{type(error).__name__}: {error}"
