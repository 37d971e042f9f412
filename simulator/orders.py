"""Orders: the order record and the validation of a POST /v2/orders body, as Alpaca does it.

Accepted: `market`, `limit`, `stop` and `stop_limit` with `day` or `gtc`; order classes `simple`
(or ""), `bracket`, `oco` and `oto`. Everything else Alpaca knows (trailing stops, ioc/fok/opg/cls,
extended hours) is refused with 422 code 40010001 naming the field. Price rules follow the
reference: sub-penny prices are 422 42210000; exit legs must sit at least a cent on the right side
of the base price (the entry's limit price, or the last trade for a market entry or an oco).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulator.market import CENT, Asset, Market
from simulator.wire import (
    CODE_UNPROCESSABLE,
    ApiError,
    fmt_decimal,
    fmt_utc,
    invalid,
    parse_bool,
    parse_decimal,
    unprocessable,
)

MAX_CLIENT_ORDER_ID = 128
QTY_PLACES = Decimal("0.000000001")
OPEN_STATUSES = frozenset({"pending_new", "accepted", "new", "partially_filled", "held"})
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
STOP_TYPES = ("stop", "stop_limit")
ORDER_CLASSES = ("", "bracket", "oco", "oto")
_KNOWN_TYPES = ("trailing_stop",)
_SUPPORTED_TIFS = ("day", "gtc")
_KNOWN_TIFS = ("opg", "cls", "ioc", "fok")
_PRICE_FIELDS = {
    "market": (),
    "limit": ("limit_price",),
    "stop": ("stop_price",),
    "stop_limit": ("limit_price", "stop_price"),
}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _opt(value: Decimal | None) -> str | None:
    return fmt_decimal(value) if value is not None else None


@dataclass
class Order:
    """One order and its lifecycle; bracket, oco and oto orders are a parent with `leg_ids`."""

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
    active_from: datetime  # the next moment it may trigger or fill (always inside a session)
    expires_at: datetime | None  # day orders: the close of their session
    seq: int
    stop_price: Decimal | None = None
    order_class: str = ""
    parent_id: str | None = None
    leg_ids: list[str] = field(default_factory=list)
    dormant: bool = False  # a bracket/oto leg waiting for its entry to fill completely
    triggered: bool = False  # a stop whose stop price has been reached
    executions: int = 0  # fills so far; seeds the partial-fill draws
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

    @property
    def remaining_qty(self) -> Decimal | None:
        """Shares still to fill (None for a notional order)."""
        return None if self.qty is None else self.qty - self.filled_qty

    def to_json(self, legs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The order as Alpaca's REST API returns it; `legs` are rolled up when given."""
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
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
            "time_in_force": self.time_in_force,
            "limit_price": _opt(self.limit_price),
            "stop_price": _opt(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": legs,
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
            elif isinstance(value, list):
                out[key] = list(value)
            else:
                out[key] = value
        return out

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Order:
        """Rebuild an order from `to_state` output (version-1 files lack the newer fields)."""
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
            stop_price=_dec(data.get("stop_price")),
            order_class=data.get("order_class", ""),
            parent_id=data.get("parent_id"),
            leg_ids=list(data.get("leg_ids", [])),
            dormant=bool(data.get("dormant", False)),
            triggered=bool(data.get("triggered", False)),
            executions=int(data.get("executions", 1 if data["filled_qty"] != "0" else 0)),
            reserved_cash=Decimal(data["reserved_cash"]),
            reserved_qty=Decimal(data["reserved_qty"]),
            filled_qty=Decimal(data["filled_qty"]),
            filled_avg_price=_dec(data["filled_avg_price"]),
            filled_at=_dt(data["filled_at"]),
            expired_at=_dt(data["expired_at"]),
            canceled_at=_dt(data["canceled_at"]),
        )


@dataclass(frozen=True)
class Leg:
    """An exit leg of a bracket, oco or oto order, as requested."""

    kind: str  # "take_profit" or "stop_loss"
    type: str  # "limit", "stop" or "stop_limit"
    limit_price: Decimal | None
    stop_price: Decimal | None


