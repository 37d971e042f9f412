"""A paper broker: a $100k cash account, Alpaca's order types, fills, positions, FILL activities.

Fill rules (all times simulated, all processing lazy: `process(now)` runs whenever a request reads
the clock or the clock is moved):
- An order becomes active at its submission time when the regular session is open (POST shows
  `pending_new`), otherwise at the next session open (POST shows `accepted`).
- A market order fills when it becomes active, at the ask (buy) or bid (sell) of that moment.
- A limit order fills at the first moment after activation at which it is marketable (see
  `Market.first_marketable`): at the quote if already marketable, else at the limit price.
- A stop order triggers when the trade price reaches its stop (>= for a buy, <= for a sell).
  A triggered sell stop is a market order; a triggered buy stop is a limit order at the stop plus
  Alpaca's collar (4% below $50, 2.5% from $50); a triggered stop_limit is a limit order.
- Partial fills: with probability `partial_fill_probability` (Alpaca paper: 0.1; default 0 here)
  a fill of a whole-share order with at least 2 shares left takes a random 1..n-1 shares; the rest
  is re-evaluated PARTIAL_FILL_INTERVAL later (or at the next open). Draws are seeded by
  (fill_seed, order sequence number, execution number), so a run replays exactly. Notional orders
  and exit legs (whose partner would otherwise over-sell) always fill completely.
- Bracket and oto: the exit legs are `held` until the entry has filled completely; then the
  take-profit is `new` and the stop-loss stays `held` while its stop is watched (reference 2.2).
  Oco: the take-profit limit is the parent and the stop-loss its `held` child, both live at once.
  When an exit leg fills, its partner is canceled (the reference reports a take-profit shown as
  `replaced` when the stop fills, on issue-level evidence only; `canceled` is used for both).
  Canceling any order of a group cancels all of its open orders.
- A `day` order (legs included, held or not) that has not filled by the close of its session
  becomes `expired` at that close (`expired_at` = the close); `gtc` orders stay open.
Buying power is cash minus what open buys reserve: notional, qty x limit, qty x the collared stop
for a buy stop, or qty x ask for a market buy (plus a 3% collar when it will fill at a later open).
No shorting: sells need shares not committed to other open sells; an oco exit holds its shares
once for both legs.
"""

from __future__ import annotations

import json
import os
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from simulator.calendar import NEW_YORK, from_epoch, ny_date
from simulator.ledger import START_CASH, Book, Fill, Holding, activity_id, cents
from simulator.market import Market, Side
from simulator.orders import (
    QTY_PLACES,
    STOP_TYPES,
    Order,
    OrderRequest,
    new_id,
    parse_order,
)
from simulator.wire import (
    CODE_FORBIDDEN,
    CODE_NOT_FOUND,
    CODE_UNPROCESSABLE,
    ApiError,
    fmt_decimal,
    fmt_money,
    fmt_utc,
    invalid,
    parse_decimal,
    unprocessable,
)

__all__ = ["START_CASH", "Broker", "FillModel"]

MARKET_BUY_COLLAR = Decimal("0.03")
PARTIAL_FILL_INTERVAL = timedelta(seconds=60)
PAPER_PARTIAL_FILL_PROBABILITY = 0.1  # Alpaca paper (reference 4.1)
DEFAULT_PARTIAL_FILL_PROBABILITY = 0.0  # whole fills unless asked: tests and the demo rely on it
DEFAULT_FILL_SEED = 0
STATE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
ACCOUNT_ID = "2c9d6a8e-51f3-4b7a-9d0e-5a1f3c7b9e20"
ACCOUNT_NUMBER = "PA3SIM000001"


def buy_stop_limit(stop: Decimal) -> Decimal:
    """The limit a triggered buy stop becomes: stop +4% below $50, +2.5% from $50 (reference)."""
    return cents(stop * (Decimal("1.04") if stop < 50 else Decimal("1.025")))


