"""Approved orders for execution tests, as marts.approved_orders would carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from execution.orders import ApprovedOrder

DECIDED = datetime(2024, 3, 5, 14, tzinfo=UTC)
MARKET_OPEN = datetime(2024, 3, 5, 15, 5, tzinfo=UTC)  # 10:05 New York, a Tuesday


def approved(
    symbol: str,
    qty: int = 1,
    side: str = "buy",
    decided: datetime = DECIDED,
    strategy: str = "sma_crossover",
    **fields: object,
) -> ApprovedOrder:
    """A market day order as marts.approved_orders would carry it, with its deterministic id;
    `fields` replace columns (another order type and its prices, another id)."""
    values: dict[str, object] = {
        "decision_id": uuid5(NAMESPACE_URL, f"{strategy}/{symbol}/{decided.isoformat()}/{side}"),
        "client_order_id": f"{strategy}-{symbol}-{decided:%Y%m%d%H%M}",
        "strategy": strategy,
        "symbol": symbol,
        "side": side,
        "qty": Decimal(qty),
        "order_class": "simple",
        "order_type": "market",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "take_profit_price": None,
        "stop_loss_price": None,
        "cancel_open_exits": False,
        "decision_ts": decided,
        "as_of": decided,
        "reference_price": Decimal(100),
        "current_qty": Decimal(0 if side == "buy" else qty),
        "target_qty": Decimal(qty if side == "buy" else 0),
    }
    return ApprovedOrder.model_validate({**values, **fields})
