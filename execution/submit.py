"""Submit approved orders once each: record the intent, then send it with a deterministic id."""

from __future__ import annotations

from dataclasses import dataclass, field

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from loguru import logger
from requests import RequestException
from sqlalchemy import Engine, text

from execution.orders import ApprovedOrder

DUPLICATE_CLIENT_ORDER_ID = 40010001


@dataclass
class ExecutionSummary:
    """What one execution pass did."""

    submitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)


def _record_intent(engine: Engine, order: ApprovedOrder, mode: str) -> str | None:
    """Insert the submission as 'pending' before sending; returns the existing status if any."""
    with engine.begin() as conn:
        inserted = conn.execute(
            text(
                "insert into raw.order_submissions (client_order_id, strategy, symbol, side, qty, "
                "order_type, time_in_force, limit_price, decision_ts, trading_mode, status) "
                "values (:client_order_id, :strategy, :symbol, :side, :qty, :order_type, "
                ":time_in_force, :limit_price, :decision_ts, :mode, 'pending') "
                "on conflict (client_order_id) do nothing returning client_order_id"
            ),
            {**order.model_dump(), "mode": mode},
        ).scalar()
        if inserted:
            return None
        return conn.execute(
            text("select status from raw.order_submissions where client_order_id = :id"),
            {"id": order.client_order_id},
        ).scalar_one()


def _set_status(
    engine: Engine,
    client_order_id: str,
    status: str,
    broker_order_id: str | None = None,
    reason: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "update raw.order_submissions set status = :status, "
                "broker_order_id = coalesce(:broker_order_id, broker_order_id), "
                "reason = :reason, updated_at = now() where client_order_id = :id"
            ),
            {
                "status": status,
                "broker_order_id": broker_order_id,
                "reason": reason,
                "id": client_order_id,
            },
        )


def _request(order: ApprovedOrder) -> MarketOrderRequest | LimitOrderRequest:
    common = {
        "symbol": order.symbol,
        "qty": float(order.qty),
        "side": OrderSide(order.side),
        "time_in_force": TimeInForce(order.time_in_force),
        "client_order_id": order.client_order_id,
    }
    if order.order_type == "limit":
        return LimitOrderRequest(**common, limit_price=float(order.limit_price or 0))
    return MarketOrderRequest(**common)


def _find_at_broker(client: TradingClient, client_order_id: str) -> Order | None:
    """The broker's order with this client_order_id, or None when it has none."""
    try:
        return client.get_order_by_client_id(client_order_id)  # type: ignore[return-value]
    except APIError as error:
        if error.status_code == 404:
            return None
        raise


def _send(
    client: TradingClient, engine: Engine, order: ApprovedOrder, summary: ExecutionSummary
) -> None:
    """Send one recorded intent and record the outcome; never sends an id the broker holds."""
    cid = order.client_order_id
    try:
        placed: Order = client.submit_order(_request(order))  # type: ignore[assignment]
    except APIError as error:
        if error.status_code == 422 and _error_code(error) == DUPLICATE_CLIENT_ORDER_ID:
            existing = _find_at_broker(client, cid)
            if existing is not None:
                _set_status(engine, cid, "submitted", str(existing.id))
                summary.submitted.append(cid)
                return
        reason = f"HTTP {error.status_code}: {error}"
        _set_status(engine, cid, "rejected", reason=reason)
        summary.rejected.append(cid)
        logger.bind(client_order_id=cid, reason=reason).warning("order rejected")
        return
    except RequestException as error:
        _set_status(engine, cid, "unknown", reason=f"no answer from the broker: {error}")
        summary.unknown.append(cid)
        logger.bind(client_order_id=cid).error("order outcome unknown; resolved on the next run")
        return
    _set_status(engine, cid, "submitted", str(placed.id))
    summary.submitted.append(cid)
    logger.bind(client_order_id=cid, symbol=order.symbol, side=order.side, qty=str(order.qty)).info(
        "order submitted"
    )


def _error_code(error: APIError) -> int | None:
    try:
        return int(error.code)
    except (KeyError, TypeError, ValueError):
        return None


def submit_orders(
    client: TradingClient, engine: Engine, orders: list[ApprovedOrder], mode: str
) -> ExecutionSummary:
    """Submit each approved order at most once, even across crashes and re-runs."""
    summary = ExecutionSummary()
    for order in orders:
        existing = _record_intent(engine, order, mode)
        if existing in ("submitted", "rejected"):
            summary.already_done.append(order.client_order_id)
            continue
        if existing in ("pending", "unknown"):
            # A previous run recorded the intent but may have died before or after sending it.
            found = _find_at_broker(client, order.client_order_id)
            if found is not None:
                _set_status(engine, order.client_order_id, "submitted", str(found.id))
                summary.already_done.append(order.client_order_id)
                continue
        _send(client, engine, order, summary)
    return summary