@dataclass
class FillModel:
    """How fills are split: the partial-fill probability and the seed of its draws."""

    partial_fill_probability: float = DEFAULT_PARTIAL_FILL_PROBABILITY
    seed: int = DEFAULT_FILL_SEED

    def __post_init__(self) -> None:
        if not 0.0 <= self.partial_fill_probability <= 1.0:
            raise ValueError(
                f"partial_fill_probability must be within [0, 1], "
                f"got {self.partial_fill_probability}"
            )

    def partial_qty(self, order: Order, remaining: Decimal) -> Decimal | None:
        """Shares for a partial fill of `order` now, or None to fill `remaining` entirely."""
        if self.partial_fill_probability <= 0 or remaining < 2:
            return None
        # A string seed is hashed with SHA-512, so the draws do not depend on PYTHONHASHSEED.
        draw = random.Random(f"{self.seed}:{order.seq}:{order.executions}")  # noqa: S311
        if draw.random() >= self.partial_fill_probability:
            return None
        return Decimal(draw.randint(1, int(remaining) - 1))

    def to_json(self) -> dict[str, Any]:
        """The settings as `GET /admin/fill_model` shows them."""
        return {"partial_fill_probability": self.partial_fill_probability, "seed": self.seed}


@dataclass(frozen=True)
class _Event:
    time: datetime
    seq: int
    order: Order
    kind: str  # "fill", "trigger" or "expire"
    price: Decimal | None = None


