"""The manual kill switch: `trading halt` and `trading resume`, kept in raw.trading_state_events.

A halt takes effect at once: the executor reads the latest event right before it sends anything,
besides the state dbt derived (marts.trading_state), so a halt issued after the cycle's build still
stops that cycle's orders. Halting can also cancel open orders and close every position (Alpaca's
DELETE /v2/positions, which works outside market hours, unlike a day order).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alpaca.trading.client import TradingClient
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


def record(
    engine: Engine,
    action: str,
    reason: str,
    cancel_orders: bool = False,
    close_positions: bool = False,
) -> datetime:
    """Record a halt or resume; returns its time. An empty reason is refused."""
    if not reason.strip():
        raise ValueError("reason: a halt or resume needs a reason (got an empty one)")
    with engine.begin() as conn:
        return conn.execute(
            RECORD,
            {
                "action": action,
                "reason": reason.strip(),
                "actor": getpass.getuser(),
                "cancel_orders": cancel_orders,
                "close_positions": close_positions,
            },
        ).scalar_one()


def halt(
    engine: Engine,
    client: TradingClient | None,
    reason: str,
    cancel_orders: bool = False,
    close_positions: bool = False,
) -> tuple[datetime, int, int]:
    """Halt trading (recorded first), then optionally cancel open orders and close positions.

    Returns (halted at, orders cancel requests, positions close requests).
    """
    at = record(engine, "halt", reason, cancel_orders, close_positions)
    cancelled = closed = 0
    if client is not None and close_positions:
        closed = len(client.close_all_positions(cancel_orders=True))
    elif client is not None and cancel_orders:
        cancelled = len(client.cancel_orders())
    return at, cancelled, closed


def resume(engine: Engine, reason: str) -> datetime:
    """Lift a manual halt, and acknowledge the reconciliation mismatches found before now."""
    return record(engine, "resume", reason)


def _derived_state(engine: Engine) -> Row[Any] | None:
    """The row of marts.trading_state from the last build, or None before the first."""
    with engine.connect() as conn:
        if conn.execute(text("select to_regclass('marts.trading_state')")).scalar() is None:
            return None
        return conn.execute(DERIVED).first()


def current_halt(engine: Engine) -> Halt | None:
    """The halt in force, if any: the latest manual event, then the state dbt derived."""
    with engine.connect() as conn:
        latest = conn.execute(LATEST).first()
    if latest is not None and latest.action == "halt":
        return Halt(f"manual halt: {latest.reason}", latest.recorded_at)
    derived = _derived_state(engine)
    if derived is not None and derived.state == "HALTED":
        return Halt("; ".join(derived.reasons), None)
    return None


def describe_state(engine: Engine) -> str:
    """One line for people: ACTIVE, REDUCING or HALTED with the reasons."""
    halted = current_halt(engine)
    if halted is not None:
        return f"HALTED: {halted.reason}"
    derived = _derived_state(engine)
    if derived is None:
        return "ACTIVE (no trading state built yet)"
    if not derived.reason_summary:
        return str(derived.state)
    return f"{derived.state}: {derived.reason_summary}"
