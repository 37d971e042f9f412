"""Fault injection and rate limits: the fault plan, request counts and the ASGI layer applying them.

A fault rule says what goes wrong (`kind`) for which requests (`method`, `path` prefix) and how
often (`times`, `rate`). Kinds, and what a `requests` client observes (checked in
tests/simulator/test_faults.py):
- "429": 429 `{"code": 42910000, "message": "rate limit exceeded"}`, `X-Ratelimit-Remaining: 0`.
- "500", "503", "504": that status with an Alpaca JSON error body; the request is not processed.
- "504_after": processed (an order really is placed), then answered 504: the ambiguous outcome.
- "slow": answered correctly after `delay_seconds` (default 1 s); the request is read first, so it
  is processed even if the client gave up meanwhile (a timed-out order may still be placed).
- "hang": not processed and never answered: the connection is held until the client leaves, the
  server shuts down or `delay_seconds` (default 30 s) pass, then closed. A client with a timeout
  gets `requests.exceptions.ReadTimeout`; one without (alpaca-py) a `ConnectionError`.
- "drop": not processed; the connection is closed before any byte of a response is sent, so
  `requests` raises `requests.exceptions.ConnectionError` ("Remote end closed connection without
  response", or a reset if the client was still sending).
- "drop_after": processed, then dropped like "drop" (also `ConnectionError`).
- "truncate": processed; the handler's status and headers with the first half of its body and a
  matching Content-Length, so `response.json()` raises `requests.exceptions.JSONDecodeError`.
- "empty_token": processed; a last page's `"next_page_token": null` becomes `""` (a server quirk
  on which alpaca-py's own pager loops forever).
- "repeat_token": processed; the page's `next_page_token` becomes the token the request sent, so
  a pager that trusts it asks for the same page again and again.
Any kind other than "hang" first waits `delay_seconds` when given. Rules never apply to `/admin`.

Dropping a connection needs the socket, which ASGI does not expose: `FaultableH11Protocol` (the
protocol simulator.server runs uvicorn with) puts it into each request's scope state.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qs

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from simulator.wire import unprocessable

FaultKind = Literal[
    "429",
    "500",
    "503",
    "504",
    "504_after",
    "slow",
    "hang",
    "drop",
    "drop_after",
    "truncate",
    "empty_token",
    "repeat_token",
]
_PROCESSED_FIRST = ("504_after", "drop_after", "truncate", "empty_token", "repeat_token")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_FAULT_SEED = 0
DEFAULT_DELAYS: dict[str, float] = {"slow": 1.0, "hang": 30.0}
ALPACA_RATE_LIMIT = 200  # requests per minute per API key (reference 4.2)
RATE_WINDOW_SECONDS = 60.0
CODE_RATE_LIMITED = 42910000
_ERRORS: dict[str, tuple[int, int, str]] = {
    "429": (429, CODE_RATE_LIMITED, "rate limit exceeded"),
    "500": (500, 50010000, "internal server error"),
    "503": (503, 50310000, "service unavailable"),
    "504": (504, 50410000, "gateway timeout"),
    "504_after": (504, 50410000, "gateway timeout"),
}
_CONNECTION_KEY = "simulator.connection"


def is_admin_path(path: str) -> bool:
    """True for the simulator's own `/admin` routes, which faults and limits never touch."""
    return path == "/admin" or path.startswith("/admin/")


class FaultRule(BaseModel):
    """One fault: what goes wrong (`kind`) for which requests, how often and after what delay.

    `path` is a prefix of the URL path ("/" matches every non-admin path); `method` is optional.
    The rule fires on a matching request with probability `rate` (drawn from the plan's seeded
    generator), at most `times` times when given; without either it fires on every match.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    method: str | None = None
    path: str = "/"
    times: int | None = Field(default=None, ge=1)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    delay_seconds: float | None = Field(default=None, ge=0.0, le=3600.0)

    @field_validator("kind", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(HTTP_METHODS)}")
        return value.upper()

    @field_validator("path")
    @classmethod
    def _outside_admin(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path must start with /")
        if value.startswith("/admin"):
            raise ValueError("faults never apply to /admin paths")
        return value

    @property
    def delay(self) -> float:
        """Seconds to wait before acting: `delay_seconds`, else 1 for slow, 30 for hang, 0."""
        if self.delay_seconds is not None:
            return self.delay_seconds
        return DEFAULT_DELAYS.get(self.kind, 0.0)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request falls under this rule (expiry and rate aside)."""
        return (self.method is None or self.method == method.upper()) and path.startswith(self.path)


