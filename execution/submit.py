"""Submit approved orders exactly once: record the intent, send it with a deterministic id, and
settle any ambiguous answer by looking the order up by that id before doing anything else.

Only the intent has to be committed (durably) before the first POST. The answers are written in
batches: an answer lost to a crash leaves its intent pending, and the next run looks it up at the
broker by client_order_id before sending anything, so a commit per answer (most of the executor's
own time per order) would buy nothing but fewer lookups after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.models import Order
from loguru import logger
from requests import RequestException
from sqlalchemy import Engine, text

from config.alpaca import source_of
from config.alpaca_http import AlpacaSession
from execution.exits import cancel_open_exits
from execution.order_request import order_request
from execution.orders import ApprovedOrder

DUPLICATE_CLIENT_ORDER_ID = 40010001
MAX_SENDS = 5  # POSTs of one intent in one run, each after a lookup found it absent
UNSETTLED = ("pending", "unknown")
OUTCOMES_PER_WRITE = 50  # at most this many answers are lost to a crash, each costing a lookup

Checkpoint = Callable[[str], None]
"""Called with "recorded" once the intents are committed and "answered" when the broker has
accepted an order whose outcome is not yet written; crash-safety tests kill the process there."""


@dataclass
class ExecutionSummary:
    """What one execution pass did, by client_order_id."""

    submitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)


def _record_intents(
    engine: Engine, orders: list[ApprovedOrder], mode: str, source: str
) -> dict[str, str]:
    """Commit every order as 'pending' before anything is sent; returns earlier records' status.

    `source` says where the orders go: 'alpaca' or 'simulator'."""
    ids = [o.client_order_id for o in orders]
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "select client_order_id, status from raw.order_submissions "
                "where client_order_id = any(:ids)"
            ),
            {"ids": ids},
        )
        earlier: dict[str, str] = {row.client_order_id: row.status for row in rows}
        new = [
            {**o.model_dump(), "mode": mode, "source": source}
            for o in orders
            if o.client_order_id not in earlier
        ]
        if new:
            conn.execute(
                text(
                    "insert into raw.order_submissions (client_order_id, decision_id, strategy, "
                    "symbol, side, qty, order_class, order_type, time_in_force, limit_price, "
                    "stop_price, take_profit_price, stop_loss_price, decision_ts, trading_mode, "
                    "source, status) values (:client_order_id, :decision_id, :strategy, :symbol, "
                    ":side, :qty, :order_class, :order_type, :time_in_force, :limit_price, "
                    ":stop_price, :take_profit_price, :stop_loss_price, :decision_ts, :mode, "
                    ":source, 'pending') "
                    "on conflict (client_order_id) do nothing"
                ),
                new,
            )
    return earlier


def _unsettled(engine: Engine) -> dict[str, str | None]:
    """Intents whose outcome an earlier run left open, with the reason it gave."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select client_order_id, reason from raw.order_submissions "
                "where status = any(:open) order by created_at, client_order_id"
            ),
            {"open": list(UNSETTLED)},
        )
        return {row.client_order_id: row.reason for row in rows}


