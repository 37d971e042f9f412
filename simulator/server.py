"""Host the simulator: `Simulator` (clock, market, broker), `serve` and `running_simulator`.

CLI wiring: `trading sim --port N [--start TIME] [--speed X] [--state PATH]` calls
`serve(port=N, start=<aware datetime or None>, speed=X, state_path=<Path or None>)`, which blocks
until interrupted. Point alpaca-py at it with `url_override="http://127.0.0.1:N"` (no trailing
slash) and any key pair. Drive the clock with `GET/POST /admin/clock`, e.g.
`{"to": "2024-01-03T14:30:00Z"}`, `{"advance_seconds": 3600}` or `{"speed": 60}`.

With a state file, a restarted simulator keeps its orders, fills and cash, and its clock resumes at
max(start, the last simulated time recorded in the file) so that time never goes backwards.

Misbehaviour for client tests (see simulator.faults): pass `faults=[FaultRule(...)]` or use
`POST/GET/DELETE /admin/faults`; `GET/DELETE /admin/requests` counts requests per "METHOD /path";
`rate_limit_per_minute=N` refuses a key's requests beyond N per sliding minute with 429s. Every
non-admin answer carries `X-Ratelimit-Limit/Remaining/Reset`.

Broker controls: `fill_model=FillModel(partial_fill_probability=0.1, seed=7)` or
`GET/POST /admin/fill_model` split fills like Alpaca paper (default: whole fills);
`POST /admin/external_trade` books a manual trade, as if placed in Alpaca's web UI.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as dt_time
from pathlib import Path

import uvicorn
from loguru import logger

from simulator.app import create_app
from simulator.broker import Broker, FillModel
from simulator.calendar import FIRST_SESSION, LAST_SESSION, NEW_YORK, MarketCalendar
from simulator.clock import SimClock
from simulator.faults import (
    DEFAULT_FAULT_SEED,
    FaultableH11Protocol,
    FaultPlan,
    FaultRule,
    RateLimiter,
    RequestCounter,
)
from simulator.market import DEFAULT_SEED, Market

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_LOOPBACK = ("127.0.0.1", "localhost")
_EARLIEST = datetime.combine(FIRST_SESSION, dt_time(0), NEW_YORK).astimezone(UTC)
_LATEST = datetime.combine(LAST_SESSION, dt_time(0), NEW_YORK).astimezone(UTC)


class Simulator:
    """The clock, market and broker of one simulated world; reading time processes orders."""

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 0.0,
        state_path: Path | None = None,
        seed: int = DEFAULT_SEED,
        max_bars_per_page: int = 10_000,
        faults: Sequence[FaultRule] = (),
        fault_seed: int = DEFAULT_FAULT_SEED,
        rate_limit_per_minute: int | None = None,
        fill_model: FillModel | None = None,
    ) -> None:
        self.max_bars_per_page = max_bars_per_page
        self.faults = FaultPlan(faults, fault_seed)
        self.requests = RequestCounter()
        self.rate_limiter = RateLimiter(rate_limit_per_minute)
        self.calendar = MarketCalendar()
        self.market = Market(self.calendar, seed)
        self.broker = Broker(self.market, state_path, fill_model)
        begin = _check_in_range(start or datetime.now(UTC))
        resumed = self.broker.last_processed
        if resumed is not None and resumed > begin:
            logger.bind(start=begin.isoformat(), resumed=resumed.isoformat()).warning(
                "state file is ahead of the requested start; resuming its clock"
            )
            begin = resumed
        self.clock = SimClock(begin, speed)

    def sync(self) -> datetime:
        """Read the clock and process every order event up to that moment."""
        with self.broker.lock:
            now = self.clock.now()
            self.broker.process(now)
            return now

    def set_time(self, to: datetime) -> datetime:
        """Jump the clock forward to `to` (ValueError if backwards) and process orders."""
        _check_in_range(to)
        with self.broker.lock:
            self.clock.set(to)
            return self.sync()

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by `seconds` and process orders."""
        with self.broker.lock:
            self.clock.advance(seconds)
            return self.sync()

    def set_speed(self, speed: float) -> None:
        """Change the clock speed (0 freezes it)."""
        self.clock.set_speed(speed)

    def close(self) -> None:
        """Persist the final state (the clock position included)."""
        self.sync()
        self.broker.save()