class FaultSettings(BaseModel):
    """The body of `POST /admin/faults`: the new rules and the seed of the rate draws."""

    model_config = ConfigDict(extra="forbid")

    faults: list[FaultRule]
    seed: int = DEFAULT_FAULT_SEED


def parse_fault_settings(payload: Any) -> FaultSettings:
    """Validate an admin payload; a 422 ApiError names each bad field and its value."""
    try:
        return FaultSettings.model_validate(payload)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
            ).lstrip(".")
            shown = "" if error["type"] == "missing" else f"={error['input']!r}"
            problems.append(f"{where or 'body'}{shown}: {error['msg']}")
        raise unprocessable("invalid fault plan: " + "; ".join(problems)) from exc


@dataclass
class _Slot:
    rule: FaultRule
    fired: int = 0

    @property
    def remains(self) -> int | None:
        return None if self.rule.times is None else self.rule.times - self.fired


class FaultPlan:
    """The active fault rules; thread-safe: admin calls replace them while requests draw."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = DEFAULT_FAULT_SEED) -> None:
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._seed = seed
        self._random = random.Random(seed)  # noqa: S311 - reproducible test faults, not crypto
        self.replace(rules, seed)

    def replace(self, rules: Iterable[FaultRule], seed: int = DEFAULT_FAULT_SEED) -> None:
        """Swap in new rules (fire counts start at zero) and reseed the rate draws."""
        slots = [_Slot(rule) for rule in rules]
        with self._lock:
            self._slots = slots
            self._seed = seed
            self._random.seed(seed)

    def clear(self) -> None:
        """Remove every rule."""
        self.replace((), self._seed)

    def draw(self, method: str, path: str) -> FaultRule | None:
        """The first live rule that matches and fires for this request (counted), or None."""
        if is_admin_path(path):
            return None
        with self._lock:
            for slot in self._slots:
                if slot.remains == 0 or not slot.rule.matches(method, path):
                    continue
                if slot.rule.rate < 1.0 and self._random.random() >= slot.rule.rate:
                    continue
                slot.fired += 1
                return slot.rule
        return None

    def snapshot(self) -> dict[str, Any]:
        """The plan as `GET /admin/faults` shows it: rules with `fired` and `remains`."""
        with self._lock:
            rules = [
                {**s.rule.model_dump(), "fired": s.fired, "remains": s.remains} for s in self._slots
            ]
            return {"seed": self._seed, "faults": rules}


class RequestCounter:
    """Thread-safe counts of requests received per "METHOD /path" (faulted ones included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, method: str, path: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[f"{method} {path}"] += 1

    def counts(self) -> dict[str, int]:
        """The counts so far, sorted by key."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()


@dataclass(frozen=True)
class RateWindow:
    """One request's view of its key's rate limit, as the `X-Ratelimit-*` headers report it."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds (wall clock) when the oldest counted request leaves the window
    exceeded: bool = False

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The three response headers (lower-case names, as ASGI wants)."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_at).encode()),
        ]


