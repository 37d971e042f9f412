"""A paper broker: a $100k cash account, market and limit orders, fills, positions, FILL activities.

Fill rules (all times simulated, all processing lazy: `process(now)` runs whenever a request reads
the clock or the clock is moved):
- An order becomes active at its submission time when the regular session is open (POST shows
  `pending_new`), otherwise at the next session open (POST shows `accepted`).
- A market order fills completely when it becomes active, at the ask (buy) or bid (sell) of that
  moment; a later GET shows it `filled` with `filled_at` = that moment.
- A limit order fills completely at the first moment after activation at which it is marketable
  (see `Market.first_marketable`): at the quote if already marketable, else at the limit price.
- A `day` order that has not filled by the close of its session becomes `expired` at that close
  (`expired_at` = the close); `gtc` orders stay open until filled or canceled.
- Only `market`/`limit` with `day`/`gtc` are accepted; other types, time-in-force values, order
  classes and `extended_hours` orders are refused with 422 code 40010001 naming the field.
Buying power is cash minus what open buys reserve: notional, qty x limit, or qty x ask for a
market buy (plus a 3% collar when it will fill at a later open). Cash never goes below zero
unless such a deferred market buy gaps up by more than the collar. No shorting.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from simulator.calendar import NEW_YORK, from_epoch, ny_date
from simulator.market import CENT, Market, Side
from simulator.wire import (
    CODE_FORBIDDEN,
    CODE_NOT_FOUND,
    CODE_UNPROCESSABLE,
    ApiError,
    fmt_decimal,
    fmt_money,
    fmt_utc,
    invalid,
    parse_bool,
    parse_decimal,
    unprocessable,
)

START_CASH = Decimal("100000")
MARKET_BUY_COLLAR = Decimal("0.03")
MAX_CLIENT_ORDER_ID = 128
QTY_PLACES = Decimal("0.000000001")
STATE_VERSION = 1
ACCOUNT_ID = uuid.UUID("2c9d6a8e-51f3-4b7a-9d0e-5a1f3c7b9e20")
ACCOUNT_NUMBER = "PA3SIM000001"

OPEN_STATUSES = frozenset({"pending_new", "accepted", "new", "partially_filled"})
_SUPPORTED_TYPES = ("market", "limit")
_KNOWN_TYPES = ("stop", "stop_limit", "trailing_stop")
_SUPPORTED_TIFS = ("day", "gtc")
_KNOWN_TIFS = ("opg", "cls", "ioc", "fok")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _opt(value: Decimal | None) -> str | None:
    return fmt_decimal(value) if value is not None else None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Order:
    """One order and its lifecycle."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    status: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime
    active_from: datetime  # the first moment it may fill: submission or the next session open
    expires_at: datetime | None  # day orders: the close of their session
    seq: int
    reserved_cash: Decimal = Decimal(0)  # buying power held by an open buy
    reserved_qty: Decimal = Decimal(0)  # shares held by an open sell
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True until filled, canceled or expired."""
        return self.status in OPEN_STATUSES

    def to_json(self) -> dict[str, Any]:
        """The order as Alpaca's REST API returns it."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": fmt_utc(self.created_at),
            "updated_at": fmt_utc(self.updated_at),
            "submitted_at": fmt_utc(self.submitted_at),
            "filled_at": fmt_utc(self.filled_at) if self.filled_at else None,
            "expired_at": fmt_utc(self.expired_at) if self.expired_at else None,
            "expires_at": fmt_utc(self.expires_at) if self.expires_at else None,
            "canceled_at": fmt_utc(self.canceled_at) if self.canceled_at else None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": _opt(self.notional),
            "qty": _opt(self.qty),
            "filled_qty": fmt_decimal(self.filled_qty),
            "filled_avg_price": _opt(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
            "time_in_force": self.time_in_force,
            "limit_price": _opt(self.limit_price),
            "stop_price": None,
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "source": None,
            "subtag": None,
        }

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot for the state file."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, Decimal):
                out[key] = str(value)
            elif isinstance(value, datetime):
                out[key] = value.isoformat()
            else:
                out[key] = value
        return out

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Order:
        """Rebuild an order from `to_state` output."""
        return cls(
            id=data["id"],
            client_order_id=data["client_order_id"],
            symbol=data["symbol"],
            asset_id=data["asset_id"],
            side=data["side"],
            type=data["type"],
            time_in_force=data["time_in_force"],
            qty=_dec(data["qty"]),
            notional=_dec(data["notional"]),
            limit_price=_dec(data["limit_price"]),
            status=data["status"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            submitted_at=datetime.fromisoformat(data["submitted_at"]),
            active_from=datetime.fromisoformat(data["active_from"]),
            expires_at=_dt(data["expires_at"]),
            seq=int(data["seq"]),
            reserved_cash=Decimal(data["reserved_cash"]),
            reserved_qty=Decimal(data["reserved_qty"]),
            filled_qty=Decimal(data["filled_qty"]),
            filled_avg_price=_dec(data["filled_avg_price"]),
            filled_at=_dt(data["filled_at"]),
            expired_at=_dt(data["expired_at"]),
            canceled_at=_dt(data["canceled_at"]),
        )


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
        amount = _cents(fill.qty * fill.price)
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
                _cents(holding.cost_basis * remaining / holding.qty)
                if remaining > 0
                else Decimal(0)
            )
            holding.qty = remaining
        if holding.qty <= 0:
            del self.holdings[fill.symbol]


