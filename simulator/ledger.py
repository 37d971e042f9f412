"""The account ledger: FILL activities and the cash-and-holdings book they build."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulator.calendar import NEW_YORK
from simulator.market import CENT
from simulator.wire import fmt_decimal, fmt_utc

START_CASH = Decimal("100000")


def cents(value: Decimal) -> Decimal:
    """Round money to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Fill:
    """One execution, reported as a FILL account activity."""

    id: str  # "<YYYYMMDDhhmmssSSS New York>::<uuid4>"
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    time: datetime
    cum_qty: Decimal
    leaves_qty: Decimal
    order_status: str

    def to_json(self) -> dict[str, Any]:
        """The activity as `GET /v2/account/activities/FILL` returns it (no account_id)."""
        return {
            "id": self.id,
            "activity_type": "FILL",
            "transaction_time": fmt_utc(self.time),
            "type": "fill" if self.order_status == "filled" else "partial_fill",
            "price": fmt_decimal(self.price),
            "qty": fmt_decimal(self.qty),
            "side": self.side,
            "symbol": self.symbol,
            "leaves_qty": fmt_decimal(self.leaves_qty),
            "cum_qty": fmt_decimal(self.cum_qty),
            "order_id": self.order_id,
            "order_status": self.order_status,
        }

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot for the state file."""
        return {**self.to_json(), "time": self.time.isoformat()}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Fill:
        """Rebuild a fill from `to_state` output."""
        return cls(
            id=data["id"],
            order_id=data["order_id"],
            symbol=data["symbol"],
            side=data["side"],
            qty=Decimal(data["qty"]),
            price=Decimal(data["price"]),
            time=datetime.fromisoformat(data["time"]),
            cum_qty=Decimal(data["cum_qty"]),
            leaves_qty=Decimal(data["leaves_qty"]),
            order_status=data["order_status"],
        )


def activity_id(at: datetime) -> str:
    """An activity id: New York local time to the millisecond, `::`, a uuid4."""
    local = at.astimezone(NEW_YORK)
    return f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}::{uuid.uuid4()}"


@dataclass
class Holding:
    """A long position built from fills."""

    qty: Decimal = Decimal(0)
    cost_basis: Decimal = Decimal(0)
    opened_at: datetime | None = None


@dataclass
class Book:
    """Cash and holdings, the result of replaying fills."""

    cash: Decimal = START_CASH
    holdings: dict[str, Holding] = field(default_factory=dict)

    def apply(self, fill: Fill) -> None:
        """Apply one execution."""
        amount = cents(fill.qty * fill.price)
        holding = self.holdings.setdefault(fill.symbol, Holding())
        if fill.side == "buy":
            self.cash -= amount
            if holding.qty == 0:
                holding.opened_at = fill.time
            holding.qty += fill.qty
            holding.cost_basis += amount
        else:
            self.cash += amount
            remaining = holding.qty - fill.qty
            holding.cost_basis = (
                cents(holding.cost_basis * remaining / holding.qty) if remaining > 0 else Decimal(0)
            )
            holding.qty = remaining
        if holding.qty <= 0:
            del self.holdings[fill.symbol]