class RateLimiter:
    """A 60 s sliding window per API key; it refuses requests only when `per_minute` is set.

    Without `per_minute` the headers still count against Alpaca's 200/min, so Remaining can reach
    0 while requests keep succeeding. Refused requests do not count against the window.
    """

    def __init__(
        self, per_minute: int | None = None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError(f"rate_limit_per_minute must be >= 1, got {per_minute}")
        self.per_minute = per_minute
        self.limit = per_minute or ALPACA_RATE_LIMIT
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> RateWindow:
        """Count a request for `key` unless it is over the enforced limit, and report the window."""
        with self._lock:
            now = self._monotonic()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - RATE_WINDOW_SECONDS:
                hits.popleft()
            exceeded = self.per_minute is not None and len(hits) >= self.per_minute
            if not exceeded:
                hits.append(now)
            frees_in = hits[0] + RATE_WINDOW_SECONDS - now
            return RateWindow(
                limit=self.limit,
                remaining=max(0, self.limit - len(hits)),
                reset_at=math.ceil(time.time() + frees_in),
                exceeded=exceeded,
            )


@dataclass
class Connection:
    """The transport under one HTTP connection and a flag set when the server shuts down."""

    transport: asyncio.Transport
    closing: asyncio.Event = field(default_factory=asyncio.Event)


class FaultableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, putting each connection into the scope state for FaultMiddleware."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection and expose it to this connection's requests."""
        super().connection_made(transport)
        self.app_state = {**self.app_state, _CONNECTION_KEY: Connection(transport)}

    def shutdown(self) -> None:
        """Wake hanging requests so a graceful shutdown does not wait for them."""
        self.app_state[_CONNECTION_KEY].closing.set()
        super().shutdown()


_RATE_LIMITED = FaultRule(kind="429")  # what the enforced rate limit answers


class _Capture:
    """An ASGI `send` that keeps the response instead of sending it."""

    def __init__(self) -> None:
        self.start: Message = {}
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class FaultMiddleware:
    """Counts non-admin requests, adds `X-Ratelimit-*` headers, applies rate limits and faults.

    Pure ASGI rather than BaseHTTPMiddleware, which can neither drop nor truncate a response.
    """

    def __init__(
        self, app: ASGIApp, faults: FaultPlan, requests: RequestCounter, limiter: RateLimiter
    ) -> None:
        self.app = app
        self.faults = faults
        self.requests = requests
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.requests.record(method, path)
        headers = Headers(scope=scope)
        window = self.limiter.hit(
            headers.get("apca-api-key-id") or headers.get("authorization") or ""
        )
        rule = _RATE_LIMITED if window.exceeded else self.faults.draw(method, path)
        if rule is not None and rule.kind == "429":
            window = replace(window, remaining=0)
        send = _with_headers(send, window.headers())
        if rule is None:
            await self.app(scope, receive, send)
            return
        logger.bind(kind=rule.kind, method=method, path=path).debug("injecting a fault")
        await _apply(rule, self.app, scope, receive, send)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """Wrap `send` to add `extra` headers to the response start."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def _apply(rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one request as `rule` says."""
    if rule.kind == "hang":
        await _hang(scope, receive, rule.delay)
        await _drop(scope, receive)
        return
    if rule.delay > 0:
        receive = await _read_ahead(receive)  # so the request survives a client that gives up
        await asyncio.sleep(rule.delay)
    if rule.kind == "slow":
        await app(scope, receive, send)
        return
    if rule.kind == "drop":
        await _drop(scope, receive)
        return
    if rule.kind in _PROCESSED_FIRST:
        capture = _Capture()
        await app(scope, receive, capture)  # really processed: an order is placed
        if rule.kind == "drop_after":
            await _drop(scope, receive)
            return
        if rule.kind != "504_after":
            await _send_body(send, capture.start, _altered_body(rule, scope, bytes(capture.body)))
            return
    status, code, message = _ERRORS[rule.kind]
    response = JSONResponse({"code": code, "message": message}, status_code=status)
    await response(scope, receive, send)


def _altered_body(rule: FaultRule, scope: Scope, body: bytes) -> bytes:
    """The body a processed request is answered with under `rule` (truncated or re-tokened)."""
    if rule.kind == "truncate":
        return body[: len(body) // 2]
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or "next_page_token" not in document:
        return body
    if rule.kind == "empty_token" and document["next_page_token"] is None:
        document["next_page_token"] = ""
    if rule.kind == "repeat_token":
        sent = parse_qs(scope.get("query_string", b"").decode()).get("page_token")
        if sent:
            document["next_page_token"] = sent[0]
    return json.dumps(document).encode()


async def _send_body(send: Send, start: Message, body: bytes) -> None:
    """Send the captured status and headers with `body` and a Content-Length that matches it."""
    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _connection(scope: Scope) -> Connection:
    """The request's connection, present only under FaultableH11Protocol."""
    connection = scope.get("state", {}).get(_CONNECTION_KEY)
    if not isinstance(connection, Connection):
        raise RuntimeError("drop and hang faults need the server of simulator.server")
    return connection


async def _read_ahead(receive: Receive) -> Receive:
    """Read the whole request body now; the returned `receive` replays it, then carries on."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    replay: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

    async def receiving() -> Message:
        return replay.pop() if replay else await receive()

    return receiving


async def _until_disconnect(receive: Receive) -> None:
    """Read (and discard) the request until the client has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _hang(scope: Scope, receive: Receive, seconds: float) -> None:
    """Wait until the client leaves, the server shuts down or `seconds` pass."""
    waits = {
        asyncio.ensure_future(_until_disconnect(receive)),
        asyncio.ensure_future(_connection(scope).closing.wait()),
    }
    _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def _drop(scope: Scope, receive: Receive) -> None:
    """Close the connection without a response and wait until the server has noticed."""
    _connection(scope).transport.abort()
    await _until_disconnect(receive)
