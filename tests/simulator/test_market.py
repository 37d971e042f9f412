"""Tests for the deterministic simulated market."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from alpaca.trading.enums import AssetExchange

from simulator.calendar import NEW_YORK, MarketCalendar
from simulator.market import (
    UNIVERSE,
    Market,
    Side,
    TimeFrame,
    _generate,
    parse_timeframe,
    symbol_key,
)

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def _index(market: Market, symbol: str, timeframe: TimeFrame, t: datetime) -> int:
    series = market.bars(symbol, timeframe)
    i = int(np.searchsorted(series.t, t.timestamp()))
    assert series.t[i] == t.timestamp()
    return i


def test_universe_has_stable_ids_and_exchanges_alpaca_accepts() -> None:
    market = Market()
    symbols = [a.symbol for a in UNIVERSE]
    assert len(symbols) == len(set(symbols)) == 30
    assert {a.exchange for a in UNIVERSE} <= {e.value for e in AssetExchange}
    assert str(market.assets["AAPL"].id) == "abdda7d3-0bc3-5f73-86eb-d45e94b3598b"
    assert market.asset("aapl") is market.asset("abdda7d3-0bc3-5f73-86eb-d45e94b3598b")
    assert symbol_key("AAPL") == 0x1EB44D625271A4EB


def test_known_bars_never_change() -> None:
    market = Market()
    aapl = market.bars("AAPL", TimeFrame.HOUR)
    i = _index(market, "AAPL", TimeFrame.HOUR, datetime(2024, 1, 2, 14, tzinfo=UTC))
    assert (aapl.o[i], aapl.h[i], aapl.l[i], aapl.c[i]) == (137.9, 138.46, 137.63, 138.24)
    assert (aapl.v[i], aapl.n[i], aapl.vw[i]) == (12371004, 113495, 138.11)
    spy = market.bars("SPY", TimeFrame.DAY)
    j = _index(market, "SPY", TimeFrame.DAY, datetime(2024, 1, 2, 5, tzinfo=UTC))
    assert (spy.o[j], spy.h[j], spy.l[j], spy.c[j]) == (378.32, 382.16, 374.54, 381.19)


def test_history_does_not_depend_on_how_far_the_calendar_reaches() -> None:
    asset = Market().assets["MSFT"]
    short = _generate(asset, 7, MarketCalendar(last=date(2016, 6, 30)))
    full = _generate(asset, 7, MarketCalendar())
    n = len(short.hourly.t)
    assert n > 0
    for name in ("t", "o", "h", "l", "c", "v", "n", "vw"):
        assert np.array_equal(getattr(short.hourly, name), getattr(full.hourly, name)[:n]), name


def test_different_seeds_give_different_paths() -> None:
    asset = Market().assets["KO"]
    a = _generate(asset, 1, MarketCalendar(last=date(2015, 3, 31)))
    b = _generate(asset, 2, MarketCalendar(last=date(2015, 3, 31)))
    assert not np.array_equal(a.hourly.c, b.hourly.c)


@pytest.mark.parametrize("symbol", ["AAPL", "SPY", "AMD", "GS"])
def test_bars_are_consistent_ohlc_in_cents(symbol: str) -> None:
    bars = Market().bars(symbol, TimeFrame.HOUR)
    assert np.all(bars.h >= np.maximum(bars.o, bars.c))
    assert np.all(bars.l <= np.minimum(bars.o, bars.c))
    assert np.all(bars.l > 0)
    assert np.all((bars.vw >= bars.l) & (bars.vw <= bars.h))
    assert np.all(bars.v > 0) and np.all(bars.n > 0)
    for prices in (bars.o, bars.h, bars.l, bars.c):
        assert np.allclose(np.round(prices * 100), prices * 100, atol=1e-6)


def test_bars_within_a_session_connect_close_to_open() -> None:
    market = Market()
    bars = market.bars("NVDA", TimeFrame.HOUR)
    same_day = (bars.t[1:] - bars.t[:-1]) == 3600
    assert np.array_equal(bars.o[1:][same_day], bars.c[:-1][same_day])


def test_hourly_bars_cover_regular_hours_only_with_early_close() -> None:
    market = Market()
    bars = market.bars("AAPL", TimeFrame.HOUR)

    def hours_on(day: date) -> list[int]:
        lo = datetime.combine(day, datetime.min.time(), NEW_YORK).timestamp()
        sel = (bars.t >= lo) & (bars.t < lo + 86400)
        return [datetime.fromtimestamp(int(t), NEW_YORK).hour for t in bars.t[sel]]

    assert hours_on(date(2024, 11, 27)) == [9, 10, 11, 12, 13, 14, 15]
    assert hours_on(date(2024, 11, 29)) == [9, 10, 11, 12]
    assert hours_on(date(2024, 7, 4)) == []
    assert hours_on(date(2024, 7, 3)) == [9, 10, 11, 12]


def test_daily_bar_aggregates_the_days_hourly_bars_stamped_at_new_york_midnight() -> None:
    market = Market()
    hourly = market.bars("JPM", TimeFrame.HOUR)
    daily = market.bars("JPM", TimeFrame.DAY)
    stamp = datetime(2024, 7, 3, 4, 0, tzinfo=UTC)
    j = _index(market, "JPM", TimeFrame.DAY, stamp)
    sel = (hourly.t >= stamp.timestamp()) & (hourly.t < stamp.timestamp() + 86400)
    assert daily.o[j] == hourly.o[sel][0]
    assert daily.c[j] == hourly.c[sel][-1]
    assert daily.h[j] == hourly.h[sel].max()
    assert daily.l[j] == hourly.l[sel].min()
    assert daily.v[j] == hourly.v[sel].sum()
    assert daily.end[j] == datetime(2024, 7, 3, 17, 0, tzinfo=UTC).timestamp()
    hours = {datetime.fromtimestamp(int(t), UTC).hour for t in daily.t}
    assert hours == {4, 5}


def test_bars_become_visible_only_when_complete() -> None:
    bars = Market().bars("AAPL", TimeFrame.HOUR)
    day_start = datetime(2024, 1, 3, 5, 0, tzinfo=UTC).timestamp()
    day_end = day_start + 86400
    at = datetime(2024, 1, 3, 15, 59, 59, tzinfo=UTC).timestamp()
    lo, hi = bars.visible_range(day_start, day_end, at)
    assert [int(t) for t in bars.t[lo:hi]] == [
        int(datetime(2024, 1, 3, 14, tzinfo=UTC).timestamp())
    ]
    lo, hi = bars.visible_range(day_start, day_end, at + 1)
    assert hi - lo == 2


def test_price_path_runs_from_open_to_close_inside_each_bar() -> None:
    market = Market()
    bars = market.bars("MSFT", TimeFrame.HOUR)
    i = _index(market, "MSFT", TimeFrame.HOUR, datetime(2024, 1, 3, 16, tzinfo=UTC))
    start = datetime(2024, 1, 3, 16, tzinfo=UTC)
    assert market.price_at("MSFT", start) == Decimal(str(bars.o[i]))
    assert market.price_at("MSFT", start + timedelta(hours=1)) == Decimal(str(bars.c[i]))
    prices = [market.price_at("MSFT", start + timedelta(minutes=m)) for m in range(61)]
    assert min(prices) == Decimal(str(bars.l[i]))
    assert max(prices) == Decimal(str(bars.h[i]))


def test_first_bar_price_starts_at_the_open_not_at_the_clock_hour() -> None:
    market = Market()
    bars = market.bars("SPY", TimeFrame.HOUR)
    i = _index(market, "SPY", TimeFrame.HOUR, datetime(2024, 1, 3, 14, tzinfo=UTC))
    assert market.price_at("SPY", datetime(2024, 1, 3, 14, 30, tzinfo=UTC)) == Decimal(
        str(bars.o[i])
    )
    with pytest.raises(ValueError, match="outside the regular session"):
        market.price_at("SPY", datetime(2024, 1, 3, 14, 29, tzinfo=UTC))


def test_quote_is_one_cent_either_side_and_last_close_after_hours() -> None:
    market = Market()
    bars = market.bars("KO", TimeFrame.HOUR)
    i = _index(market, "KO", TimeFrame.HOUR, datetime(2024, 1, 3, 20, tzinfo=UTC))
    evening = datetime(2024, 1, 3, 23, 0, tzinfo=UTC)
    quote = market.quote("KO", evening)
    close = Decimal(str(bars.c[i]))
    assert (quote.bid, quote.ask) == (close - Decimal("0.01"), close + Decimal("0.01"))


def test_limit_buy_becomes_marketable_at_the_first_crossing_at_the_limit() -> None:
    market = Market()
    start = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)
    end = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)
    bars = market.bars("AAPL", TimeFrame.HOUR)
    lo, hi = bars.visible_range(start.timestamp(), end.timestamp(), end.timestamp())
    day_low = Decimal(str(bars.l[lo:hi].min()))
    limit = day_low + Decimal("0.02")
    assert market.quote("AAPL", start).ask > limit
    hit = market.first_marketable("AAPL", Side.BUY, limit, start, end)
    assert hit is not None
    at, price = hit
    assert price == limit
    assert start < at <= end
    before = at - timedelta(seconds=1)
    assert market.quote("AAPL", before).ask > limit
    assert market.quote("AAPL", at + timedelta(microseconds=1)).ask <= limit + Decimal("0.01")


def test_limit_sell_above_the_days_high_never_fills() -> None:
    market = Market()
    start = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)
    end = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)
    assert market.first_marketable("AAPL", Side.SELL, Decimal("1000"), start, end) is None


def test_marketable_limit_fills_at_the_quote_which_is_better_than_the_limit() -> None:
    market = Market()
    start = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)
    hit = market.first_marketable("AAPL", Side.BUY, Decimal("1000"), start, start)
    assert hit == (start, market.quote("AAPL", start).ask)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Hour", TimeFrame.HOUR),
        ("1H", TimeFrame.HOUR),
        ("1Day", TimeFrame.DAY),
        ("1D", TimeFrame.DAY),
    ],
)
def test_timeframe_aliases(text: str, expected: TimeFrame) -> None:
    assert parse_timeframe(text) is expected


def test_unsupported_timeframes_are_not_parsed() -> None:
    assert parse_timeframe("1Min") is None
    assert parse_timeframe("1Week") is None
