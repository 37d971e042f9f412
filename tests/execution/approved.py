"""Approved orders for execution tests, as marts.approved_orders would carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from execution.orders import ApprovedOrder

DECIDED = datetime(2024, 3, 5, 14, tzinfo=UTC)


def approved(
    symbol: str, qty: int = 1, side: str = "buy", decided: datetime = DECIDED
) -> ApprovedOrder:
    """A market day order as marts.approved_orders would carry it, with its deterministic id."""
    return ApprovedOrder(
        client_order_id=f"sma_crossover-{symbol}-{decided:%Y%m%d%H%M}",
        strategy="sma_crossover",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type="market",
        time_in_force="day",
        limit_price=None,
        decision_ts=decided,
        as_of=decided,
        reference_price=Decimal(100),
        current_qty=Decimal(0),
        target_qty=Decimal(qty),
    )
