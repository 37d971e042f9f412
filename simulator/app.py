"""The simulator's HTTP API: Alpaca-compatible `/v2/...` routes plus `/admin/...` controls.

Admin routes (no auth, never faulted): `/admin/clock`, `/admin/faults`, `/admin/requests`,
`/admin/fill_model` (partial fills) and `POST /admin/external_trade` (a manual trade).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import numpy.typing as npt
from fastapi import Body, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.broker import FillModel
from simulator.calendar import NEW_YORK, Session, ny_date
from simulator.faults import FaultMiddleware, parse_fault_settings
from simulator.market import Asset, parse_timeframe
from simulator.wire import (
    CODE_BAD_REQUEST,
    CODE_INTERNAL,
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_UNAUTHORIZED,
    ApiError,
    fmt_new_york,
    fmt_utc,
    parse_bool,
    parse_date,
    parse_int,
    parse_timestamp,
    unprocessable,
)

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from simulator.server import Simulator

DEFAULT_BARS_LIMIT = 1000
MAX_BARS_LIMIT = 10000
DEFAULT_ORDERS_LIMIT = 50
MAX_ORDERS_LIMIT = 500
MAX_ACTIVITIES_PAGE = 100


def _error(status: int, code: int, message: str, **extra: Any) -> JSONResponse:
    """An Alpaca-style JSON error response."""
    return JSONResponse({**extra, "code": code, "message": message}, status_code=status)


class _AuthMiddleware:
    """Refuse `/v2` requests without credentials (any key pair or Authorization header passes).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware slows large bar pages down badly.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2"):
            headers = Headers(scope=scope)
            has_keys = bool(headers.get("apca-api-key-id")) and bool(
                headers.get("apca-api-secret-key")
            )
            if not (has_keys or headers.get("authorization")):
                response = _error(401, CODE_UNAUTHORIZED, "unauthorized")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _MarkMiddleware:
    """Mark every response `X-Trading-Simulator: 1`, so clients can tell it from real Alpaca.

    `config.alpaca.source_of` reads the mark to label landed rows 'simulator'.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-trading-simulator", b"1")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


def _one_of(params: QueryParams, name: str, allowed: tuple[str, ...], default: str) -> str:
    """A query parameter restricted to `allowed` (case-insensitive)."""
    value = (params.get(name) or default).lower()
    if value not in allowed:
        raise unprocessable(f"invalid {name}: {params.get(name)} (expected one of {allowed})")
    return value


def _symbols(params: QueryParams, name: str = "symbols") -> list[str]:
    """A comma-separated list of symbols, upper-cased, in order, without duplicates."""
    raw = params.get(name) or ""
    return list(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))


def _timestamp(params: QueryParams, name: str, *, end_of_day: bool = False) -> datetime | None:
    value = params.get(name)
    return parse_timestamp(value, name, end_of_day=end_of_day) if value else None


def asset_json(asset: Asset) -> dict[str, Any]:
    """An asset as GET /v2/assets returns it."""
    return {
        "id": str(asset.id),
        "class": "us_equity",
        "exchange": asset.exchange,
        "symbol": asset.symbol,
        "name": asset.name,
        "status": "active",
        "tradable": True,
        "marginable": True,
        "maintenance_margin_requirement": 30,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "attributes": [],
    }


def calendar_json(session: Session, settlement: Session | None) -> dict[str, Any]:
    """A calendar day as GET /v2/calendar returns it (`open`/`close` exactly HH:MM, New York)."""
    return {
        "date": session.date.isoformat(),
        "open": session.open.astimezone(NEW_YORK).strftime("%H:%M"),
        "close": session.close.astimezone(NEW_YORK).strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "1700" if session.is_early_close else "2000",
        "settlement_date": settlement.date.isoformat() if settlement else None,
    }


def _bar_stamps(epoch_seconds: npt.NDArray[np.int64]) -> list[str]:
    """Bar start times as `2024-01-02T14:00:00Z` strings, vectorised."""
    stamps = np.datetime_as_string(epoch_seconds.astype("datetime64[s]"), unit="s")
    return [f"{s}Z" for s in stamps.tolist()]


def _encode_token(symbol: str, stamp: int) -> str:
    return base64.b64encode(f"{symbol}|{stamp}".encode()).decode()


def _decode_token(token: str) -> tuple[str, int]:
    try:
        symbol, stamp = base64.b64decode(token, validate=True).decode().split("|")
        return symbol, int(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise unprocessable(f"invalid page_token: {token}") from exc


def _bars_page(sim: Simulator, params: QueryParams, now: datetime) -> dict[str, Any]:
    """One page of GET /v2/stocks/bars: symbol order, then time; `limit` counts all symbols."""
    symbols = sorted(_symbols(params))
    if not symbols:
        raise unprocessable("symbols is required")
    raw_timeframe = params.get("timeframe")
    if not raw_timeframe:
        raise unprocessable("timeframe is required")
    timeframe = parse_timeframe(raw_timeframe)
    if timeframe is None:
        raise unprocessable(f"invalid timeframe: {raw_timeframe}")
    start = _timestamp(params, "start") or datetime.combine(ny_date(now), time(0), NEW_YORK)
    end = _timestamp(params, "end", end_of_day=True) or now
    if end < start:
        raise unprocessable("end should not be before start")
    limit = parse_int(
        params.get("limit"), "limit", default=DEFAULT_BARS_LIMIT, low=1, high=MAX_BARS_LIMIT
    )
    limit = min(limit, sim.max_bars_per_page)
    descending = _one_of(params, "sort", ("asc", "desc"), "asc") == "desc"
    token = params.get("page_token")
    resume = _decode_token(token) if token else None

    out: dict[str, list[dict[str, Any]]] = {}
    next_token: str | None = None
    remaining = limit
    for symbol in symbols:
        if symbol not in sim.market.assets or (resume and symbol < resume[0]):
            continue
        series = sim.market.bars(symbol, timeframe)
        lo, hi = series.visible_range(start.timestamp(), end.timestamp(), now.timestamp())
        if resume and symbol == resume[0]:
            if descending:
                hi = min(hi, int(np.searchsorted(series.t, resume[1], side="right")))
            else:
                lo = max(lo, int(np.searchsorted(series.t, resume[1], side="left")))
        if lo >= hi:
            continue
        if remaining == 0:
            next_token = _encode_token(symbol, int(series.t[hi - 1 if descending else lo]))
            break
        take = min(remaining, hi - lo)
        chosen = np.arange(hi - 1, hi - 1 - take, -1) if descending else np.arange(lo, lo + take)
        out[symbol] = [
            {"t": t, "o": o, "h": h, "l": low, "c": c, "v": v, "n": n, "vw": vw}
            for t, o, h, low, c, v, n, vw in zip(
                _bar_stamps(series.t[chosen]),
                series.o[chosen].tolist(),
                series.h[chosen].tolist(),
                series.l[chosen].tolist(),
                series.c[chosen].tolist(),
                series.v[chosen].tolist(),
                series.n[chosen].tolist(),
                series.vw[chosen].tolist(),
                strict=True,
            )
        ]
        remaining -= take
        if take < hi - lo:
            following = hi - 1 - take if descending else lo + take
            next_token = _encode_token(symbol, int(series.t[following]))
            break
    return {"bars": out, "next_page_token": next_token}


def _admin_state(sim: Simulator, now: datetime) -> dict[str, Any]:
    return {
        "now": fmt_utc(now),
        "speed": sim.clock.speed,
        "is_open": sim.calendar.is_open(now),
    }


def create_app(sim: Simulator) -> FastAPI:
    """Build the FastAPI app serving `sim`; nothing is started until a server runs it."""
    app = FastAPI(title="Alpaca simulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = exc.status_code * 100_000 + 10_000
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        return _error(exc.status_code, code, str(message))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, CODE_BAD_REQUEST, "request body format is invalid")
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors
        )
        return _error(422, CODE_INVALID, detail or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error("simulator request failed: {}", request.url.path)
        return _error(500, CODE_INTERNAL, f"internal server error: {exc}")

    app.add_middleware(_AuthMiddleware)
    # Added last, so it runs first: it counts and faults even requests that would fail auth.
    app.add_middleware(
        FaultMiddleware, faults=sim.faults, requests=sim.requests, limiter=sim.rate_limiter
    )
    app.add_middleware(_MarkMiddleware)  # outermost: faulted and refused answers are marked too

    # -- market data -------------------------------------------------------------------------

    @app.get("/v2/stocks/bars")
    def get_bars(request: Request) -> Response:
        """Historical bars for several symbols, one page (`next_page_token` or null)."""
        now = sim.sync()
        return JSONResponse(_bars_page(sim, request.query_params, now))

    # -- account -----------------------------------------------------------------------------

    @app.get("/v2/account")
    def get_account() -> dict[str, Any]:
        """The paper account, valued now."""
        return sim.broker.account(sim.sync())

    @app.get("/v2/clock")
    def get_clock() -> dict[str, Any]:
        """Simulated time and market status, in New York time."""
        now = sim.sync()
        return {
            "timestamp": fmt_new_york(now),
            "is_open": sim.calendar.is_open(now),
            "next_open": fmt_new_york(sim.calendar.next_open(now)),
            "next_close": fmt_new_york(sim.calendar.next_close(now)),
        }

    @app.get("/v2/calendar")
    def get_calendar(request: Request) -> list[dict[str, Any]]:
        """NYSE sessions between `start` and `end` (inclusive dates)."""
        sim.sync()
        params = request.query_params
        start = parse_date(params["start"], "start") if params.get("start") else sim.calendar.first
        end = parse_date(params["end"], "end") if params.get("end") else sim.calendar.last
        sessions = sim.calendar.sessions_between(start, end)
        return [calendar_json(s, sim.calendar.next_session_after(s.date)) for s in sessions]

    @app.get("/v2/assets")
    def get_assets(request: Request) -> list[dict[str, Any]]:
        """The simulated universe (all active US equities)."""
        params = request.query_params
        status = (params.get("status") or "active").lower()
        asset_class = (params.get("asset_class") or "us_equity").lower()
        exchange = (params.get("exchange") or "").upper()
        if status != "active" or asset_class != "us_equity":
            return []
        return [
            asset_json(a)
            for a in sim.market.assets.values()
            if not exchange or a.exchange == exchange
        ]

    @app.get("/v2/assets/{symbol_or_id}")
    def get_asset(symbol_or_id: str) -> dict[str, Any]:
        """One asset by symbol or id."""
        asset = sim.market.asset(symbol_or_id)
        if asset is None:
            raise ApiError(404, CODE_NOT_FOUND, f"asset not found: {symbol_or_id}")
        return asset_json(asset)

    # -- orders ------------------------------------------------------------------------------

    @app.post("/v2/orders")
    def post_order(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Submit an order; the answer shows `pending_new` or `accepted`."""
        with sim.broker.lock:
            now = sim.sync()
            order = sim.broker.submit_order(payload, now)
            return sim.broker.order_json(order, nested=True)

    @app.get("/v2/orders")
    def get_orders(request: Request) -> list[dict[str, Any]]:
        """List orders (status open by default, newest first)."""
        sim.sync()
        params = request.query_params
        nested = parse_bool(params.get("nested", False), "nested")
        side = params.get("side")
        if side is not None and side.lower() not in ("buy", "sell"):
            raise unprocessable(f"invalid side: {side}")
        orders = sim.broker.list_orders(
            status=_one_of(params, "status", ("open", "closed", "all"), "open"),
            limit=parse_int(
                params.get("limit"),
                "limit",
                default=DEFAULT_ORDERS_LIMIT,
                low=1,
                high=MAX_ORDERS_LIMIT,
            ),
            after=_timestamp(params, "after"),
            until=_timestamp(params, "until"),
            direction=_one_of(params, "direction", ("asc", "desc"), "desc"),
            side=side.lower() if side else None,
            symbols=set(_symbols(params)) or None,
            nested=nested,
        )
        return [sim.broker.order_json(o, nested=nested) for o in orders]

    @app.delete("/v2/orders")
    def delete_orders() -> Response:
        """Cancel every open order (207 with one entry per order)."""
        with sim.broker.lock:
            canceled = sim.broker.cancel_all(sim.sync())
        body = [{"id": o.id, "status": 200, "body": o.to_json()} for o in canceled]
        return JSONResponse(body, status_code=207)

    @app.delete("/v2/positions")
    def delete_positions(request: Request) -> Response:
        """Close every position with a market order (207, one entry per symbol)."""
        cancel = parse_bool(request.query_params.get("cancel_orders", False), "cancel_orders")
        with sim.broker.lock:
            orders = sim.broker.close_all_positions(sim.sync(), cancel_orders=cancel)
        body = [
            {"symbol": o.symbol, "status": 200, "body": sim.broker.order_json(o, nested=True)}
            for o in orders
        ]
        return JSONResponse(body, status_code=207)

    @app.get("/v2/orders:by_client_order_id")
    def get_order_by_client_id(request: Request) -> dict[str, Any]:
        """One order by its client_order_id."""
        sim.sync()
        client_order_id = request.query_params.get("client_order_id")
        if not client_order_id:
            raise unprocessable("client_order_id is required")
        return sim.broker.get_order_by_client_id(client_order_id).to_json()

    @app.get("/v2/orders/{order_id}")
    def get_order(order_id: str, request: Request) -> dict[str, Any]:
        """One order by id (`nested=true` rolls its legs up)."""
        sim.sync()
        nested = parse_bool(request.query_params.get("nested", False), "nested")
        return sim.broker.order_json(sim.broker.get_order(order_id), nested=nested)

    @app.delete("/v2/orders/{order_id}")
    def delete_order(order_id: str) -> Response:
        """Cancel an open order (and the rest of its bracket/oco group): 204, empty body."""
        with sim.broker.lock:
            sim.broker.cancel_order(order_id, sim.sync())
        return Response(status_code=204)

    # -- positions and activities ------------------------------------------------------------

    @app.get("/v2/positions")
    def get_positions() -> list[dict[str, Any]]:
        """All open positions."""
        return sim.broker.positions(sim.sync())

    @app.get("/v2/positions/{symbol_or_id}")
    def get_position(symbol_or_id: str) -> dict[str, Any]:
        """One open position by symbol or asset id."""
        return sim.broker.position(symbol_or_id, sim.sync())

    def _activities(request: Request, types: list[str]) -> list[dict[str, Any]]:
        sim.sync()
        params = request.query_params
        after = _timestamp(params, "after")
        until = _timestamp(params, "until")
        if params.get("date"):
            if after or until:
                raise unprocessable("date cannot be combined with after or until")
            after = parse_timestamp(params["date"], "date") - timedelta(microseconds=1)
            until = parse_timestamp(params["date"], "date", end_of_day=True)
        if types and "FILL" not in types:
            return []
        fills = sim.broker.activities(
            after=after,
            until=until,
            direction=_one_of(params, "direction", ("asc", "desc"), "desc"),
            page_size=parse_int(
                params.get("page_size"),
                "page_size",
                default=MAX_ACTIVITIES_PAGE,
                low=1,
                high=MAX_ACTIVITIES_PAGE,
            ),
            page_token=params.get("page_token"),
        )
        return [f.to_json() for f in fills]

    @app.get("/v2/account/activities")
    def get_activities(request: Request) -> list[dict[str, Any]]:
        """Account activities; only FILL exists in the simulator."""
        raw = request.query_params.get("activity_types") or ""
        return _activities(request, [t.strip().upper() for t in raw.split(",") if t.strip()])

    @app.get("/v2/account/activities/{activity_type}")
    def get_activities_of_type(activity_type: str, request: Request) -> list[dict[str, Any]]:
        """Account activities of one type (FILL; other types are empty)."""
        return _activities(request, [activity_type.upper()])

    # -- admin (not part of Alpaca; no auth) -------------------------------------------------

    @app.get("/admin/clock")
    def get_admin_clock() -> dict[str, Any]:
        """Admin: the simulated time, clock speed and market status."""
        return _admin_state(sim, sim.sync())

    @app.post("/admin/clock")
    def post_admin_clock(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Admin: move the clock (`to` or `advance_seconds`) and/or set its `speed`."""
        to, advance, speed = payload.get("to"), payload.get("advance_seconds"), payload.get("speed")
        if to is not None and advance is not None:
            raise unprocessable("give either to or advance_seconds, not both")
        if to is None and advance is None and speed is None:
            raise unprocessable("give to, advance_seconds or speed")
        try:
            if to is not None:
                sim.set_time(parse_timestamp(str(to), "to"))
            elif advance is not None:
                sim.advance(float(advance))
            if speed is not None:
                sim.set_speed(float(speed))
        except (TypeError, ValueError) as exc:
            raise unprocessable(str(exc)) from exc
        return _admin_state(sim, sim.sync())

    @app.get("/admin/faults")
    def get_admin_faults() -> dict[str, Any]:
        """Admin: the fault rules, each with how often it `fired` and `remains` (null: no cap)."""
        return sim.faults.snapshot()

    @app.post("/admin/faults")
    def post_admin_faults(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Admin: replace the fault plan with `{"faults": [rule, ...], "seed": int}`."""
        settings = parse_fault_settings(payload)
        sim.faults.replace(settings.faults, settings.seed)
        return sim.faults.snapshot()

    @app.delete("/admin/faults")
    def delete_admin_faults() -> dict[str, Any]:
        """Admin: remove every fault rule."""
        sim.faults.clear()
        return sim.faults.snapshot()

    @app.get("/admin/fill_model")
    def get_admin_fill_model() -> dict[str, Any]:
        """Admin: the partial-fill probability and the seed of its draws."""
        return sim.broker.fill_model.to_json()

    @app.post("/admin/fill_model")
    def post_admin_fill_model(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Admin: set `partial_fill_probability` (0..1; Alpaca paper uses 0.1) and/or `seed`."""
        current = sim.broker.fill_model
        unknown = set(payload) - {"partial_fill_probability", "seed"}
        if unknown:
            raise unprocessable(f"unknown fill model fields: {', '.join(sorted(unknown))}")
        try:
            probability = float(
                payload.get("partial_fill_probability", current.partial_fill_probability)
            )
            seed = payload.get("seed", current.seed)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"seed must be an integer, got {seed!r}")
            model = FillModel(partial_fill_probability=probability, seed=seed)
        except (TypeError, ValueError) as exc:
            raise unprocessable(str(exc)) from exc
        with sim.broker.lock:
            sim.broker.fill_model = model
        return model.to_json()

    @app.post("/admin/external_trade")
    def post_admin_external_trade(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Admin: book a manual trade `{symbol, side, qty, price?}`, filled now; the order."""
        with sim.broker.lock:
            order = sim.broker.external_trade(payload, sim.sync())
            return order.to_json()

    @app.get("/admin/requests")
    def get_admin_requests() -> dict[str, Any]:
        """Admin: requests received per "METHOD /path" (admin requests are not counted)."""
        return {"requests": sim.requests.counts()}

    @app.delete("/admin/requests")
    def delete_admin_requests() -> dict[str, Any]:
        """Admin: reset the request counts."""
        sim.requests.reset()
        return {"requests": sim.requests.counts()}

    return app
