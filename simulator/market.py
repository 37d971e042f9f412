"""A deterministic, seeded market: a fixed universe, hourly RTH bars, daily bars, prices and quotes.

Every symbol has one price path, a geometric random walk over the regular-trading-hours part of
each NYSE session from FIRST_SESSION on, drawn from per-(seed, symbol, year) random blocks so that
any bar is identical whatever was asked before. Inside an hourly bar the trade price moves linearly
through open -> low -> high -> close (open -> high -> low -> close for a down bar), at 0, 1/3, 2/3
and 1 of the bar's trading interval; `price_at` reads that path, so fills and bars agree.
"""

from __future__ import annotations

import hashlib
import math
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

import numpy as np
import numpy.typing as npt

from simulator.calendar import MarketCalendar, from_epoch, from_epoch_micros

DEFAULT_SEED = 20150102
HALF_SPREAD = Decimal("0.01")
CENT = Decimal("0.01")
HOUR = 3600
ASSET_NAMESPACE = uuid.UUID("6f1c4b0e-3a52-5b7e-9a57-7a1d2a0c5e10")

_DRIFT = 0.08  # annual
_INTRADAY_VARIANCE_SHARE = 0.8  # the rest of the daily variance is the overnight gap
_MINUTES_PER_YEAR = 252 * 390
_SLOTS = 8  # random slots per session: bars 0..6 plus slot 7 for session-level draws
_INTRADAY_VOLUME_SHAPE = np.array([1.7, 1.1, 0.9, 0.8, 0.85, 1.0, 1.5, 1.0])

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Asset:
    """A tradable US equity in the simulated universe."""

    symbol: str
    name: str
    exchange: str  # a value alpaca-py's AssetExchange accepts
    start_price: float  # price on the first session
    annual_vol: float
    daily_volume: int

    @property
    def id(self) -> uuid.UUID:
        """Stable asset id: uuid5 of the symbol."""
        return uuid.uuid5(ASSET_NAMESPACE, self.symbol)


UNIVERSE: tuple[Asset, ...] = (
    Asset("AAPL", "Apple Inc. Common Stock", "NASDAQ", 27.33, 0.26, 60_000_000),
    Asset("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", 46.76, 0.24, 30_000_000),
    Asset("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", 15.43, 0.30, 60_000_000),
    Asset("GOOGL", "Alphabet Inc. Class A Common Stock", "NASDAQ", 26.48, 0.26, 30_000_000),
    Asset("META", "Meta Platforms, Inc. Class A Common Stock", "NASDAQ", 78.45, 0.32, 20_000_000),
    Asset("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", 20.13, 0.38, 40_000_000),
    Asset("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", 43.86, 0.40, 90_000_000),
    Asset("JPM", "JPMorgan Chase & Co. Common Stock", "NYSE", 62.49, 0.22, 10_000_000),
    Asset("V", "Visa Inc.", "NYSE", 66.26, 0.20, 7_000_000),
    Asset("JNJ", "Johnson & Johnson Common Stock", "NYSE", 104.52, 0.16, 7_000_000),
    Asset("WMT", "Walmart Inc. Common Stock", "NASDAQ", 86.27, 0.18, 15_000_000),
    Asset("PG", "Procter & Gamble Company (The) Common Stock", "NYSE", 90.44, 0.15, 8_000_000),
    Asset("XOM", "Exxon Mobil Corporation Common Stock", "NYSE", 92.83, 0.22, 15_000_000),
    Asset("UNH", "UnitedHealth Group Incorporated Common Stock", "NYSE", 101.55, 0.22, 4_000_000),
    Asset("HD", "Home Depot, Inc. (The) Common Stock", "NYSE", 103.43, 0.20, 4_000_000),
    Asset("KO", "Coca-Cola Company (The) Common Stock", "NYSE", 42.14, 0.14, 12_000_000),
    Asset("PEP", "PepsiCo, Inc. Common Stock", "NASDAQ", 94.56, 0.15, 5_000_000),
    Asset("DIS", "Walt Disney Company (The) Common Stock", "NYSE", 93.75, 0.22, 9_000_000),
    Asset("NFLX", "Netflix, Inc. Common Stock", "NASDAQ", 49.85, 0.36, 10_000_000),
    Asset("INTC", "Intel Corporation Common Stock", "NASDAQ", 36.36, 0.28, 30_000_000),
    Asset("AMD", "Advanced Micro Devices, Inc. Common Stock", "NASDAQ", 13.50, 0.36, 50_000_000),
    Asset("CSCO", "Cisco Systems, Inc. Common Stock", "NASDAQ", 27.61, 0.20, 20_000_000),
    Asset("ORCL", "Oracle Corporation Common Stock", "NYSE", 44.81, 0.22, 12_000_000),
    Asset("IBM", "International Business Machines Corporation", "NYSE", 162.06, 0.18, 4_000_000),
    Asset("BA", "Boeing Company (The) Common Stock", "NYSE", 131.07, 0.28, 5_000_000),
    Asset("CAT", "Caterpillar, Inc. Common Stock", "NYSE", 91.88, 0.24, 5_000_000),
    Asset("GS", "Goldman Sachs Group, Inc. (The) Common Stock", "NYSE", 194.00, 0.24, 3_000_000),
    Asset("MCD", "McDonald's Corporation Common Stock", "NYSE", 93.26, 0.16, 4_000_000),
    Asset("NKE", "Nike, Inc. Common Stock", "NYSE", 48.00, 0.24, 8_000_000),
    Asset("SPY", "SPDR S&P 500 ETF Trust", "ARCA", 205.43, 0.15, 80_000_000),
)


