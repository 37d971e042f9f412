"""marts.indicators equals TA-Lib (and numpy where TA-Lib has no equivalent) per series."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import talib
from sqlalchemy import Engine, text

from config.database import Connection

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

START = datetime(2026, 1, 5, 14, tzinfo=UTC)
STEP = {"1Hour": timedelta(hours=1), "1Day": timedelta(days=1)}
NEW_YORK = ZoneInfo("America/New_York")
ATOL = 1e-6

INDICATORS = (
    "sma_20",
    "sma_50",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_middle_20",
    "bb_upper_20",
    "bb_lower_20",
    "atr_14",
    "vwap",
    "return_1",
    "log_return_1",
    "volatility_20",
)


@dataclass(frozen=True)
class Series:
    """The bars of one symbol and timeframe as landed in raw.bars."""

    ts: list[datetime]
    open: list[Decimal]
    high: list[Decimal]
    low: list[Decimal]
    close: list[Decimal]
    volume: list[int]

    def array(self, field: str) -> np.ndarray:
        """One price or volume field as floats."""
        return np.array([float(v) for v in getattr(self, field)])

    def without(self, index: int) -> Series:
        """The same bars with the bar at `index` missing from the feed."""
        return Series(*(values[:index] + values[index + 1 :] for values in self.__dict__.values()))


def _bars(closes: np.ndarray, timeframe: str, seed: int, start: datetime = START) -> Series:
    """OHLCV bars around `closes`: opens near the previous close, wicks on both sides."""
    rng = np.random.default_rng(seed)
    closes = np.maximum(closes, 1.0)
    opens = np.concatenate([[closes[0]], closes[:-1]]) + rng.normal(0, 0.2, len(closes))
    opens = np.maximum(opens, 1.0)
    highs = np.maximum(opens, closes) + np.abs(rng.normal(0, 0.5, len(closes)))
    lows = np.maximum(np.minimum(opens, closes) - np.abs(rng.normal(0, 0.5, len(closes))), 0.5)
    volumes = rng.integers(1_000, 50_000, len(closes))

    def price(value: float) -> Decimal:
        return Decimal(f"{value:.4f}")

    return Series(
        ts=[start + i * STEP[timeframe] for i in range(len(closes))],
        open=[price(v) for v in opens],
        high=[price(v) for v in highs],
        low=[price(v) for v in lows],
        close=[price(v) for v in closes],
        volume=[int(v) for v in volumes],
    )


def _walk_with_jumps(seed: int, length: int) -> np.ndarray:
    """A random walk with occasional gaps of several points, like news or an open."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 1.5, length)
    jumps = rng.choice([0.0, 8.0, -8.0], size=length, p=[0.94, 0.03, 0.03])
    return 100 + np.cumsum(steps + jumps)


def _walk_then_flat(seed: int) -> np.ndarray:
    """A walk, then 40 bars at one price (no gains, no losses), then a walk again."""
    walk = _walk_with_jumps(seed, 120)
    flat = np.full(40, round(walk[59], 4))
    return np.concatenate([walk[:60], flat, walk[60:] - walk[60] + flat[0]])


FULL_HOURLY = _bars(_walk_with_jumps(6, 150), "1Hour", 16)
GAP_INDEX = 70

SERIES: dict[tuple[str, str], Series] = {
    # AAA and BBB hourly share timestamps; AAA daily shares some with AAA hourly.
    ("AAA", "1Hour"): _bars(_walk_with_jumps(1, 300), "1Hour", 11),
    ("AAA", "1Day"): _bars(_walk_with_jumps(2, 260), "1Day", 12),
    ("BBB", "1Hour"): _bars(_walk_with_jumps(3, 280), "1Hour", 13),
    ("BBB", "1Day"): _bars(_walk_with_jumps(4, 200), "1Day", 14),
    ("CALM", "1Hour"): _bars(_walk_then_flat(5), "1Hour", 15),
    ("FLAT", "1Hour"): _bars(np.full(60, 50.0), "1Hour", 17),
    ("RISE", "1Day"): _bars(np.array([20 + i for i in range(60)]) / 4, "1Day", 18),
    ("SHORT", "1Hour"): _bars(_walk_with_jumps(7, 12), "1Hour", 19),
    ("UNDER50", "1Day"): _bars(_walk_with_jumps(8, 49), "1Day", 20),
    ("GAP", "1Hour"): FULL_HOURLY.without(GAP_INDEX),
}