@dataclass(frozen=True)
class _Event:
    time: datetime
    seq: int
    order: Order
    kind: str  # "fill" or "expire"
    price: Decimal | None = None


class Broker:
    """The paper account and its order book; every public method is thread-safe."""

    def __init__(self, market: Market, state_path: Path | None = None) -> None:
        self.market = market
        self.calendar = market.calendar
        self.state_path = state_path
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
        if data.get("version") != STATE_VERSION:
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
        """Apply every fill, expiry and activation due up to `now`, in time order."""
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

    def _next_event(self, order: Order, now: datetime) -> _Event | None:
        if order.active_from > now:
            return None
        side = Side(order.side)
        window_end = now if order.expires_at is None else min(now, order.expires_at)
        if order.type == "market":
            quote = self.market.quote(order.symbol, order.active_from)
            price = quote.ask if side is Side.BUY else quote.bid
            return _Event(order.active_from, order.seq, order, "fill", price)
        if order.limit_price is None:
            raise RuntimeError(f"limit order {order.id} has no limit_price")
        hit = self.market.first_marketable(
            order.symbol, side, order.limit_price, order.active_from, window_end
        )
        if hit is not None:
            return _Event(hit[0], order.seq, order, "fill", hit[1])
        if order.expires_at is not None and now >= order.expires_at:
            return _Event(order.expires_at, order.seq, order, "expire")
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
        if event.price is None:
            raise RuntimeError(f"fill event for order {order.id} has no price")
        qty = self._fill_qty(order, event.price)
        previous = order.filled_qty
        order.filled_qty = previous + qty
        order.filled_avg_price = (
            (order.filled_avg_price or Decimal(0)) * previous + event.price * qty
        ) / order.filled_qty
        order.filled_avg_price = order.filled_avg_price.quantize(Decimal("0.0001")).normalize()
        order.status = "filled"
        order.filled_at = event.time
        order.reserved_cash = order.reserved_qty = Decimal(0)
        fill = Fill(
            id=activity_id(event.time),
            order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=event.price,
            time=event.time,
            cum_qty=order.filled_qty,
            leaves_qty=Decimal(0),
            order_status=order.status,
        )
        self.fills.append(fill)
        self.book.apply(fill)
        logger.bind(
            order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            qty=str(qty),
            price=str(fill.price),
        ).info("order filled")

    def _fill_qty(self, order: Order, price: Decimal) -> Decimal:
        if order.qty is not None:
            return order.qty - order.filled_qty
        if order.notional is None:
            raise RuntimeError(f"order {order.id} has neither qty nor notional")
        qty = (order.notional / price).quantize(QTY_PLACES, rounding=ROUND_DOWN)
        if order.side == "sell":
            held = self.book.holdings.get(order.symbol)
            qty = min(qty, held.qty if held else Decimal(0))
        return qty

    # -- orders ------------------------------------------------------------------------------

    def submit_order(self, payload: dict[str, Any], now: datetime) -> Order:
        """Validate and accept an order (POST /v2/orders); raise ApiError on refusal."""
        with self.lock:
            self.process(now)
            order = self._build_order(payload, now)
            self._reserve(order, now)
            self.orders[order.id] = order
            self._by_client_id[order.client_order_id] = order
            self.save()
            logger.bind(
                order_id=order.id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                status=order.status,
            ).info("order accepted")
            return order

    def _build_order(self, payload: dict[str, Any], now: datetime) -> Order:
        symbol = payload.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise invalid("symbol is required")
        asset = self.market.asset(symbol)
        if asset is None or asset.symbol != symbol.upper():
            raise invalid(f'asset "{symbol}" not found')
        side = payload.get("side")
        if side not in ("buy", "sell"):
            raise invalid(f"invalid side: {side!r} (must be buy or sell)")
        order_type = payload.get("type", payload.get("order_type"))
        if order_type in _KNOWN_TYPES:
            raise invalid(f'type "{order_type}" is not supported by the simulator')
        if order_type not in _SUPPORTED_TYPES:
            raise invalid(f"invalid type: {order_type!r}")
        tif = payload.get("time_in_force")
        if tif in _KNOWN_TIFS:
            raise invalid(f'time_in_force "{tif}" is not supported by the simulator')
        if tif not in _SUPPORTED_TIFS:
            raise invalid(f"invalid time_in_force: {tif!r}")
        order_class = payload.get("order_class") or ""
        if order_class not in ("", "simple"):
            raise invalid(f'order_class "{order_class}" is not supported by the simulator')
        for unsupported in (
            "stop_price",
            "trail_price",
            "trail_percent",
            "take_profit",
            "stop_loss",
        ):
            if payload.get(unsupported) is not None:
                raise invalid(f"{unsupported} is not allowed for a simple {order_type} order")
        if parse_bool(payload.get("extended_hours", False), "extended_hours"):
            if order_type != "limit" or tif != "day":
                raise invalid("extended hours order must be DAY limit orders")
            raise invalid("extended_hours orders are not supported by the simulator")

        qty, notional = self._parse_size(payload, order_type, tif)
        limit_price = self._parse_limit(payload, order_type)
        client_order_id = self._parse_client_order_id(payload)

        session = self.calendar.index_at(now)
        if session is not None:
            active_from, status = now, "pending_new"
        else:
            session = self.calendar.next_open_index(now)
            active_from, status = from_epoch(float(self.calendar.opens[session])), "accepted"
        expires_at = from_epoch(float(self.calendar.closes[session])) if tif == "day" else None
        self._seq += 1
        return Order(
            id=str(uuid.uuid4()),
            client_order_id=client_order_id,
            symbol=asset.symbol,
            asset_id=str(asset.id),
            side=side,
            type=order_type,
            time_in_force=tif,
            qty=qty,
            notional=notional,
            limit_price=limit_price,
            status=status,
            created_at=now,
            updated_at=now,
            submitted_at=now,
            active_from=active_from,
            expires_at=expires_at,
            seq=self._seq,
        )

    def _parse_size(
        self, payload: dict[str, Any], order_type: str, tif: str
    ) -> tuple[Decimal | None, Decimal | None]:
        raw_qty, raw_notional = payload.get("qty"), payload.get("notional")
        if raw_qty is not None and raw_notional is not None:
            raise invalid("qty and notional cannot both be specified")
        if raw_qty is None and raw_notional is None:
            raise invalid("qty or notional is required")
        qty = parse_decimal(raw_qty, "qty") if raw_qty is not None else None
        notional = parse_decimal(raw_notional, "notional") if raw_notional is not None else None
        if qty is not None:
            if qty <= 0:
                raise invalid(f"qty must be > 0 (got {raw_qty})")
            if qty != qty.quantize(QTY_PLACES):
                raise invalid(f"qty must have at most 9 decimal places (got {raw_qty})")
            qty = qty.normalize()
        if notional is not None:
            if notional < 1:
                raise invalid(f"notional must be >= 1 (got {raw_notional})")
            if notional != notional.quantize(CENT):
                raise invalid(f"notional must have at most 2 decimal places (got {raw_notional})")
            notional = notional.normalize()
        fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
        if fractional and (order_type != "market" or tif != "day"):
            raise invalid("fractional orders must be market orders with time_in_force day")
        return qty, notional

    def _parse_limit(self, payload: dict[str, Any], order_type: str) -> Decimal | None:
        raw = payload.get("limit_price")
        if order_type == "market":
            if raw is not None:
                raise invalid("limit_price is not allowed for a market order")
            return None
        if raw is None:
            raise invalid("limit_price is required for a limit order")
        price = parse_decimal(raw, "limit_price")
        if price <= 0:
            raise unprocessable(f"invalid limit_price {raw}. must be > 0")
        places = Decimal("0.01") if price >= 1 else Decimal("0.0001")
        if price != price.quantize(places):
            raise unprocessable(
                f"invalid limit_price {raw}. sub-penny increment does not fulfill "
                "minimum pricing criteria"
            )
        return price.normalize()

    def _parse_client_order_id(self, payload: dict[str, Any]) -> str:
        raw = payload.get("client_order_id")
        if raw is None or raw == "":
            return str(uuid.uuid4())
        if not isinstance(raw, str):
            raise invalid("client_order_id must be a string")
        if len(raw) > MAX_CLIENT_ORDER_ID:
            raise invalid(f"client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")
        if raw in self._by_client_id:
            raise invalid("client_order_id must be unique")
        return raw

    def _reserve(self, order: Order, now: datetime) -> None:
        quote = self.market.quote(order.symbol, now)
        if order.side == "buy":
            if order.notional is not None:
                cost = order.notional
            elif order.limit_price is not None:
                cost = order.limit_price * (order.qty or Decimal(0))
            else:
                collar = Decimal(1) if order.status == "pending_new" else 1 + MARKET_BUY_COLLAR
                cost = _cents((order.qty or Decimal(0)) * quote.ask * collar)
            buying_power = self.buying_power()
            if cost > buying_power:
                raise ApiError(
                    403,
                    CODE_FORBIDDEN,
                    "insufficient buying power",
                    buying_power=fmt_decimal(buying_power),
                    cost_basis=fmt_decimal(cost),
                )
            order.reserved_cash = cost
            return
        requested = order.qty
        if requested is None:
            if order.notional is None:
                raise RuntimeError(f"order {order.id} has neither qty nor notional")
            requested = (order.notional / quote.bid).quantize(QTY_PLACES, rounding=ROUND_UP)
        available = self.available_qty(order.symbol)
        if requested > available:
            raise ApiError(
                403,
                CODE_FORBIDDEN,
                f"insufficient qty available for order (requested: {fmt_decimal(requested)}, "
                f"available: {fmt_decimal(available)})",
            )
        order.reserved_qty = requested

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
    ) -> list[Order]:
        """Orders filtered like GET /v2/orders (after/until exclusive on submitted_at)."""
        with self.lock:
            orders = sorted(self.orders.values(), key=lambda o: (o.submitted_at, o.seq))
        if status == "open":
            orders = [o for o in orders if o.is_open]
        elif status == "closed":
            orders = [o for o in orders if not o.is_open]
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

    def cancel_order(self, order_id: str, now: datetime) -> Order:
        """Cancel an open order; 404 when unknown, 422 when already filled/canceled/expired."""
        with self.lock:
            self.process(now)
            order = self.get_order(order_id)
            if not order.is_open:
                raise ApiError(
                    422, CODE_UNPROCESSABLE, f"order is not cancelable (status: {order.status})"
                )
            order.status = "canceled"
            order.canceled_at = order.updated_at = now
            order.reserved_cash = order.reserved_qty = Decimal(0)
            self.save()
            logger.bind(order_id=order.id).info("order canceled")
            return order

    def cancel_all(self, now: datetime) -> list[Order]:
        """Cancel every open order and return them."""
        with self.lock:
            self.process(now)
            return [self.cancel_order(o.id, now) for o in self._open_orders()]

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
            (_cents(h.qty * self.market.last_price(s, t)) for s, h in book.holdings.items()),
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
                "id": str(ACCOUNT_ID),
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
                "maintenance_margin": fmt_decimal(_cents(long_value * Decimal("0.25"))),
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
        market_value = _cents(holding.qty * price)
        unrealized = market_value - holding.cost_basis
        start_of_today = datetime.combine(ny_date(now), datetime.min.time(), NEW_YORK)
        held_overnight = holding.opened_at is not None and holding.opened_at < start_of_today
        intraday_basis = _cents(holding.qty * lastday) if held_overnight else holding.cost_basis
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
