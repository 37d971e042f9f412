"""Before a strategy sells out of a symbol it entered with a bracket, cancel the bracket's live
exit legs: they hold the shares the sell needs, and would sell them a second time."""

from __future__ import annotations

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest
from loguru import logger

from execution.orders import ApprovedOrder
from ingestion.orders import TERMINAL

GONE = (404, 422)  # unknown, or no longer cancelable (filled, or canceled with its partner)


def cancel_open_exits(client: TradingClient, order: ApprovedOrder) -> list[str]:
    """Cancel the open exit legs of the strategy's brackets in the order's symbol (entries
    whose client_order_id starts `<strategy>-<symbol>-`); returns the legs cancelled.

    Raises APIError or RequestException when the broker cannot list or cancel them.
    """
    prefix = f"{order.strategy}-{order.symbol}-"
    request = GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=[order.symbol], nested=True)
    entries: list[Order] = client.get_orders(request)  # type: ignore[assignment]
    canceled: list[str] = []
    for entry in entries:
        if not entry.client_order_id.startswith(prefix):
            continue
        for leg in entry.legs or []:
            if leg.status.value in TERMINAL:
                continue
            try:
                client.cancel_order_by_id(leg.id)
            except APIError as error:
                if error.status_code not in GONE:
                    raise
                continue
            canceled.append(str(leg.id))
    logger.bind(client_order_id=order.client_order_id, canceled=canceled).info(
        "bracket exit legs canceled before the exit"
    )
    return canceled