class Broker:
    """The paper account and its order book; every public method is thread-safe."""

    def __init__(
        self,
        market: Market,
        state_path: Path | None = None,
        fill_model: FillModel | None = None,
    ) -> None:
        self.market = market
        self.calendar = market.calendar
        self.state_path = state_path
        self.fill_model = fill_model or FillModel()
        self.lock = threading.RLock()
        self.orders: dict[str, Order] = {}
        self._by_client_id: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.book = Book()
        self.created_at: datetime | None = None
        self.last_processed: datetime | None = None
        self._seq = 0
        if state_path is not None and state_path.exists():
            self._load(state_path)

    # -- persistence -------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"unsupported simulator state version {data.get('version')} in {path}")
        self.created_at = _dt(data["created_at"])
        self.last_processed = _dt(data["last_processed"])
        self._seq = int(data["seq"])
        for raw in data["orders"]:
            order = Order.from_state(raw)
            self.orders[order.id] = order
            self._by_client_id[order.client_order_id] = order
        self.fills = [Fill.from_state(raw) for raw in data["fills"]]
        for fill in self.fills:
            self.book.apply(fill)
        logger.bind(path=str(path), orders=len(self.orders), fills=len(self.fills)).info(
            "simulator state loaded"
        )

    def save(self) -> None:
        """Write the state file atomically (no-op without a state path)."""
        if self.state_path is None:
            return
        with self.lock:
            data = {
                "version": STATE_VERSION,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "last_processed": self.last_processed.isoformat() if self.last_processed else None,
                "seq": self._seq,
                "orders": [o.to_state() for o in self.orders.values()],
                "fills": [f.to_state() for f in self.fills],
            }
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_name(self.state_path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.state_path)

    # -- the fill engine ---------------------------------------------------------------------

    def process(self, now: datetime) -> None:
        """Apply every fill, trigger, expiry and activation due up to `now`, in time order."""
        with self.lock:
            if self.last_processed is not None and now < self.last_processed:
                now = self.last_processed
            if self.created_at is None:
                self.created_at = now
            changed = False
            while True:
                events = [e for o in self._open_orders() if (e := self._next_event(o, now))]
                if not events:
                    break
                self._apply(min(events, key=lambda e: (e.time, e.seq)))
                changed = True
            for order in self._open_orders():
                if order.status in ("pending_new", "accepted") and order.active_from <= now:
                    order.status = "new"
                    order.updated_at = order.active_from
                    changed = True
            self.last_processed = now
            if changed:
                self.save()

    def _open_orders(self) -> list[Order]:
        return sorted((o for o in self.orders.values() if o.is_open), key=lambda o: o.seq)

    def _next_moment(self, t: datetime) -> datetime:
        """`t` if the regular session is open then, else the next session open."""
        if self.calendar.index_at(t) is not None:
            return t
        return from_epoch(float(self.calendar.opens[self.calendar.next_open_index(t)]))

    def _working_limit(self, order: Order) -> Decimal | None:
        """The limit an active order fills at or better; None for a market order."""
        if order.type == "stop":
            if order.stop_price is None:
                raise RuntimeError(f"stop order {order.id} has no stop_price")
            return buy_stop_limit(order.stop_price) if order.side == "buy" else None
        return order.limit_price

    def _next_event(self, order: Order, now: datetime) -> _Event | None:
        expiry = order.expires_at
        if expiry is not None and (order.dormant or order.active_from >= expiry):
            return _Event(expiry, order.seq, order, "expire") if now >= expiry else None
        if order.dormant or order.active_from > now:
            return None
        side = Side(order.side)
        window_end = now if expiry is None else min(now, expiry)
        if order.type in STOP_TYPES and not order.triggered:
            if order.stop_price is None:
                raise RuntimeError(f"stop order {order.id} has no stop_price")
            at = self.market.first_trade_through(
                order.symbol, side is Side.BUY, order.stop_price, order.active_from, window_end
            )
            if at is not None:
                return _Event(at, order.seq, order, "trigger")
        else:
            limit = self._working_limit(order)
            if limit is None:
                quote = self.market.quote(order.symbol, order.active_from)
                price = quote.ask if side is Side.BUY else quote.bid
                return _Event(order.active_from, order.seq, order, "fill", price)
            hit = self.market.first_marketable(
                order.symbol, side, limit, order.active_from, window_end
            )
            if hit is not None:
                return _Event(hit[0], order.seq, order, "fill", hit[1])
        if expiry is not None and now >= expiry:
            return _Event(expiry, order.seq, order, "expire")
        return None

    def _apply(self, event: _Event) -> None:
        order = event.order
        order.updated_at = event.time
        if event.kind == "expire":
            order.status = "expired"
            order.expired_at = event.time
            order.reserved_cash = order.reserved_qty = Decimal(0)
            logger.bind(order_id=order.id, at=event.time.isoformat()).info("order expired")
            return
        if event.kind == "trigger":
            order.triggered = True
            order.active_from = event.time
            if order.status in ("held", "pending_new", "accepted"):
                order.status = "new"
            logger.bind(order_id=order.id, at=event.time.isoformat()).info("stop triggered")
            return
        if event.price is None:
            raise RuntimeError(f"fill event for order {order.id} has no price")
        self._execute(order, event.price, event.time)

    def _execute(self, order: Order, price: Decimal, at: datetime, *, whole: bool = False) -> None:
        """Fill what `order` has left at `price`: all of it, or a part if the fill model says."""
        qty, complete = self._fill_qty(order, price, whole)
        previous = order.filled_qty
        order.filled_qty = previous + qty
        average = ((order.filled_avg_price or Decimal(0)) * previous + price * qty) / (
            order.filled_qty
        )
        order.filled_avg_price = average.quantize(Decimal("0.0001")).normalize()
        order.executions += 1
        leaves = Decimal(0) if complete else (order.remaining_qty or Decimal(0))
        if complete:
            order.status = "filled"
            order.filled_at = at
            order.reserved_cash = order.reserved_qty = Decimal(0)
        else:
            order.status = "partially_filled"
            order.reserved_cash = cents(order.reserved_cash * leaves / (leaves + qty))
            order.reserved_qty = max(order.reserved_qty - qty, Decimal(0))
            order.active_from = self._next_moment(at + PARTIAL_FILL_INTERVAL)
        fill = Fill(
            id=activity_id(at),
            order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            time=at,
            cum_qty=order.filled_qty,
            leaves_qty=leaves,
            order_status=order.status,
        )
        self.fills.append(fill)
        self.book.apply(fill)
        logger.bind(
            order_id=order.id, symbol=order.symbol, side=order.side, qty=str(qty), price=str(price)
        ).info("order filled" if complete else "order partially filled")
        if complete:
            self._activate_legs(order, at)
            for peer in self._oco_peers(order):
                if peer.is_open:
                    self._mark_canceled(peer, at)

    def _fill_qty(self, order: Order, price: Decimal, whole: bool) -> tuple[Decimal, bool]:
        """The quantity of the next execution and whether it completes the order."""
        remaining = order.remaining_qty
        if remaining is None:
            if order.notional is None:
                raise RuntimeError(f"order {order.id} has neither qty nor notional")
            qty = (order.notional / price).quantize(QTY_PLACES, rounding=ROUND_DOWN)
            if order.side == "sell":
                held = self.book.holdings.get(order.symbol)
                qty = min(qty, held.qty if held else Decimal(0))
            return qty, True
        if whole or self._is_exit_leg(order):
            return remaining, True
        part = self.fill_model.partial_qty(order, remaining)
        return (remaining, True) if part is None else (part, False)

    # -- order groups ------------------------------------------------------------------------

    def _root(self, order: Order) -> Order:
        return self.orders[order.parent_id] if order.parent_id else order

    def _family(self, order: Order) -> list[Order]:
        """The order's whole group: the parent first, then its legs."""
        root = self._root(order)
        return [root, *(self.orders[i] for i in root.leg_ids)]

    def _group_or_self(self, order: Order, nested: bool) -> list[Order]:
        return self._family(order) if nested else [order]

    def _exit_group(self, order: Order) -> list[Order]:
        """The one-cancels-other exits `order` belongs to (empty when it is not an exit)."""
        root = self._root(order)
        group = [self.orders[i] for i in root.leg_ids]
        if root.order_class == "oco":
            group.insert(0, root)
        return group if any(o.id == order.id for o in group) else []

    def _is_exit_leg(self, order: Order) -> bool:
        return len(self._exit_group(order)) > 1

    def _oco_peers(self, order: Order) -> list[Order]:
        return [o for o in self._exit_group(order) if o.id != order.id]

    def _activate_legs(self, root: Order, at: datetime) -> None:
        """An entry filled completely: its held exit legs start working."""
        legs = [self.orders[i] for i in root.leg_ids if self.orders[i].dormant]
        if not legs:
            return
        for leg in legs:
            leg.dormant = False
            leg.active_from = at
            leg.updated_at = at
            if leg.type == "limit":
                leg.status = "new"
        # One reservation covers the group: only one exit can fill.
        legs[0].reserved_qty = legs[0].qty or Decimal(0)
        logger.bind(order_id=root.id, legs=len(legs)).info("bracket legs activated")

    def _mark_canceled(self, order: Order, at: datetime) -> None:
        order.status = "canceled"
        order.canceled_at = order.updated_at = at
        order.dormant = False
        order.reserved_cash = order.reserved_qty = Decimal(0)
        logger.bind(order_id=order.id).info("order canceled")

    # -- orders ------------------------------------------------------------------------------

    def submit_order(self, payload: dict[str, Any], now: datetime) -> Order:
        """Validate and accept an order (POST /v2/orders); raise ApiError on refusal."""
        with self.lock:
            self.process(now)
            request = parse_order(payload, self.market, now)
            client_order_id = request.client_order_id or new_id()
            if client_order_id in self._by_client_id:
                raise invalid("client_order_id must be unique")
            if request.order_class in ("bracket", "oto") and request.side == "sell":
                # No shorting, so a sell can only close a position, never open one.
                raise ApiError(
                    422, CODE_UNPROCESSABLE, f"{request.order_class} orders must be entry orders"
                )
            if request.order_class == "oco" and request.side == "buy":
                raise ApiError(422, CODE_UNPROCESSABLE, "oco orders must be exit orders")
            family = self._build_orders(request, client_order_id, now)
            self._reserve(family[0], now)
            for order in family:
                self.orders[order.id] = order
                self._by_client_id[order.client_order_id] = order
            self.save()
            root = family[0]
            logger.bind(
                order_id=root.id,
                client_order_id=root.client_order_id,
                symbol=root.symbol,
                side=root.side,
                order_class=root.order_class,
                status=root.status,
            ).info("order accepted")
            return root

    def _build_orders(
        self, request: OrderRequest, client_order_id: str, now: datetime
    ) -> list[Order]:
        """The entry (or oco parent) and its legs, not yet registered."""
        session = self.calendar.index_at(now)
        if session is not None:
            active_from, status = now, "pending_new"
        else:
            session = self.calendar.next_open_index(now)
            active_from, status = from_epoch(float(self.calendar.opens[session])), "accepted"
        expires_at = (
            from_epoch(float(self.calendar.closes[session]))
            if request.time_in_force == "day"
            else None
        )

        def make(**fields: Any) -> Order:
            self._seq += 1
            base: dict[str, Any] = {
                "symbol": request.asset.symbol,
                "asset_id": str(request.asset.id),
                "time_in_force": request.time_in_force,
                "qty": request.qty,
                "order_class": request.order_class,
                "created_at": now,
                "updated_at": now,
                "submitted_at": now,
                "active_from": active_from,
                "expires_at": expires_at,
                "seq": self._seq,
            }
            return Order(id=new_id(), **{**base, **fields})

        root = make(
            client_order_id=client_order_id,
            side=request.side,
            type=request.type,
            notional=request.notional,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            status=status,
        )
        children: list[Order] = []
        for leg in request.legs:
            if request.order_class == "oco" and leg.kind == "take_profit":
                continue  # the oco parent is the take-profit
            child = make(
                client_order_id=new_id(),
                side=request.exit_side,
                type=leg.type,
                notional=None,
                limit_price=leg.limit_price,
                stop_price=leg.stop_price,
                status="held",
                parent_id=root.id,
                dormant=request.order_class != "oco",
            )
            root.leg_ids.append(child.id)
            children.append(child)
        return [root, *children]

    def _reserve(self, order: Order, now: datetime) -> None:
        """Hold buying power (buys) or shares (sells) for a new order; 403 when short of either."""
        quote = self.market.quote(order.symbol, now)
        if order.side == "buy":
            if order.notional is not None:
                cost = order.notional
            elif order.type == "stop" and order.stop_price is not None:
                cost = buy_stop_limit(order.stop_price) * (order.qty or Decimal(0))
            elif order.limit_price is not None:
                cost = order.limit_price * (order.qty or Decimal(0))
            else:
                collar = Decimal(1) if order.status == "pending_new" else 1 + MARKET_BUY_COLLAR
                cost = cents((order.qty or Decimal(0)) * quote.ask * collar)
            self._check_buying_power(cost)
            order.reserved_cash = cost
            return
        requested = order.qty
        if requested is None:
            if order.notional is None:
                raise RuntimeError(f"order {order.id} has neither qty nor notional")
            requested = (order.notional / quote.bid).quantize(QTY_PLACES, rounding=ROUND_UP)
        self._check_available(order.symbol, requested)
        order.reserved_qty = requested

    def _check_buying_power(self, cost: Decimal) -> None:
        buying_power = self.buying_power()
        if cost > buying_power:
            raise ApiError(
                403,
                CODE_FORBIDDEN,
                "insufficient buying power",
                buying_power=fmt_decimal(buying_power),
                cost_basis=fmt_decimal(cost),
            )

    def _check_available(self, symbol: str, requested: Decimal) -> None:
        available = self.available_qty(symbol)
        if requested > available:
            raise ApiError(
                403,
                CODE_FORBIDDEN,
                f"insufficient qty available for order (requested: {fmt_decimal(requested)}, "
                f"available: {fmt_decimal(available)})",
            )

    def get_order(self, order_id: str) -> Order:
        """The order with this id; 404 when unknown."""
        with self.lock:
            order = self.orders.get(order_id.lower())
            if order is None:
                raise ApiError(404, CODE_NOT_FOUND, "order not found")
            return order

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        """The order with this client_order_id; 404 when unknown."""
        with self.lock:
            order = self._by_client_id.get(client_order_id)
            if order is None:
                raise ApiError(404, CODE_NOT_FOUND, "order not found")
            return order

    def order_json(self, order: Order, *, nested: bool) -> dict[str, Any]:
        """The order's JSON; with `nested`, a parent carries its legs."""
        with self.lock:
            legs = [self.orders[i].to_json() for i in order.leg_ids] if nested else []
            return order.to_json(legs or None)

    def list_orders(
        self,
        *,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        side: str | None = None,
        symbols: set[str] | None = None,
        nested: bool = False,
    ) -> list[Order]:
        """Orders filtered like GET /v2/orders (after/until exclusive on submitted_at).

        Without `nested` every leg is listed as an order of its own; with it only parents are.
        """
        with self.lock:
            orders = sorted(self.orders.values(), key=lambda o: (o.submitted_at, o.seq))
        if nested:
            orders = [o for o in orders if o.parent_id is None]
        if status != "all":
            # Nested, a group is open while any of its orders is (a filled entry's live exits).
            opened = {
                o.id for o in orders if any(m.is_open for m in self._group_or_self(o, nested))
            }
            wanted = status == "open"
            orders = [o for o in orders if (o.id in opened) == wanted]
        if after is not None:
            orders = [o for o in orders if o.submitted_at > after]
        if until is not None:
            orders = [o for o in orders if o.submitted_at < until]
        if side is not None:
            orders = [o for o in orders if o.side == side]
        if symbols:
            orders = [o for o in orders if o.symbol in symbols]
        if direction == "desc":
            orders.reverse()
        return orders[:limit]

    def cancel_order(self, order_id: str, now: datetime) -> list[Order]:
        """Cancel an open order and the rest of its group; 404 unknown, 422 not cancelable.

        Returns every order canceled (the order itself first).
        """
        with self.lock:
            self.process(now)
            order = self.get_order(order_id)
            if not order.is_open:
                raise ApiError(
                    422, CODE_UNPROCESSABLE, f"order is not cancelable (status: {order.status})"
                )
            canceled = [order] + [o for o in self._family(order) if o.id != order.id and o.is_open]
            for member in canceled:
                self._mark_canceled(member, now)
            self.save()
            return canceled

    def cancel_all(self, now: datetime) -> list[Order]:
        """Cancel every open order and return them."""
        with self.lock:
            self.process(now)
            canceled: list[Order] = []
            for order in self._open_orders():
                if order.is_open:
                    canceled.extend(self.cancel_order(order.id, now))
            return canceled

    def close_all_positions(self, now: datetime, cancel_orders: bool) -> list[Order]:
        """DELETE /v2/positions: optionally cancel every open order, then a market day sell of
        each whole holding (queued for the open when the market is closed)."""
        with self.lock:
            self.process(now)
            if cancel_orders:
                self.cancel_all(now)
            return [
                self.submit_order(
                    {
                        "symbol": symbol,
                        "qty": str(holding.qty),
                        "side": "sell",
                        "type": "market",
                        "time_in_force": "day",
                    },
                    now,
                )
                for symbol, holding in sorted(self.book.holdings.items())
                if holding.qty > 0
            ]

    def external_trade(self, payload: dict[str, Any], now: datetime) -> Order:
        """Book a trade made outside the API (a manual trade in the web UI): filled at once.

        `{"symbol", "side", "qty", "price"?}`; the price defaults to the quote now (ask for a
        buy, bid for a sell). The order gets a uuid4 client_order_id, like the web UI's, so
        it carries no strategy prefix. Buying power and held shares are checked as for any order.
        """
        with self.lock:
            self.process(now)
            symbol = payload.get("symbol")
            asset = self.market.asset(symbol) if isinstance(symbol, str) else None
            if asset is None:
                raise invalid(f'asset "{symbol}" not found')
            side = payload.get("side")
            if side not in ("buy", "sell"):
                raise invalid(f"invalid side: {side!r} (must be buy or sell)")
            if payload.get("qty") is None:
                raise invalid("qty is required")
            qty = parse_decimal(payload["qty"], "qty")
            if qty <= 0 or qty != qty.quantize(QTY_PLACES):
                raise invalid(f"qty must be > 0 with at most 9 decimal places (got {qty})")
            qty = qty.normalize()
            quote = self.market.quote(asset.symbol, now)
            if payload.get("price") is None:
                price = quote.ask if side == "buy" else quote.bid
            else:
                price = parse_decimal(payload["price"], "price")
                if price <= 0:
                    raise unprocessable(f"invalid price {payload['price']}. must be > 0")
            if side == "buy":
                self._check_buying_power(cents(qty * price))
            else:
                self._check_available(asset.symbol, qty)
            self._seq += 1
            order = Order(
                id=new_id(),
                client_order_id=new_id(),
                symbol=asset.symbol,
                asset_id=str(asset.id),
                side=side,
                type="market",
                time_in_force="day",
                qty=qty,
                notional=None,
                limit_price=None,
                status="new",
                created_at=now,
                updated_at=now,
                submitted_at=now,
                active_from=now,
                expires_at=None,
                seq=self._seq,
            )
            self.orders[order.id] = order
            self._by_client_id[order.client_order_id] = order
            self._execute(order, price, now, whole=True)
            self.save()
            logger.bind(order_id=order.id, symbol=order.symbol, side=side, qty=str(qty)).info(
                "external trade booked"
            )
            return order

    # -- account, positions, activities ------------------------------------------------------

    def buying_power(self) -> Decimal:
        """Cash minus what open buy orders reserve, never below zero."""
        with self.lock:
            reserved = sum((o.reserved_cash for o in self.orders.values() if o.is_open), Decimal(0))
            return max(self.book.cash - reserved, Decimal(0))

    def available_qty(self, symbol: str) -> Decimal:
        """Shares of `symbol` held and not already committed to open sell orders."""
        with self.lock:
            held = self.book.holdings.get(symbol)
            committed = sum(
                (o.reserved_qty for o in self.orders.values() if o.is_open and o.symbol == symbol),
                Decimal(0),
            )
            return (held.qty if held else Decimal(0)) - committed

    def _book_at(self, t: datetime) -> Book:
        book = Book()
        for fill in self.fills:
            if fill.time <= t:
                book.apply(fill)
        return book

    def _equity(self, book: Book, t: datetime) -> tuple[Decimal, Decimal]:
        long_value = sum(
            (cents(h.qty * self.market.last_price(s, t)) for s, h in book.holdings.items()),
            Decimal(0),
        )
        return book.cash + long_value, long_value

    def _previous_close(self, now: datetime) -> tuple[int | None, datetime | None]:
        index = self.calendar.last_index_before(ny_date(now))
        if index is None:
            return None, None
        return index, from_epoch(float(self.calendar.closes[index]))

    def account(self, now: datetime) -> dict[str, Any]:
        """The account as GET /v2/account returns it, valued at `now`."""
        with self.lock:
            equity, long_value = self._equity(self.book, now)
            _, last_close = self._previous_close(now)
            last_equity = (
                self._equity(self._book_at(last_close), last_close)[0] if last_close else START_CASH
            )
            buying_power = fmt_decimal(self.buying_power())
            created = self.created_at or now
            return {
                "id": ACCOUNT_ID,
                "account_number": ACCOUNT_NUMBER,
                "status": "ACTIVE",
                "currency": "USD",
                "buying_power": buying_power,
                "regt_buying_power": buying_power,
                "non_marginable_buying_power": buying_power,
                "options_buying_power": buying_power,
                "cash": fmt_decimal(self.book.cash),
                "accrued_fees": "0",
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "portfolio_value": fmt_decimal(equity),
                "equity": fmt_decimal(equity),
                "last_equity": fmt_decimal(last_equity),
                "long_market_value": fmt_decimal(long_value),
                "short_market_value": "0",
                "initial_margin": fmt_decimal(long_value),
                "maintenance_margin": fmt_decimal(cents(long_value * Decimal("0.25"))),
                "last_maintenance_margin": "0",
                "sma": "0",
                "multiplier": "1",
                "shorting_enabled": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "created_at": fmt_utc(created),
            }

    def positions(self, now: datetime) -> list[dict[str, Any]]:
        """Open positions as GET /v2/positions returns them, sorted by symbol."""
        with self.lock:
            return [self._position_json(s, h, now) for s, h in sorted(self.book.holdings.items())]

    def position(self, symbol_or_id: str, now: datetime) -> dict[str, Any]:
        """One open position; 404 when there is none."""
        with self.lock:
            asset = self.market.asset(symbol_or_id)
            holding = self.book.holdings.get(asset.symbol) if asset else None
            if asset is None or holding is None:
                raise ApiError(404, CODE_NOT_FOUND, "position does not exist")
            return self._position_json(asset.symbol, holding, now)

    def _position_json(self, symbol: str, holding: Holding, now: datetime) -> dict[str, Any]:
        asset = self.market.assets[symbol]
        price = self.market.last_price(symbol, now)
        index, _ = self._previous_close(now)
        lastday = self.market.daily_close(symbol, index) if index is not None else price
        market_value = cents(holding.qty * price)
        unrealized = market_value - holding.cost_basis
        start_of_today = datetime.combine(ny_date(now), datetime.min.time(), NEW_YORK)
        held_overnight = holding.opened_at is not None and holding.opened_at < start_of_today
        intraday_basis = cents(holding.qty * lastday) if held_overnight else holding.cost_basis
        intraday = market_value - intraday_basis
        qty = fmt_decimal(holding.qty)
        return {
            "asset_id": str(asset.id),
            "symbol": symbol,
            "exchange": asset.exchange,
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": qty,
            "qty_available": fmt_decimal(self.available_qty(symbol)),
            "avg_entry_price": fmt_money(holding.cost_basis / holding.qty, 4),
            "side": "long",
            "market_value": fmt_decimal(market_value),
            "cost_basis": fmt_decimal(holding.cost_basis),
            "unrealized_pl": fmt_decimal(unrealized),
            "unrealized_plpc": _ratio(unrealized, holding.cost_basis),
            "unrealized_intraday_pl": fmt_decimal(intraday),
            "unrealized_intraday_plpc": _ratio(intraday, intraday_basis),
            "current_price": fmt_decimal(price),
            "lastday_price": fmt_decimal(lastday),
            "change_today": _ratio(price - lastday, lastday),
        }

    def activities(
        self,
        *,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        page_size: int = 100,
        page_token: str | None = None,
    ) -> list[Fill]:
        """FILL activities: after exclusive, until inclusive, paged by the last id seen."""
        with self.lock:
            fills = sorted(self.fills, key=lambda f: (f.time, f.id))
        if after is not None:
            fills = [f for f in fills if f.time > after]
        if until is not None:
            fills = [f for f in fills if f.time <= until]
        if direction == "desc":
            fills.reverse()
        if page_token:
            ids = [f.id for f in fills]
            if page_token not in ids:
                raise unprocessable(f"invalid page_token: {page_token}")
            fills = fills[ids.index(page_token) + 1 :]
        return fills[:page_size]


def _ratio(numerator: Decimal, denominator: Decimal) -> str:
    """A ratio as a string with up to 16 decimals; 0 when the denominator is 0."""
    if denominator == 0:
        return "0"
    return fmt_money(numerator / denominator, 16)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