@dataclass(frozen=True)
class OrderRequest:
    """A validated POST /v2/orders body; `legs` is empty for a simple order."""

    asset: Asset
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    order_class: str
    legs: tuple[Leg, ...]
    client_order_id: str | None  # None: generate one

    @property
    def exit_side(self) -> str:
        """The side of the exit legs: opposite the entry, or the order's own side for oco."""
        if self.order_class == "oco":
            return self.side
        return "sell" if self.side == "buy" else "buy"


def check_increment(price: Decimal, name: str, raw: Any) -> Decimal:
    """A positive price on the tick grid: cents at or above $1, 1/100 cent below."""
    if price <= 0:
        raise unprocessable(f"invalid {name} {raw}. must be > 0")
    places = CENT if price >= 1 else Decimal("0.0001")
    if price != price.quantize(places):
        raise unprocessable(
            f"invalid {name} {raw}. sub-penny increment does not fulfill minimum pricing criteria"
        )
    return price.normalize()


def _price(payload: dict[str, Any], key: str, name: str | None = None) -> Decimal | None:
    raw = payload.get(key)
    if raw is None:
        return None
    label = name or key
    return check_increment(parse_decimal(raw, label), label, raw)


def parse_order(payload: dict[str, Any], market: Market, now: datetime) -> OrderRequest:
    """Validate a POST /v2/orders body like Alpaca; raise ApiError (422) on the first problem."""
    symbol = payload.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise invalid("symbol is required")
    asset = market.asset(symbol)
    if asset is None or asset.symbol != symbol.upper():
        raise invalid(f'asset "{symbol}" not found')
    side = payload.get("side")
    if side not in ("buy", "sell"):
        raise invalid(f"invalid side: {side!r} (must be buy or sell)")
    order_type = payload.get("type", payload.get("order_type"))
    if order_type in _KNOWN_TYPES:
        raise invalid(f'type "{order_type}" is not supported by the simulator')
    if order_type not in ORDER_TYPES:
        raise invalid(f"invalid type: {order_type!r}")
    tif = payload.get("time_in_force")
    if tif in _KNOWN_TIFS:
        raise invalid(f'time_in_force "{tif}" is not supported by the simulator')
    if tif not in _SUPPORTED_TIFS:
        raise invalid(f"invalid time_in_force: {tif!r}")
    order_class = payload.get("order_class") or ""
    if order_class == "simple":
        order_class = ""
    if order_class not in ORDER_CLASSES:
        raise invalid(f"invalid order_class: {order_class!r}")
    for unsupported in ("trail_price", "trail_percent"):
        if payload.get(unsupported) is not None:
            raise invalid(f"{unsupported} is only allowed for a trailing_stop order")
    if parse_bool(payload.get("extended_hours", False), "extended_hours"):
        if order_type != "limit" or tif != "day" or order_class:
            raise invalid("extended hours order must be DAY limit orders")
        raise invalid("extended_hours orders are not supported by the simulator")

    qty, notional = _parse_size(payload, order_type, tif, order_class)
    limit_price, stop_price = _parse_prices(payload, order_type, order_class)
    legs = _parse_legs(payload, order_type, order_class)
    if order_class == "oco":
        limit_price = legs[0].limit_price
    request = OrderRequest(
        asset=asset,
        side=side,
        type=order_type,
        time_in_force=tif,
        qty=qty,
        notional=notional,
        limit_price=limit_price,
        stop_price=stop_price,
        order_class=order_class,
        legs=legs,
        client_order_id=_parse_client_order_id(payload),
    )
    if legs:
        base = limit_price if order_type == "limit" else market.last_price(asset.symbol, now)
        if order_class == "oco":
            base = market.last_price(asset.symbol, now)
        _check_leg_prices(request, base)
    return request