@dataclass
class _Outcomes:
    """Outcomes not yet written, OUTCOMES_PER_WRITE at a time in one statement (see the module)."""

    engine: Engine
    unwritten: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)

    def record(
        self,
        client_order_id: str,
        status: str,
        broker_order_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set an intent's status, written with the next batch."""
        self.unwritten[client_order_id] = (status, broker_order_id, reason)
        if len(self.unwritten) >= OUTCOMES_PER_WRITE:
            self.write()

    def write(self) -> None:
        """Write every outcome recorded so far (each at most once, even if this fails)."""
        outcomes, self.unwritten = self.unwritten, {}
        if not outcomes:
            return
        statuses, broker_order_ids, reasons = zip(*outcomes.values(), strict=True)
        with self.engine.begin() as conn:
            # Not waiting for the disk is safe here (not for the intent): see the module.
            conn.execute(text("set local synchronous_commit = off"))
            conn.execute(
                text(
                    "update raw.order_submissions as s set status = o.status, "
                    "broker_order_id = coalesce(o.broker_order_id, s.broker_order_id), "
                    "reason = o.reason, updated_at = now() "
                    "from unnest(cast(:ids as text[]), cast(:statuses as text[]), "
                    "cast(:broker_order_ids as text[]), cast(:reasons as text[])) "
                    "as o(client_order_id, status, broker_order_id, reason) "
                    "where s.client_order_id = o.client_order_id"
                ),
                {
                    "ids": list(outcomes),
                    "statuses": list(statuses),
                    "broker_order_ids": list(broker_order_ids),
                    "reasons": list(reasons),
                },
            )


def _find_at_broker(client: TradingClient, client_order_id: str) -> Order | None:
    """The broker's order with this client_order_id, or None when it has none.

    Raises APIError or RequestException when the broker cannot say (the GET is retried first).
    """
    try:
        return client.get_order_by_client_id(client_order_id)  # type: ignore[return-value]
    except APIError as error:
        if error.status_code == 404:
            return None
        raise


def _error_code(error: APIError) -> int | None:
    try:
        return int(error.code)
    except (KeyError, TypeError, ValueError):
        return None


def _is_refusal(error: APIError) -> bool:
    """A definite no: a 4xx other than 429 and other than the duplicate-id 422."""
    status = error.status_code or 0
    duplicate = status == 422 and _error_code(error) == DUPLICATE_CLIENT_ORDER_ID
    return 400 <= status < 500 and status != 429 and not duplicate


def _pause(client: TradingClient, attempt: int) -> None:
    """Back off before resending, as the session backs off before re-reading."""
    session = client._session
    if isinstance(session, AlpacaSession):
        session.sleep(session.retry_wait(attempt, None))


def _send(
    client: TradingClient,
    outcomes: _Outcomes,
    order: ApprovedOrder,
    summary: ExecutionSummary,
    checkpoint: Checkpoint,
) -> None:
    """POST one recorded intent; after any answer but a clear one, look it up before resending."""
    cid = order.client_order_id
    log = logger.bind(client_order_id=cid, symbol=order.symbol, side=order.side, qty=str(order.qty))
    cause = ""
    if order.cancel_open_exits:
        try:
            cancel_open_exits(client, order)
        except (APIError, RequestException) as error:
            # Nothing was sent: the intent stays open and the next run tries again.
            cause = f"could not cancel the bracket's exit legs first: {error}"
            outcomes.record(cid, "unknown", reason=cause)
            summary.unknown.append(cid)
            log.bind(reason=cause).error("exit not sent")
            return
    for attempt in range(1, MAX_SENDS + 1):
        try:
            placed: Order = client.submit_order(order_request(order))  # type: ignore[assignment]
        except APIError as error:
            cause = f"HTTP {error.status_code}: {error}"
            if _is_refusal(error):
                outcomes.record(cid, "rejected", reason=cause)
                summary.rejected.append(cid)
                log.bind(reason=cause).warning("order rejected")
                return
        except RequestException as error:  # timeout or dropped connection: it may have landed
            cause = f"no answer from the broker: {type(error).__name__}: {error}"
        else:
            checkpoint("answered")
            outcomes.record(cid, "submitted", str(placed.id))
            summary.submitted.append(cid)
            log.info("order submitted")
            return
        log.bind(cause=cause, attempt=attempt).warning("order outcome ambiguous; looking it up")
        try:
            found = _find_at_broker(client, cid)
        except (APIError, RequestException) as error:
            cause = f"{cause}; lookup failed: {error}"
            break
        if found is not None:
            outcomes.record(cid, "submitted", str(found.id))
            summary.submitted.append(cid)
            log.info("order found at the broker after an ambiguous answer")
            return
        if attempt < MAX_SENDS:
            _pause(client, attempt)
    outcomes.record(cid, "unknown", reason=cause)
    summary.unknown.append(cid)
    log.bind(reason=cause).error("order outcome unknown; the next run looks it up")


def _settle(
    client: TradingClient, outcomes: _Outcomes, cid: str, summary: ExecutionSummary
) -> bool | None:
    """Look up an intent an earlier run left open: True when the broker has it (recorded
    submitted), False when it has not, None when it could not say (recorded unknown)."""
    try:
        found = _find_at_broker(client, cid)
    except (APIError, RequestException) as error:
        outcomes.record(cid, "unknown", reason=f"lookup failed: {error}")
        summary.unknown.append(cid)
        return None
    if found is None:
        return False
    outcomes.record(cid, "submitted", str(found.id))
    summary.already_done.append(cid)
    return True


def submit_orders(
    client: TradingClient,
    engine: Engine,
    orders: list[ApprovedOrder],
    mode: str,
    checkpoint: Checkpoint = lambda _step: None,
) -> ExecutionSummary:
    """Place each approved order at the broker exactly once, even across crashes and re-runs.

    Intents an earlier run left pending or unknown that are no longer approved are looked up:
    found ones are recorded submitted; absent ones are recorded rejected and never sent late.
    Every outcome in the returned summary is written; when an error ends the pass early, the
    outcomes known until then are still written, and the rest stay open for the next run.
    """
    summary = ExecutionSummary()
    outcomes = _Outcomes(engine)
    try:
        wanted = {o.client_order_id for o in orders}
        for cid, earlier_reason in _unsettled(engine).items():
            if cid not in wanted and _settle(client, outcomes, cid, summary) is False:
                reason = f"never reached the broker; not sent late (earlier: {earlier_reason})"
                outcomes.record(cid, "rejected", reason=reason)
                summary.abandoned.append(cid)
        outcomes.write()  # "not sent late" is a decision, not just an answer: it must stick
        earlier = _record_intents(engine, orders, mode, source_of(client))
        checkpoint("recorded")
        for order in orders:
            cid = order.client_order_id
            status = earlier.get(cid)
            if status in ("submitted", "rejected"):
                summary.already_done.append(cid)
                continue
            # An earlier run may have died after sending it: ask the broker before sending.
            if status is not None and _settle(client, outcomes, cid, summary) is not False:
                continue
            _send(client, outcomes, order, summary, checkpoint)
    finally:
        outcomes.write()
    return summary