class TimeFrame(Enum):
    """Bar timeframes the simulator serves."""

    HOUR = "1Hour"
    DAY = "1Day"


_TIMEFRAME_ALIASES = {"1hour": TimeFrame.HOUR, "1h": TimeFrame.HOUR, "1day": TimeFrame.DAY}
_TIMEFRAME_ALIASES["1d"] = TimeFrame.DAY


def parse_timeframe(value: str) -> TimeFrame | None:
    """Map `1Hour`/`1H`/`1Day`/`1D` (any case) to a TimeFrame; None when unsupported."""
    return _TIMEFRAME_ALIASES.get(value.strip().lower())


class Side(Enum):
    """Order side, as the fill engine needs it."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class Quote:
    """A bid/ask pair around the trade price."""

    bid: Decimal
    ask: Decimal


@dataclass(frozen=True)
class BarSeries:
    """Bars of one symbol and timeframe as parallel arrays; `end` is when each bar completes."""

    t: IntArray  # bar start, UTC epoch seconds
    end: IntArray  # the bar is visible once end <= now
    o: FloatArray
    h: FloatArray
    l: FloatArray  # noqa: E741
    c: FloatArray
    v: IntArray
    n: IntArray
    vw: FloatArray

    def visible_range(self, start: float, end: float, now: float) -> tuple[int, int]:
        """Index range [lo, hi) of bars with start <= t <= end that are complete at `now`."""
        lo = int(np.searchsorted(self.t, start, side="left"))
        hi = min(
            int(np.searchsorted(self.t, end, side="right")),
            int(np.searchsorted(self.end, now, side="right")),
        )
        return lo, max(lo, hi)


@dataclass(frozen=True)
class _Path:
    hourly: BarSeries
    daily: BarSeries
    trade_start: FloatArray  # per hourly bar: max(bar start, session open)
    trade_end: FloatArray  # per hourly bar: min(bar start + 1h, session close)
    session: IntArray  # per hourly bar: calendar session index
    point_t: FloatArray  # (bars, 4) times of the intrabar path's corners
    point_p: FloatArray  # (bars, 4) prices of those corners


def symbol_key(symbol: str) -> int:
    """A stable 64-bit sub-seed for `symbol` (Python's hash() is randomised per process)."""
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")


def _cents(x: float) -> Decimal:
    """A float price as an exact Decimal rounded to cents."""
    return Decimal(round(x * 100)) / 100


def _generate(asset: Asset, seed: int, cal: MarketCalendar) -> _Path:
    """Build the full price path of `asset` over the calendar, vectorised."""
    opens, closes, days = cal.opens, cal.closes, cal.days
    n_sessions = len(opens)
    first_start = opens // HOUR * HOUR
    n_bars = (closes - first_start + HOUR - 1) // HOUR
    if n_bars.max() >= _SLOTS:
        raise ValueError("a session has more hourly bars than random slots")
    offsets = np.cumsum(n_bars) - n_bars
    sess = np.repeat(np.arange(n_sessions), n_bars)
    k = np.arange(int(n_bars.sum())) - np.repeat(offsets, n_bars)
    bar_t = first_start[sess] + k * HOUR
    trade_start = np.maximum(bar_t, opens[sess])
    trade_end = np.minimum(bar_t + HOUR, closes[sess])
    minutes = (trade_end - trade_start) / 60.0

    years = days.astype("datetime64[D]").astype("datetime64[Y]")
    day_of_year = days - years.astype("datetime64[D]").astype(np.int64)
    year_numbers = years.astype(np.int64) + 1970
    z = np.empty((n_sessions, _SLOTS, 4))
    key = symbol_key(asset.symbol)
    for year in np.unique(year_numbers):
        block = np.random.default_rng([seed, key, int(year)]).standard_normal((366, _SLOTS, 4))
        mask = year_numbers == year
        z[mask] = block[day_of_year[mask]]

    minute_var = asset.annual_vol**2 * _INTRADAY_VARIANCE_SHARE / _MINUTES_PER_YEAR
    minute_drift = (_DRIFT - 0.5 * asset.annual_vol**2) / _MINUTES_PER_YEAR
    bar_sigma = np.sqrt(minute_var * minutes)
    ret = minute_drift * minutes + bar_sigma * z[sess, k, 0]
    gap_sigma = np.sqrt(asset.annual_vol**2 * (1 - _INTRADAY_VARIANCE_SHARE) / 252)
    first = k == 0
    gap = np.where(first, gap_sigma * z[sess, _SLOTS - 1, 0], 0.0)
    gap[0] = 0.0
    log_close = np.log(asset.start_price) + np.cumsum(ret + gap)
    c = np.maximum(np.round(np.exp(log_close), 2), 0.01)
    o = np.empty_like(c)
    o[0] = asset.start_price
    o[1:] = np.where(
        first[1:], np.maximum(np.round(np.exp(log_close[1:] - ret[1:]), 2), 0.01), c[:-1]
    )
    h = np.maximum(
        np.round(np.maximum(o, c) * np.exp(np.abs(z[sess, k, 1]) * bar_sigma * 0.6), 2),
        np.maximum(o, c),
    )
    lo = np.minimum(
        np.round(np.minimum(o, c) * np.exp(-np.abs(z[sess, k, 2]) * bar_sigma * 0.6), 2),
        np.minimum(o, c),
    )
    lo = np.maximum(lo, 0.01)

    day_factor = np.exp(0.25 * z[:, _SLOTS - 1, 1])
    v = np.maximum(
        (
            asset.daily_volume
            * day_factor[sess]
            * minutes
            / 390.0
            * _INTRADAY_VOLUME_SHAPE[k]
            * np.exp(0.2 * z[sess, k, 3])
        ).astype(np.int64),
        100,
    )
    n = np.maximum(v // (90 + (key % 60)), 1).astype(np.int64)
    vw = np.clip(np.round((h + lo + c) / 3.0, 4), lo, h)

    up = c >= o
    corner_t = np.stack(
        [
            trade_start,
            trade_start + (trade_end - trade_start) / 3.0,
            trade_start + 2.0 * (trade_end - trade_start) / 3.0,
            trade_end,
        ],
        axis=1,
    ).astype(np.float64)
    corner_p = np.stack([o, np.where(up, lo, h), np.where(up, h, lo), c], axis=1)

    last = offsets + n_bars - 1
    day_v = np.add.reduceat(v, offsets)
    day_h = np.maximum.reduceat(h, offsets)
    day_l = np.minimum.reduceat(lo, offsets)
    day_vw = np.clip(np.round(np.add.reduceat(vw * v, offsets) / day_v, 4), day_l, day_h)
    hourly = BarSeries(bar_t, bar_t + HOUR, o, h, lo, c, v, n, vw)
    daily = BarSeries(
        cal.midnights,
        closes,
        o[offsets],
        day_h,
        day_l,
        c[last],
        day_v,
        np.add.reduceat(n, offsets),
        day_vw,
    )
    return _Path(
        hourly=hourly,
        daily=daily,
        trade_start=trade_start.astype(np.float64),
        trade_end=trade_end.astype(np.float64),
        session=sess,
        point_t=corner_t,
        point_p=corner_p,
    )


_PATH_CACHE: dict[tuple[int, str, object], _Path] = {}
_PATH_LOCK = threading.Lock()


class Market:
    """The simulated market: assets, bars, trade prices and quotes, all deterministic in `seed`."""

    def __init__(self, calendar: MarketCalendar | None = None, seed: int = DEFAULT_SEED) -> None:
        self.calendar = calendar or MarketCalendar()
        self.seed = seed
        self.assets: dict[str, Asset] = {a.symbol: a for a in UNIVERSE}
        self._by_id: dict[str, Asset] = {str(a.id): a for a in UNIVERSE}

    def asset(self, symbol_or_id: str) -> Asset | None:
        """Look an asset up by symbol (case-insensitive) or by asset id."""
        return self.assets.get(symbol_or_id.upper()) or self._by_id.get(symbol_or_id.lower())

    def _path(self, symbol: str) -> _Path:
        asset = self.assets[symbol]
        cache_key = (self.seed, symbol, (self.calendar.first, self.calendar.last))
        with _PATH_LOCK:
            path = _PATH_CACHE.get(cache_key)
            if path is None:
                path = _generate(asset, self.seed, self.calendar)
                _PATH_CACHE[cache_key] = path
        return path

    def bars(self, symbol: str, timeframe: TimeFrame) -> BarSeries:
        """All bars of `symbol` (completed or not); filter with BarSeries.visible_range."""
        path = self._path(symbol)
        return path.hourly if timeframe is TimeFrame.HOUR else path.daily

    def _bar_at(self, path: _Path, x: float) -> int:
        return int(np.searchsorted(path.trade_start, x, side="right")) - 1

    def _raw_price(self, path: _Path, b: int, x: float) -> float:
        return float(np.interp(x, path.point_t[b], path.point_p[b]))

    def price_at(self, symbol: str, t: datetime) -> Decimal:
        """The trade price at `t`, which must lie inside a regular session (its close included)."""
        path = self._path(symbol)
        x = t.timestamp()
        b = self._bar_at(path, x)
        if b < 0 or x > path.trade_end[b]:
            raise ValueError(f"{t.isoformat()} is outside the regular session")
        return _cents(self._raw_price(path, b, x))

    def last_price(self, symbol: str, t: datetime) -> Decimal:
        """The latest trade price at or before `t` (the last close when the market is closed)."""
        path = self._path(symbol)
        x = t.timestamp()
        b = self._bar_at(path, x)
        if b < 0:
            return _cents(float(path.hourly.o[0]))
        if x > path.trade_end[b]:
            return _cents(float(path.hourly.c[b]))
        return _cents(self._raw_price(path, b, x))

    def daily_close(self, symbol: str, session_index: int) -> Decimal:
        """The closing price of the session at `session_index`."""
        return _cents(float(self._path(symbol).daily.c[session_index]))

    def quote(self, symbol: str, t: datetime) -> Quote:
        """Bid and ask one cent either side of the last trade price at `t`."""
        mid = self.last_price(symbol, t)
        return Quote(bid=max(mid - HALF_SPREAD, CENT), ask=mid + HALF_SPREAD)

    def first_marketable(
        self, symbol: str, side: Side, limit: Decimal, start: datetime, end: datetime
    ) -> tuple[datetime, Decimal] | None:
        """When and at what price a limit order first becomes marketable in [start, end].

        `start` must be inside a session. Marketable at `start` (or at a session open after a
        gap) fills at the quote there, which is at the limit or better; a cross of the path
        during a session fills at the limit price at the crossing time.
        """
        if end < start:
            return None
        quote = self.quote(symbol, start)
        if _is_marketable(quote, side, limit):
            return start, quote.ask if side is Side.BUY else quote.bid
        path = self._path(symbol)
        x0, x1 = start.timestamp(), end.timestamp()
        b0 = self._bar_at(path, x0)
        b1 = self._bar_at(path, x1)
        if b0 < 0 or x0 > path.trade_end[b0]:
            raise ValueError(f"{start.isoformat()} is outside the regular session")
        times = path.point_t[b0 : b1 + 1].ravel()
        prices = path.point_p[b0 : b1 + 1].ravel()
        sessions = np.repeat(path.session[b0 : b1 + 1], 4)
        keep = (times > x0) & (times <= x1)
        times = np.concatenate([[x0], times[keep]])
        prices = np.concatenate([[self._raw_price(path, b0, x0)], prices[keep]])
        sessions = np.concatenate([[path.session[b0]], sessions[keep]])
        if x1 <= path.trade_end[b1] and times[-1] < x1:
            times = np.append(times, x1)
            prices = np.append(prices, self._raw_price(path, b1, x1))
            sessions = np.append(sessions, path.session[b1])
        # Quotes are cent-rounded: the path is marketable once it is within half a cent.
        if side is Side.BUY:
            boundary = float(limit - HALF_SPREAD) + 0.005
            hits = np.nonzero(prices < boundary)[0]
        else:
            boundary = float(limit + HALF_SPREAD) - 0.005
            hits = np.nonzero(prices > boundary)[0]
        if len(hits) == 0:
            return None
        i = int(hits[0])
        if i > 0 and sessions[i] != sessions[i - 1]:
            at = from_epoch(float(times[i]))
            gap_quote = self.quote(symbol, at)
            return at, gap_quote.ask if side is Side.BUY else gap_quote.bid
        if i == 0:
            crossed = x0
        else:
            p0, p1 = float(prices[i - 1]), float(prices[i])
            t0, t1 = float(times[i - 1]), float(times[i])
            crossed = t0 + (p0 - boundary) / (p0 - p1) * (t1 - t0)
        # The first whole microsecond at which the rounded quote is marketable.
        micros = max(math.ceil(crossed * 1_000_000), math.ceil(x0 * 1_000_000))
        for _ in range(1000):
            at = from_epoch_micros(micros)
            if at > end:
                return None
            if _is_marketable(self.quote(symbol, at), side, limit):
                return at, limit
            micros += 1
        raise RuntimeError(f"no marketable quote found after the crossing for {symbol} at {at}")

    def first_trade_through(
        self, symbol: str, upward: bool, level: Decimal, start: datetime, end: datetime
    ) -> datetime | None:
        """When the cent-rounded trade price first reaches `level` (>= going up, <= going down).

        The same search as `first_marketable`, since the quote is the trade price one cent either
        side: "trade <= level" is "ask <= level + 1c", "trade >= level" is "bid >= level - 1c".
        """
        if upward:
            hit = self.first_marketable(symbol, Side.SELL, level - HALF_SPREAD, start, end)
        else:
            hit = self.first_marketable(symbol, Side.BUY, level + HALF_SPREAD, start, end)
        return hit[0] if hit is not None else None


def _is_marketable(quote: Quote, side: Side, limit: Decimal) -> bool:
    """True when a limit order on `side` at `limit` can trade against `quote`."""
    return quote.ask <= limit if side is Side.BUY else quote.bid >= limit
