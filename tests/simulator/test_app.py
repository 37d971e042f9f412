"""HTTP API tests: response shapes parsed by alpaca-py's own models, bars paging, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import (
    Asset,
    Calendar,
    Clock,
    Order,
    Position,
    TradeAccount,
    TradeActivity,
)
from alpaca.trading.requests import GetCalendarRequest, GetOrdersRequest, MarketOrderRequest

from simulator.broker import ACCOUNT_ID
from simulator.server import SimulatorHandle, running_simulator

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)
AUTH = {"APCA-API-KEY-ID": "PKTEST", "APCA-API-SECRET-KEY": "SECRET"}
SYMBOLS = ["MSFT", "AAPL", "SPY"]


def bar_rows(barset: BarSet) -> list[tuple[str, datetime, float, float, float, float, float]]:
    """Flatten a BarSet into comparable tuples."""
    return [
        (symbol, b.timestamp, b.open, b.high, b.low, b.close, b.volume)
        for symbol, bars in sorted(barset.data.items())
        for b in bars
    ]


def raw_bars(http: httpx.Client, handle: SimulatorHandle, **params: Any) -> httpx.Response:
    """GET /v2/stocks/bars with credentials."""
    return http.get(f"{handle.url}/v2/stocks/bars", params=params, headers=AUTH)


def test_every_response_parses_with_alpaca_models(
    sim: SimulatorHandle, tc: TradingClient, dc: StockHistoricalDataClient
) -> None:
    submitted = tc.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id="shape-1",
        )
    )
    assert isinstance(submitted, Order)
    assert isinstance(tc.get_account(), TradeAccount)
    orders = tc.get_orders(GetOrdersRequest(status="all"))
    assert all(isinstance(o, Order) for o in orders) and len(orders) == 1
    by_client_id = tc.get_order_by_client_id("shape-1")
    assert isinstance(by_client_id, Order) and by_client_id.id == submitted.id
    assert isinstance(tc.get_order_by_id(submitted.id), Order)
    positions = tc.get_all_positions()
    assert len(positions) == 1 and isinstance(positions[0], Position)
    assert isinstance(tc.get_open_position("AAPL"), Position)
    assert isinstance(tc.get_clock(), Clock)
    calendar = tc.get_calendar(GetCalendarRequest(start=date(2024, 1, 2), end=date(2024, 1, 5)))
    assert len(calendar) == 4 and all(isinstance(c, Calendar) for c in calendar)
    assets = tc.get_all_assets()
    assert len(assets) == 30 and all(isinstance(a, Asset) for a in assets)
    asset = tc.get_asset("AAPL")
    assert isinstance(asset, Asset) and asset.asset_class == AssetClass.US_EQUITY
    raw_activities = tc.get("/account/activities/FILL")
    assert isinstance(raw_activities, list) and len(raw_activities) == 1
    activity = TradeActivity(**{**raw_activities[0], "account_id": str(ACCOUNT_ID)})
    assert activity.order_status == OrderStatus.FILLED
    barset = dc.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Hour, start=START.date())
    )
    assert set(barset.data) == set(SYMBOLS)
    daily = dc.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day, start=date(2023, 12, 1))
    )
    assert len(daily["AAPL"]) > 15


def test_order_json_has_every_key_alpaca_requires_non_null(tc: TradingClient) -> None:
    order = tc.post(
        "/orders",
        {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"},
    )
    assert isinstance(order, dict)
    for key in ("id", "client_order_id", "created_at", "updated_at", "submitted_at"):
        assert isinstance(order[key], str) and order[key]
    assert order["created_at"].endswith("Z")
    assert (order["order_class"], order["asset_class"], order["extended_hours"]) == (
        "",
        "us_equity",
        False,
    )
    assert (order["qty"], order["filled_qty"]) == ("1", "0")
    for key in ("notional", "trail_percent", "trail_price", "hwm", "legs"):
        assert order[key] is None


def test_missing_credentials_get_401_with_a_json_code(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    for path in ("/v2/account", "/v2/stocks/bars?symbols=AAPL&timeframe=1Hour"):
        response = http.get(f"{readonly_sim.url}{path}")
        assert response.status_code == 401
        assert response.json() == {"code": 40110000, "message": "unauthorized"}
    only_key = http.get(
        f"{readonly_sim.url}/v2/account", headers={"APCA-API-KEY-ID": "k"}, timeout=10
    )
    assert only_key.status_code == 401


def test_unknown_routes_and_methods_answer_json_with_a_code(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    missing = http.get(f"{readonly_sim.url}/v2/nothing-here", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["code"] == 40410000
    wrong_method = http.put(f"{readonly_sim.url}/v2/account", headers=AUTH)
    assert wrong_method.status_code == 405
    assert isinstance(wrong_method.json()["code"], int)
    bad_body = http.post(
        f"{readonly_sim.url}/v2/orders",
        content=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert bad_body.status_code == 400
    assert bad_body.json()["code"] == 40010000
    not_an_object = http.post(f"{readonly_sim.url}/v2/orders", json=[1, 2], headers=AUTH)
    assert not_an_object.status_code == 422
    assert set(not_an_object.json()) == {"code", "message"}


def test_order_by_client_id_route_takes_the_literal_colon(
    http: httpx.Client, sim: SimulatorHandle, tc: TradingClient
) -> None:
    order = tc.post(
        "/orders",
        {
            "symbol": "SPY",
            "qty": 1,
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": "colon-test",
        },
    )
    assert isinstance(order, dict)
    response = http.get(
        f"{sim.url}/v2/orders:by_client_order_id",
        params={"client_order_id": "colon-test"},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert response.json()["id"] == order["id"]


def test_paging_with_a_small_page_returns_the_same_bars_as_one_request(
    make_data: Any,
) -> None:
    request = StockBarsRequest(
        symbol_or_symbols=SYMBOLS,
        timeframe=TimeFrame.Hour,
        start=datetime(2024, 1, 2, tzinfo=UTC),
        end=datetime(2024, 1, 10, tzinfo=UTC),
    )
    with running_simulator(start=START + timedelta(days=14), max_bars_per_page=7) as small:
        paged = make_data(small).get_stock_bars(request)
    with running_simulator(start=START + timedelta(days=14)) as big:
        whole = make_data(big).get_stock_bars(request)
    rows = bar_rows(whole)
    assert len(rows) == 3 * 6 * 7  # 3 symbols x 6 sessions x 7 hourly bars
    assert bar_rows(paged) == rows


def test_raw_paging_crosses_symbols_and_ends_with_a_null_token(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    params = {
        "symbols": "SPY,AAPL",
        "timeframe": "1Day",
        "start": "2023-12-01",
        "end": "2023-12-08",
    }
    whole = raw_bars(http, readonly_sim, **params).json()
    assert whole["next_page_token"] is None
    collected: dict[str, list[dict[str, Any]]] = {}
    token: str | None = None
    pages = 0
    while True:
        page = raw_bars(
            http, readonly_sim, limit=4, **params, **({"page_token": token} if token else {})
        )
        body = page.json()
        pages += 1
        assert sum(len(v) for v in body["bars"].values()) <= 4
        for symbol, bars in body["bars"].items():
            collected.setdefault(symbol, []).extend(bars)
        token = body["next_page_token"]
        if token is None:
            break
        assert isinstance(token, str) and token
    assert pages == 3  # 12 daily bars in pages of 4
    assert collected == whole["bars"]
    assert list(whole["bars"]) == ["AAPL", "SPY"]


def test_sdk_limit_counts_bars_across_symbols(dc: StockHistoricalDataClient) -> None:
    barset = dc.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=SYMBOLS,
            timeframe=TimeFrame.Hour,
            start=datetime(2023, 12, 1, tzinfo=UTC),
            limit=10,
        )
    )
    assert sum(len(v) for v in barset.data.values()) == 10
    assert list(barset.data) == ["AAPL"]


def test_bars_are_identical_across_instances_and_request_orders(make_data: Any) -> None:
    window = {"start": datetime(2023, 3, 1, tzinfo=UTC), "end": datetime(2023, 3, 8, tzinfo=UTC)}
    with running_simulator(start=START) as first:
        dc = make_data(first)
        dc.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols="NFLX", timeframe=TimeFrame.Day, start=date(2016, 1, 4)
            )
        )
        one = dc.get_stock_bars(
            StockBarsRequest(symbol_or_symbols=["AAPL", "KO"], timeframe=TimeFrame.Hour, **window)
        )
    with running_simulator(start=START + timedelta(days=300)) as second:
        dc = make_data(second)
        only_ko = dc.get_stock_bars(
            StockBarsRequest(symbol_or_symbols="KO", timeframe=TimeFrame.Hour, **window)
        )
        only_aapl = dc.get_stock_bars(
            StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Hour, **window)
        )
    assert bar_rows(one) == bar_rows(only_aapl) + bar_rows(only_ko)
    assert len(bar_rows(one)) == 2 * 5 * 7


def test_hourly_bars_cover_regular_hours_early_close_and_skip_holidays(make_data: Any) -> None:
    with running_simulator(start=datetime(2024, 12, 10, tzinfo=UTC)) as handle:
        dc = make_data(handle)

        def hours(day: date) -> list[str]:
            barset = dc.get_stock_bars(
                StockBarsRequest(
                    symbol_or_symbols="AAPL",
                    timeframe=TimeFrame.Hour,
                    start=datetime.combine(day, datetime.min.time(), UTC),
                    end=datetime.combine(day, datetime.max.time(), UTC),
                )
            )
            return [b.timestamp.strftime("%H:%M") for b in barset.data.get("AAPL", [])]

        full_winter_day = ["14:00", "15:00", "16:00", "17:00", "18:00", "19:00", "20:00"]
        assert hours(date(2024, 11, 27)) == full_winter_day
        assert hours(date(2024, 11, 29)) == ["14:00", "15:00", "16:00", "17:00"]  # 13:00 close
        assert hours(date(2024, 7, 4)) == []  # Independence Day
        assert hours(date(2024, 7, 5)) == [
            "13:00",
            "14:00",
            "15:00",
            "16:00",
            "17:00",
            "18:00",
            "19:00",
        ]


def test_no_bar_is_served_before_it_is_complete(
    sim: SimulatorHandle, dc: StockHistoricalDataClient, move_clock: Any
) -> None:
    request = StockBarsRequest(
        symbol_or_symbols="AAPL",
        timeframe=TimeFrame.Hour,
        start=datetime(2024, 1, 3, tzinfo=UTC),
        end=datetime(2024, 1, 5, tzinfo=UTC),
    )
    bars = dc.get_stock_bars(request)["AAPL"]
    assert [b.timestamp for b in bars] == [datetime(2024, 1, 3, 14, 0, tzinfo=UTC)]
    daily = dc.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL",
            timeframe=TimeFrame.Day,
            start=datetime(2024, 1, 3, tzinfo=UTC),
        )
    )
    assert "AAPL" not in daily.data  # today's daily bar only exists after the close
    move_clock(sim, datetime(2024, 1, 3, 21, 0, tzinfo=UTC))
    bars = dc.get_stock_bars(request)["AAPL"]
    assert len(bars) == 7
    assert max(b.timestamp for b in bars) + timedelta(hours=1) <= datetime(
        2024, 1, 3, 21, 0, tzinfo=UTC
    )
    daily = dc.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL",
            timeframe=TimeFrame.Day,
            start=datetime(2024, 1, 3, tzinfo=UTC),
        )
    )
    assert [b.timestamp for b in daily["AAPL"]] == [datetime(2024, 1, 3, 5, 0, tzinfo=UTC)]


def test_daily_bars_are_stamped_at_midnight_new_york(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    body = raw_bars(
        http, readonly_sim, symbols="SPY", timeframe="1D", start="2023-03-08", end="2023-03-15"
    ).json()
    stamps = [b["t"] for b in body["bars"]["SPY"]]
    assert stamps == [
        "2023-03-08T05:00:00Z",
        "2023-03-09T05:00:00Z",
        "2023-03-10T05:00:00Z",
        "2023-03-13T04:00:00Z",  # after the switch to daylight saving time
        "2023-03-14T04:00:00Z",
        "2023-03-15T04:00:00Z",
    ]
    for bar in body["bars"]["SPY"]:
        assert set(bar) == {"t", "o", "h", "l", "c", "v", "n", "vw"}
        assert isinstance(bar["v"], int) and isinstance(bar["n"], int)
        assert bar["l"] <= bar["vw"] <= bar["h"]


@pytest.mark.parametrize(
    "start",
    [
        "2024-01-02T14:00:00Z",
        "2024-01-02T14:00:00+00:00",
        "2024-01-02T09:00:00-05:00",
        "2024-01-02T14:00:00.000000000Z",
        "2024-01-02",
    ],
)
def test_start_accepts_rfc3339_variants_and_dates(
    http: httpx.Client, readonly_sim: SimulatorHandle, start: str
) -> None:
    body = raw_bars(
        http,
        readonly_sim,
        symbols="AAPL",
        timeframe="1Hour",
        start=start,
        end="2024-01-02T20:00:00Z",
    ).json()
    stamps = [b["t"] for b in body["bars"]["AAPL"]]
    assert stamps[0] == "2024-01-02T14:00:00Z"
    assert stamps[-1] == "2024-01-02T20:00:00Z"  # end is inclusive
    assert len(stamps) == 7


def test_bad_bar_parameters_are_refused_with_codes(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    response = raw_bars(http, readonly_sim, symbols="AAPL", timeframe="1Week")
    assert response.status_code == 422
    assert response.json() == {"code": 42210000, "message": "invalid timeframe: 1Week"}
    for params in (
        {"timeframe": "1Hour"},
        {"symbols": "AAPL", "timeframe": "1Hour", "start": "yesterday"},
        {"symbols": "AAPL", "timeframe": "1Hour", "limit": "0"},
        {"symbols": "AAPL", "timeframe": "1Hour", "page_token": "%%%"},
    ):
        response = raw_bars(http, readonly_sim, **params)
        assert response.status_code == 422, params
        assert response.json()["code"] == 42210000


def test_empty_result_is_an_empty_map_with_a_null_token(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    body = raw_bars(
        http,
        readonly_sim,
        symbols="AAPL,ZZZZ",
        timeframe="1Hour",
        start="2024-07-04",
        end="2024-07-04",
    )
    assert body.json() == {"bars": {}, "next_page_token": None}


def test_sdk_timeframe_aliases_and_descending_sort(
    http: httpx.Client, readonly_sim: SimulatorHandle
) -> None:
    asc = raw_bars(
        http, readonly_sim, symbols="AAPL", timeframe="1H", start="2024-01-02", end="2024-01-02"
    )
    desc = raw_bars(
        http,
        readonly_sim,
        symbols="AAPL",
        timeframe="1Hour",
        start="2024-01-02",
        end="2024-01-02",
        sort="desc",
    )
    assert asc.json()["bars"]["AAPL"] == list(reversed(desc.json()["bars"]["AAPL"]))
    assert TimeFrame(1, TimeFrameUnit.Hour).value == "1Hour"


def test_clock_reports_new_york_offsets(
    http: httpx.Client, readonly_sim: SimulatorHandle, make_trading: Any
) -> None:
    tc = make_trading(readonly_sim)
    raw = http.get(f"{readonly_sim.url}/v2/clock", headers=AUTH).json()
    assert raw["timestamp"].endswith("-05:00")
    clock = tc.get_clock()
    assert clock.is_open
    eastern = timezone(timedelta(hours=-5))
    assert clock.timestamp == datetime(2024, 1, 3, 10, 0, tzinfo=eastern)
    assert clock.next_close == datetime(2024, 1, 3, 16, 0, tzinfo=eastern)
    assert clock.next_open == datetime(2024, 1, 4, 9, 30, tzinfo=eastern)


def test_calendar_gives_hh_mm_and_early_closes(
    http: httpx.Client, readonly_sim: SimulatorHandle, make_trading: Any
) -> None:
    tc = make_trading(readonly_sim)
    raw = http.get(
        f"{readonly_sim.url}/v2/calendar",
        params={"start": "2024-11-27", "end": "2024-11-29"},
        headers=AUTH,
    ).json()
    assert raw == [
        {
            "date": "2024-11-27",
            "open": "09:30",
            "close": "16:00",
            "session_open": "0400",
            "session_close": "2000",
            "settlement_date": "2024-11-29",
        },
        {
            "date": "2024-11-29",
            "open": "09:30",
            "close": "13:00",
            "session_open": "0400",
            "session_close": "1700",
            "settlement_date": "2024-12-02",
        },
    ]
    days = tc.get_calendar(GetCalendarRequest(start=date(2024, 11, 29), end=date(2024, 11, 29)))
    assert days[0].close == datetime(2024, 11, 29, 13, 0)  # noqa: DTZ001 - alpaca-py gives naive ET


def test_admin_clock_moves_forward_processes_orders_and_refuses_backwards(
    http: httpx.Client, sim: SimulatorHandle, tc: TradingClient
) -> None:
    admin = f"{sim.url}/admin/clock"
    assert http.get(admin).json() == {
        "now": "2024-01-03T15:00:00.000000Z",
        "speed": 0.0,
        "is_open": True,
    }
    after_close = http.post(admin, json={"to": "2024-01-03T22:00:00Z"}).json()
    assert after_close["is_open"] is False
    order = tc.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert order.status == OrderStatus.ACCEPTED
    moved = http.post(admin, json={"advance_seconds": 18 * 3600})
    assert moved.json()["now"] == "2024-01-04T16:00:00.000000Z"
    assert tc.get_order_by_id(order.id).status == OrderStatus.FILLED

    backwards = http.post(admin, json={"to": "2024-01-01T00:00:00Z"})
    assert backwards.status_code == 422
    assert backwards.json()["code"] == 42210000
    assert "backwards" in backwards.json()["message"]
    assert http.get(admin).json()["now"] == "2024-01-04T16:00:00.000000Z"
    negative = http.post(admin, json={"advance_seconds": -5})
    assert negative.status_code == 422

    sped_up = http.post(admin, json={"speed": 2.5}).json()
    assert sped_up["speed"] == 2.5
