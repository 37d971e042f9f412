"""`trading bench execute`: approved orders submitted and confirmed against the simulator, with
the client-side rate limiter off and at 200/minute; the executor's own time without HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from pydantic import SecretStr
from sqlalchemy import Engine, text

from config.alpaca import trading_client
from config.alpaca_http import AlpacaSession
from config.database import Connection, make_engine
from config.settings import Settings
from execution.orders import ApprovedOrder, approved_orders, stand_in_table
from execution.submit import submit_orders
from ingestion.migrate import scratch_database
from ingestion.orders import sync_orders
from simulator.market import UNIVERSE
from simulator.server import running_simulator

BENCH_DATABASE = "trading_bench_execute"
MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)  # 10:05 New York
LIMITER_OFF = 1_000_000_000  # requests per minute: never waits
WINDOW = 60.0
WARM_UP_ORDERS = 20


@dataclass
class Meter:
    """Seconds spent in HTTP (limiter waits included) and in the database, and send times."""

    http: float = 0.0
    limiter_wait: float = 0.0
    database: float = 0.0
    sent_at: list[float] = field(default_factory=list)

    def max_in_window(self) -> int:
        """The most requests sent within any WINDOW seconds."""
        most, first = 0, 0
        for last, at in enumerate(self.sent_at):
            while at - self.sent_at[first] >= WINDOW:
                first += 1
            most = max(most, last - first + 1)
        return most


@dataclass(frozen=True)
class ExecuteRun:
    """One pass: N approved orders submitted, then synced until the broker's state is landed."""

    limit: int | None
    orders: int
    submit_seconds: float
    confirm_seconds: float
    requests: int  # submit and confirm
    http_seconds: float  # submit only, like the two below
    limiter_wait_seconds: float
    database_seconds: float
    max_per_minute: int

    @property
    def orders_per_second(self) -> float:
        """Orders submitted and confirmed per second of wall time."""
        return self.orders / (self.submit_seconds + self.confirm_seconds)

    @property
    def http_ms_per_order(self) -> float:
        """Time in HTTP per order while submitting, limiter waits excluded."""
        return (self.http_seconds - self.limiter_wait_seconds) / self.orders * 1000

    @property
    def own_ms_per_order(self) -> float:
        """The executor's time per order outside HTTP (its database writes included)."""
        return (self.submit_seconds - self.http_seconds) / self.orders * 1000

    @property
    def python_ms_per_order(self) -> float:
        """The executor's time per order outside HTTP and the database."""
        own = self.submit_seconds - self.http_seconds - self.database_seconds
        return own / self.orders * 1000


def bench_orders(n: int) -> list[ApprovedOrder]:
    """N one-share market buys over the simulator's symbols, each with its own decision time."""
    symbols = [asset.symbol for asset in UNIVERSE]
    first = MARKET_OPEN - timedelta(hours=1)
    orders = []
    for i in range(n):
        decided = first - timedelta(minutes=i)
        symbol = symbols[i % len(symbols)]
        orders.append(
            ApprovedOrder(
                decision_id=uuid5(NAMESPACE_URL, f"bench/{symbol}/{decided.isoformat()}"),
                client_order_id=f"bench-{symbol}-{decided:%Y%m%d%H%M}",
                strategy="bench",
                symbol=symbol,
                side="buy",
                qty=Decimal(1),
                order_class="simple",
                order_type="market",
                time_in_force="day",
                limit_price=None,
                stop_price=None,
                take_profit_price=None,
                stop_loss_price=None,
                cancel_open_exits=False,
                decision_ts=decided,
                as_of=MARKET_OPEN,
                reference_price=Decimal(100),
                current_qty=Decimal(0),
                target_qty=Decimal(1),
            )
        )
    return orders


def _approve(engine: Engine, orders: list[ApprovedOrder]) -> None:
    """marts.approved_orders as a plain table shaped like its contract (setup, not measured)."""
    with engine.begin() as conn:
        stand_in_table(conn, orders)