def _check_in_range(t: datetime) -> datetime:
    """Refuse naive times and times outside the simulated calendar."""
    if t.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got naive {t.isoformat()}")
    if not _EARLIEST <= t < _LATEST:
        raise ValueError(
            f"time {t.isoformat()} is outside the simulated calendar "
            f"({_EARLIEST.isoformat()} to {_LATEST.isoformat()})"
        )
    return t.astimezone(UTC)


@dataclass(frozen=True)
class SimulatorHandle:
    """A running simulator: its base URL (no trailing slash) and direct access to its state."""

    url: str
    port: int
    simulator: Simulator


def _uvicorn_config(sim: Simulator, **kwargs: object) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(sim),
        http=FaultableH11Protocol,
        log_level="warning",
        access_log=False,
        log_config=None,
        lifespan="off",
        **kwargs,  # type: ignore[arg-type]
    )


@contextmanager
def running_simulator(
    start: datetime | None = None,
    speed: float = 0.0,
    state_path: Path | None = None,
    port: int = 0,
    seed: int = DEFAULT_SEED,
    max_bars_per_page: int = 10_000,
    faults: Sequence[FaultRule] = (),
    fault_seed: int = DEFAULT_FAULT_SEED,
    rate_limit_per_minute: int | None = None,
    fill_model: FillModel | None = None,
) -> Iterator[SimulatorHandle]:
    """Serve a simulator on 127.0.0.1 in a background thread (port 0 = any free port).

    `max_bars_per_page` caps each bars page below the requested `limit`, as the real API may.
    `faults` is the initial fault plan (rates drawn with `fault_seed`); `rate_limit_per_minute`
    turns on a real per-API-key limit; `fill_model` sets the partial-fill probability and seed
    (default: whole fills).
    """
    sim = Simulator(
        start=start,
        speed=speed,
        state_path=state_path,
        seed=seed,
        max_bars_per_page=max_bars_per_page,
        faults=faults,
        fault_seed=fault_seed,
        rate_limit_per_minute=rate_limit_per_minute,
        fill_model=fill_model,
    )
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets when proto is TCP.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound_port = int(sock.getsockname()[1])
    server = uvicorn.Server(_uvicorn_config(sim))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"simulator:{bound_port}", daemon=True
    )
    thread.start()
    url = f"http://{HOST}:{bound_port}"
    try:
        _wait_until_up(server, thread, bound_port)
        logger.bind(url=url).debug("simulator started")
        yield SimulatorHandle(url=url, port=bound_port, simulator=sim)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        sim.close()


def _wait_until_up(server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
    """Block until the server answers, or raise if it died or took over 15 s."""
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"simulator server at {url} failed to start")
        if time.monotonic() > deadline:
            raise RuntimeError(f"simulator server at {url} did not start within 15 s")
        time.sleep(0.005)
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", "/admin/clock")
        status = connection.getresponse().status
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"simulator server at {url} answered {status} to GET /admin/clock")


def serve(
    host: str = HOST,
    port: int = DEFAULT_PORT,
    start: datetime | None = None,
    speed: float = 1.0,
    state_path: Path | None = None,
    seed: int = DEFAULT_SEED,
    *,
    faults: Sequence[FaultRule] = (),
    fault_seed: int = DEFAULT_FAULT_SEED,
    rate_limit_per_minute: int | None = None,
    fill_model: FillModel | None = None,
) -> None:
    """Serve the simulator on host:port until interrupted (blocking); loopback hosts only.

    `faults`, `fault_seed`, `rate_limit_per_minute` and `fill_model` are as for
    `running_simulator`.
    """
    if host not in _LOOPBACK:
        raise ValueError(f"the simulator binds only to 127.0.0.1, not {host!r}")
    sim = Simulator(
        start=start,
        speed=speed,
        state_path=state_path,
        seed=seed,
        faults=faults,
        fault_seed=fault_seed,
        rate_limit_per_minute=rate_limit_per_minute,
        fill_model=fill_model,
    )
    logger.bind(
        url=f"http://{HOST}:{port}",
        start=sim.clock.now().isoformat(),
        speed=speed,
        state=str(state_path) if state_path else None,
        faults=len(faults),
        rate_limit_per_minute=rate_limit_per_minute,
    ).info("simulator serving")
    try:
        uvicorn.Server(_uvicorn_config(sim, host=HOST, port=port)).run()
    finally:
        sim.close()