def _session_vwap(series: Series) -> np.ndarray:
    """Cumulative volume-weighted (h + l + c) / 3 per New York calendar date."""
    typical = (series.array("high") + series.array("low") + series.array("close")) / 3
    volume = series.array("volume")
    vwap = np.empty(len(typical))
    session, price_volume, total_volume = None, 0.0, 0.0
    for i, ts in enumerate(series.ts):
        if ts.astimezone(NEW_YORK).date() != session:
            session, price_volume, total_volume = ts.astimezone(NEW_YORK).date(), 0.0, 0.0
        price_volume += typical[i] * volume[i]
        total_volume += volume[i]
        vwap[i] = price_volume / total_volume if total_volume else np.nan
    return vwap


def _volatility(log_returns: np.ndarray, window: int = 20) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last `window` log returns."""
    result = np.full(len(log_returns), np.nan)
    for i in range(window, len(log_returns)):
        result[i] = np.std(log_returns[i - window + 1 : i + 1], ddof=1)
    return result


def reference(series: Series) -> dict[str, np.ndarray]:
    """Every indicator of the mart as TA-Lib (or numpy) computes it on `series`."""
    high, low, close = series.array("high"), series.array("low"), series.array("close")
    macd, macd_signal, macd_hist = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2, 2, matype=talib.MA_Type.SMA)
    previous = np.concatenate([[np.nan], close[:-1]])
    log_returns = np.log(close / previous)
    return {
        "sma_20": talib.SMA(close, 20),
        "sma_50": talib.SMA(close, 50),
        "ema_12": talib.EMA(close, 12),
        "ema_26": talib.EMA(close, 26),
        "rsi_14": talib.RSI(close, 14),
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "bb_middle_20": middle,
        "bb_upper_20": upper,
        "bb_lower_20": lower,
        "atr_14": talib.ATR(high, low, close, 14),
        "vwap": _session_vwap(series),
        "return_1": close / previous - 1,
        "log_return_1": log_returns,
        "volatility_20": _volatility(log_returns),
    }


@pytest.fixture(scope="module")
def indicators(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Iterator[dict[tuple[str, str], list]]:
    """Build the project once over SERIES and return marts.indicators per series."""
    insert_bars(
        module_engine,
        [
            {
                "symbol": symbol,
                "timeframe": timeframe,
                "ts": series.ts[i],
                "open": series.open[i],
                "high": series.high[i],
                "low": series.low[i],
                "close": series.close[i],
                "volume": series.volume[i],
            }
            for (symbol, timeframe), series in SERIES.items()
            for i in range(len(series.ts))
        ],
    )
    # Cautious: leave out tests that also read models downstream of indicators (not built here).
    dbt_ok(
        ["build", "--select", "+indicators", "--indirect-selection", "cautious"], module_database
    )
    with module_engine.connect() as conn:
        rows = conn.execute(
            text(
                f"select symbol, timeframe, ts, close, {', '.join(INDICATORS)}, is_warm"
                " from marts.indicators order by symbol, timeframe, ts"
            )
        ).all()
    by_series: dict[tuple[str, str], list] = {}
    for row in rows:
        by_series.setdefault((row.symbol, row.timeframe), []).append(row)
    yield by_series


def _column(rows: list, name: str) -> np.ndarray:
    return np.array([np.nan if getattr(r, name) is None else float(getattr(r, name)) for r in rows])


def _assert_matches(rows: list, expected: dict[str, np.ndarray]) -> None:
    for name in INDICATORS:
        actual = _column(rows, name)
        assert np.array_equal(np.isnan(actual), np.isnan(expected[name])), name
        np.testing.assert_allclose(
            actual, expected[name], rtol=0, atol=ATOL, equal_nan=True, err_msg=name
        )


@pytest.mark.parametrize("key", list(SERIES), ids=lambda s: f"{s[0]}-{s[1]}")
def test_every_indicator_matches_talib_with_nulls_where_talib_has_none(
    indicators: dict, key: tuple[str, str]
) -> None:
    rows = indicators[key]
    series = SERIES[key]
    assert [r.ts for r in rows] == series.ts
    assert [r.close for r in rows] == series.close
    _assert_matches(rows, reference(series))


@pytest.mark.parametrize("key", list(SERIES), ids=lambda s: f"{s[0]}-{s[1]}")
def test_bar_is_warm_exactly_when_every_indicator_has_a_value(
    indicators: dict, key: tuple[str, str]
) -> None:
    rows = indicators[key]
    expected = reference(SERIES[key])
    has_all = ~np.any(np.isnan(np.array([expected[name] for name in INDICATORS])), axis=0)
    assert [r.is_warm for r in rows] == has_all.tolist()


def test_bars_are_warm_from_the_50th_bar(indicators: dict) -> None:
    warm = [r.is_warm for r in indicators[("AAA", "1Hour")]]
    assert warm == [False] * 49 + [True] * 251


def test_series_shorter_than_the_longest_window_is_never_warm(indicators: dict) -> None:
    short = indicators[("SHORT", "1Hour")]
    assert len(short) == 12
    assert not any(r.is_warm for r in short)
    assert all(r.sma_20 is None and r.rsi_14 is None and r.macd is None for r in short)
    assert all(r.atr_14 is None and r.volatility_20 is None for r in short)
    under = indicators[("UNDER50", "1Day")]
    assert len(under) == 49
    assert not any(r.is_warm for r in under)
    assert all(r.sma_50 is None for r in under)


def test_macd_starts_with_its_signal_line_from_an_aligned_fast_ema(indicators: dict) -> None:
    """talib.MACD seeds the fast EMA at the slow EMA's first bar, so the line is not
    EMA(12) - EMA(26), and it reports nothing before the signal line's first bar."""
    rows = indicators[("AAA", "1Hour")]
    macd = _column(rows, "macd")
    assert np.isnan(macd[:33]).all()
    assert not np.isnan(macd[33:]).any()
    naive = _column(rows, "ema_12") - _column(rows, "ema_26")
    assert np.abs(macd[33:] - naive[33:]).max() > 1e-3


