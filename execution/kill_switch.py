"""The manual kill switch: `trading halt` and `trading resume`, kept in raw.trading_state_events.

A halt takes effect at once: the executor reads the latest event right before it sends anything,
besides the state dbt derived (marts.trading_state), so a halt issued after the cycle's build still
stops that cycle's orders. Halting can also cancel open orders and close every position (Alpaca's
DELETE /v2/positions, which works outside market hours, unlike a day order).

The brake does not depend on the database: a halt acts at the broker first (cancel, close) and
only then connects and records; a failure of either step is reported, not raised, so the other
step still happens and the caller can say plainly what was not done.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from alpaca.trading.client import TradingClient
from alpaca.trading.models import ClosePositionResponse
from alpaca.trading.requests import CancelOrderResponse
from sqlalchemy import Engine, Row, text

RECORD = text(
    "insert into raw.trading_state_events (action, reason, actor, cancel_orders, close_positions)"
    " values (:action, :reason, :actor, :cancel_orders, :close_positions) returning recorded_at"
)
LATEST = text(
    "select action, reason, recorded_at from raw.trading_state_events order by id desc limit 1"
)
DERIVED = text("select state, reasons, reason_summary from marts.trading_state")


@dataclass(frozen=True)
class Halt:
    """Why trading is halted, and since when (None for a derived state without a time)."""

    reason: str
    since: datetime | None


@dataclass(frozen=True)
class HaltResult:
    """What a halt did at the broker and in the database; a step that failed says why."""

    cancelled: int = 0
    closed: int = 0
    broker_failures: list[str] = field(default_factory=list)
    """Orders or positions the broker refused to cancel or close, or why the request failed."""
    recorded_at: datetime | None = None
    record_error: str | None = None
    """Why the halt is not in raw.trading_state_events (None once recorded)."""

    @property
    def complete(self) -> bool:
        """Whether the broker did all that was asked and the halt is recorded."""
        return not self.broker_failures and self.recorded_at is not None


def _checked_reason(reason: str) -> str:
    if not reason.strip():
        raise ValueError("reason: a halt or resume needs a reason (got an empty one)")
    return reason.strip()


def _first_line(error: BaseException) -> str:
    """The error in one line (database drivers add context and links on later lines)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def record(
    engine: Engine,
    action: str,
    reason: str,
    cancel_orders: bool = False,
    close_positions: bool = False,
) -> datetime:
    """Record a halt or resume; returns its time. An empty reason is refused."""
    reason = _checked_reason(reason)
    with engine.begin() as conn:
        return conn.execute(
            RECORD,
            {
                "action": action,
                "reason": reason,
                "actor": getpass.getuser(),
                "cancel_orders": cancel_orders,
                "close_positions": close_positions,
            },
        ).scalar_one()


def _act_at_broker(
    client: TradingClient, cancel_orders: bool, close_positions: bool
) -> tuple[int, int, list[str]]:
    """Cancel open orders or close every position: (cancelled, closed, what was refused)."""
    # Our clients are built without raw_data, so the SDK returns its models (casts below).
    if close_positions:
        # One request that cancels the open orders first: an order holding shares (a bracket
        # leg) would otherwise keep its position from closing.
        closing = cast(list[ClosePositionResponse], client.close_all_positions(cancel_orders=True))
        refused = [f"close {r.symbol}: {r.status} {r.body}" for r in closing if r.status != 200]
        return 0, len(closing) - len(refused), refused
    if cancel_orders:
        cancelling = cast(list[CancelOrderResponse], client.cancel_orders())
        refused = [f"cancel {r.id}: {r.status} {r.body}" for r in cancelling if r.status != 200]
        return len(cancelling) - len(refused), 0, refused
    return 0, 0, []


def halt(
    connect: Callable[[], Engine],
    client: TradingClient | None,
    reason: str,
    cancel_orders: bool = False,
    close_positions: bool = False,
) -> HaltResult:
    """Halt trading: act at the broker first (cancel orders, close positions), then record.

    `connect` builds the engine only once the broker has acted, so a database that does not
    answer cannot keep the broker from being told. An empty reason is refused before anything.
    """
    reason = _checked_reason(reason)
    cancelled = closed = 0
    failures: list[str] = []
    if client is not None:
        # Whatever the broker does, the halt must still be recorded: never raise from here.
        try:
            cancelled, closed, failures = _act_at_broker(client, cancel_orders, close_positions)
        except Exception as error:
            failures = [f"the broker request failed: {_first_line(error)}"]
    # Whatever the database does, the broker's part is done and must be reported: never raise.
    try:
        at = record(connect(), "halt", reason, cancel_orders, close_positions)
    except Exception as error:
        return HaltResult(cancelled, closed, failures, record_error=_first_line(error))
    return HaltResult(cancelled, closed, failures, recorded_at=at)


def resume(engine: Engine, reason: str) -> datetime:
    """Lift a manual halt, and acknowledge the reconciliation mismatches landed before now.

    Both on the database's clock, for every build after it, whatever the broker's clock says
    (marts.trading_state).
    """
    return record(engine, "resume", reason)


def _read_state(engine: Engine) -> tuple[Row[Any] | None, Row[Any] | None]:
    """The latest manual event and the row of marts.trading_state from the last build (None
    before the first), on one connection."""
    with engine.connect() as conn:
        latest = conn.execute(LATEST).first()
        if conn.execute(text("select to_regclass('marts.trading_state')")).scalar() is None:
            return latest, None
        return latest, conn.execute(DERIVED).first()


def _halt(latest: Row[Any] | None, derived: Row[Any] | None) -> Halt | None:
    if latest is not None and latest.action == "halt":
        return Halt(f"manual halt: {latest.reason}", latest.recorded_at)
    if derived is not None and derived.state == "HALTED":
        return Halt("; ".join(derived.reasons), None)
    return None


def current_halt(engine: Engine) -> Halt | None:
    """The halt in force, if any: the latest manual event, then the state dbt derived."""
    return _halt(*_read_state(engine))


def describe_state(engine: Engine) -> str:
    """One line for people: ACTIVE, REDUCING or HALTED with the reasons."""
    latest, derived = _read_state(engine)
    halted = _halt(latest, derived)
    if halted is not None:
        return f"HALTED: {halted.reason}"
    if derived is None:
        return "ACTIVE (no trading state built yet)"
    if not derived.reason_summary:
        return str(derived.state)
    return f"{derived.state}: {derived.reason_summary}"