def _parse_size(
    payload: dict[str, Any], order_type: str, tif: str, order_class: str
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
    if fractional and order_class:
        raise invalid(f"fractional orders cannot be {order_class} orders")
    return qty, notional


def _parse_prices(
    payload: dict[str, Any], order_type: str, order_class: str
) -> tuple[Decimal | None, Decimal | None]:
    needed = _PRICE_FIELDS[order_type]
    for key in ("limit_price", "stop_price"):
        if key not in needed and payload.get(key) is not None:
            raise invalid(f"{key} is not allowed for a {order_type} order")
    limit_price = _price(payload, "limit_price") if "limit_price" in needed else None
    stop_price = _price(payload, "stop_price") if "stop_price" in needed else None
    if "limit_price" in needed and limit_price is None and order_class != "oco":
        raise invalid(f"{order_type} orders require a limit_price")
    if "stop_price" in needed and stop_price is None:
        raise invalid(f"{order_type} orders require a stop_price")
    return limit_price, stop_price


def _leg_body(payload: dict[str, Any], key: str) -> dict[str, Any] | None:
    body = payload.get(key)
    if body is None:
        return None
    if not isinstance(body, dict):
        raise invalid(f"invalid {key}: {body!r}")
    return body


def _parse_legs(payload: dict[str, Any], order_type: str, order_class: str) -> tuple[Leg, ...]:
    take_profit = _leg_body(payload, "take_profit")
    stop_loss = _leg_body(payload, "stop_loss")
    if not order_class:
        for key, body in (("take_profit", take_profit), ("stop_loss", stop_loss)):
            if body is not None:
                raise invalid(f"{key} is only allowed for bracket, oco and oto orders")
        return ()
    if order_class == "oco" and order_type != "limit":
        raise invalid("oco orders must be limit orders")
    if order_class in ("bracket", "oto") and order_type not in ("market", "limit"):
        raise invalid(f"{order_class} orders must be market or limit orders")
    if order_class == "oto":
        if (take_profit is None) == (stop_loss is None):
            raise invalid("oto orders require either take_profit or stop_loss")
    elif take_profit is None or stop_loss is None:
        raise invalid(f"{order_class} orders require both take_profit and stop_loss")
    legs: list[Leg] = []
    if take_profit is not None:
        limit = _price(take_profit, "limit_price", "take_profit.limit_price")
        if limit is None:
            raise invalid("take_profit.limit_price is required")
        legs.append(Leg("take_profit", "limit", limit, None))
    if stop_loss is not None:
        stop = _price(stop_loss, "stop_price", "stop_loss.stop_price")
        if stop is None:
            raise invalid("stop_loss.stop_price is required")
        limit = _price(stop_loss, "limit_price", "stop_loss.limit_price")
        legs.append(Leg("stop_loss", "stop" if limit is None else "stop_limit", limit, stop))
    if order_class == "oco":
        raw = payload.get("limit_price")
        if raw is not None and parse_decimal(raw, "limit_price") != legs[0].limit_price:
            raise invalid("limit_price of an oco order must equal take_profit.limit_price")
    return tuple(legs)


def _check_leg_prices(request: OrderRequest, base: Decimal | None) -> None:
    """Exit legs sit at least a cent on the profitable/losing side of the base price."""
    if base is None:
        raise RuntimeError("an advanced order without a base price")
    sells = request.exit_side == "sell"
    for leg in request.legs:
        if leg.kind == "take_profit" and leg.limit_price is not None:
            ok = leg.limit_price >= base + CENT if sells else leg.limit_price <= base - CENT
            sign = ">=" if sells else "<="
            if not ok:
                raise ApiError(
                    422,
                    CODE_UNPROCESSABLE,
                    f"take_profit.limit_price must be {sign} base_price {'+' if sells else '-'} "
                    f"0.01 (base_price: {fmt_decimal(base)})",
                )
        if leg.kind == "stop_loss" and leg.stop_price is not None:
            ok = leg.stop_price <= base - CENT if sells else leg.stop_price >= base + CENT
            sign = "<=" if sells else ">="
            if not ok:
                raise ApiError(
                    422,
                    CODE_UNPROCESSABLE,
                    f"stop_loss.stop_price must be {sign} base_price {'-' if sells else '+'} "
                    f"0.01 (base_price: {fmt_decimal(base)})",
                )


def _parse_client_order_id(payload: dict[str, Any]) -> str | None:
    raw = payload.get("client_order_id")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise invalid("client_order_id must be a string")
    if len(raw) > MAX_CLIENT_ORDER_ID:
        raise invalid(f"client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")
    return raw


def new_id() -> str:
    """A fresh order id (uuid4)."""
    return str(uuid.uuid4())