def test_no_price_change_gives_rsi_0_and_a_flat_stretch_matches_talib(indicators: dict) -> None:
    flat = indicators[("FLAT", "1Hour")]
    assert [r.rsi_14 for r in flat] == [None] * 14 + [0.0] * 46
    assert all(r.bb_upper_20 == r.bb_lower_20 == Decimal(50) for r in flat[19:])
    assert all(r.volatility_20 == 0 for r in flat[20:])
    calm = indicators[("CALM", "1Hour")]
    closes = [r.close for r in calm]
    assert len(set(closes[60:100])) == 1
    np.testing.assert_allclose(
        _column(calm, "rsi_14"),
        talib.RSI(SERIES[("CALM", "1Hour")].array("close"), 14),
        rtol=0,
        atol=ATOL,
        equal_nan=True,
    )


def test_only_rising_price_has_rsi_100(indicators: dict) -> None:
    rsi = [r.rsi_14 for r in indicators[("RISE", "1Day")]]
    assert rsi == [None] * 14 + [100.0] * 46


def test_missing_bar_gives_talibs_values_on_the_bars_that_exist(indicators: dict) -> None:
    """Windows count bars, not hours: after a missing hour, every value is TA-Lib's on the
    series without that bar, not on a series with a hole or a filled-in price."""
    rows = indicators[("GAP", "1Hour")]
    gap_at = FULL_HOURLY.ts[GAP_INDEX]
    assert gap_at not in [r.ts for r in rows]
    assert rows[GAP_INDEX].ts - rows[GAP_INDEX - 1].ts == timedelta(hours=2)
    _assert_matches(rows, reference(FULL_HOURLY.without(GAP_INDEX)))
    with_the_bar = reference(FULL_HOURLY)
    assert abs(float(rows[GAP_INDEX].sma_20) - with_the_bar["sma_20"][GAP_INDEX + 1]) > 1e-6
    window = FULL_HOURLY.without(GAP_INDEX).close[GAP_INDEX - 19 : GAP_INDEX + 1]
    assert rows[GAP_INDEX].sma_20 == sum(window) / 20


def test_symbols_and_timeframes_do_not_mix(indicators: dict) -> None:
    """Series that share bar timestamps (two symbols on 1Hour; one symbol on 1Hour and 1Day)
    each equal TA-Lib on their own bars, and would not on the bars merged in time."""
    keys = [("AAA", "1Hour"), ("BBB", "1Hour"), ("AAA", "1Day")]
    assert set(SERIES[keys[0]].ts) & set(SERIES[keys[1]].ts)
    assert set(SERIES[keys[0]].ts) & set(SERIES[keys[2]].ts)
    for key in keys:
        _assert_matches(indicators[key], reference(SERIES[key]))
    merged = sorted(
        (ts, close)
        for key in keys[:2]
        for ts, close in zip(SERIES[key].ts, SERIES[key].close, strict=True)
    )
    merged_sma = talib.SMA(np.array([float(close) for _, close in merged]), 20)
    aaa = {r.ts: float(r.sma_20) for r in indicators[keys[0]] if r.sma_20 is not None}
    assert any(
        abs(aaa[ts] - sma) > 1e-3
        for (ts, _), sma in zip(merged, merged_sma, strict=True)
        if ts in aaa and not np.isnan(sma)
    )