def _timed(call: Callable[..., Any], add: Callable[[float], None]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            add(time.perf_counter() - began)

    return timed


def _instrument(session: AlpacaSession, engine: Engine, meter: Meter) -> None:
    """Time HTTP and limiter waits on the session, and connections held on the engine."""
    acquire_slot = session.limiter.acquire

    def acquire() -> float:
        waited = acquire_slot()
        meter.limiter_wait += waited
        meter.sent_at.append(time.monotonic())
        return waited

    def add_http(seconds: float) -> None:
        meter.http += seconds

    def timed_context(open_: Callable[[], Any]) -> Callable[[], Any]:
        @contextmanager
        def opened() -> Iterator[Any]:
            began = time.perf_counter()
            try:
                with open_() as conn:
                    yield conn
            finally:
                meter.database += time.perf_counter() - began

        return opened

    session.limiter.acquire = acquire  # type: ignore[method-assign]
    session.request = _timed(session.request, add_http)  # type: ignore[method-assign]
    engine.connect = timed_context(engine.connect)  # type: ignore[method-assign]  # begin uses it


def _confirm(client: Any, engine: Engine, ids: set[str]) -> None:
    """Sync raw.orders until every submitted order is landed as the broker has it."""
    landed: set[str] = set()
    for _ in range(20):
        sync_orders(client, engine)
        with engine.connect() as conn:
            landed = set(conn.execute(text("select client_order_id from raw.orders")).scalars())
        if ids <= landed:
            return
    raise RuntimeError(f"{len(ids - landed)} submitted orders never showed at the broker")


def run_once(settings: Settings, server: Connection, n: int, limit: int | None) -> ExecuteRun:
    """Submit and confirm N approved orders in a scratch database against a fresh simulator.

    The user's settings, pointed at the benchmark's own simulator with its own keys, its rate
    limit, no Redis (another process's requests would skew the count) and paper mode."""
    orders = bench_orders(n)
    with (
        scratch_database(server, BENCH_DATABASE) as database,
        running_simulator(start=MARKET_OPEN, speed=0.0) as sim,
    ):
        engine = make_engine(database)
        _approve(engine, orders)
        bench_settings = settings.model_copy(
            update={
                "redis_url": None,
                "alpaca_api_key": SecretStr("PKBENCH"),
                "alpaca_secret_key": SecretStr("BENCH"),  # the simulator takes any key
                "alpaca_trading_url": sim.url,
                "alpaca_data_url": sim.url,
                "trading_mode": "paper",
                "trading_live_confirm": None,
                "alpaca_rate_limit_per_minute": limit or LIMITER_OFF,
            }
        )
        client = trading_client(bench_settings)
        session = client._session
        if not isinstance(session, AlpacaSession):
            raise TypeError("trading_client no longer uses AlpacaSession")
        approved = approved_orders(engine)
        meter = Meter()
        _instrument(session, engine, meter)

        began = time.perf_counter()
        summary = submit_orders(client, engine, approved, "paper")
        submitted = time.perf_counter() - began
        if len(summary.submitted) != n:
            raise RuntimeError(f"submitted {len(summary.submitted)} of {n}: {summary}")
        http, db_seconds = meter.http, meter.database

        began = time.perf_counter()
        _confirm(client, engine, set(summary.submitted))
        confirmed = time.perf_counter() - began
        held = sim.simulator.broker.list_orders(status="all", limit=n + 1)
        if len(held) != n:
            raise RuntimeError(f"the broker holds {len(held)} orders, not {n}")
        engine.dispose()
    return ExecuteRun(
        limit=limit,
        orders=n,
        submit_seconds=submitted,
        confirm_seconds=confirmed,
        requests=len(meter.sent_at),
        http_seconds=http,
        limiter_wait_seconds=meter.limiter_wait,
        database_seconds=db_seconds,
        max_per_minute=meter.max_in_window(),
    )


def bench_execute(settings: Settings, server: Connection, n: int, limit: int) -> list[ExecuteRun]:
    """The same N orders with the limiter off, then at `limit` requests per minute.

    A short unmeasured run first pays the once-per-process costs (imports, first connections).
    """
    run_once(settings, server, min(n, WARM_UP_ORDERS), None)
    return [run_once(settings, server, n, None), run_once(settings, server, n, limit)]
