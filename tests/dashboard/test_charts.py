"""The Plotly figures: candles with SMA and RSI, session gaps hidden, times in New York."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import (
    backtest_equity_figure,
    candlestick_figure,
    equity_drawdown_figure,
    equity_figure,
    exposure_figure,
    missing_slots,
    to_market_time,
)


def _bars(starts: pd.DatetimeIndex) -> pd.DataFrame:
    n = len(starts)
    close = pd.Series(range(n), dtype="float64") + 100
    return pd.DataFrame(
        {
            "ts": starts,
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 1000.0,
            "sma_20": close.rolling(20).mean(),
            "rsi_14": 55.0,
            "is_warm": close.index >= 19,
        }
    )


def _two_sessions() -> pd.DatetimeIndex:
    """Clock-hour bars of two NYSE sessions (13:00–19:00 UTC in winter), a night apart."""
    return pd.DatetimeIndex(
        [
            *pd.date_range("2026-11-23 14:00", periods=7, freq="h", tz="UTC"),
            *pd.date_range("2026-11-24 14:00", periods=7, freq="h", tz="UTC"),
        ]
    )


def test_market_time_is_new_york_wall_clock() -> None:
    """14:00 UTC in November is 09:00 in New York."""
    shown = to_market_time(pd.Series(pd.to_datetime(["2026-11-24 14:00"], utc=True)))
    assert shown.iloc[0] == pd.Timestamp("2026-11-24 09:00")


def test_missing_slots_are_the_overnight_hours() -> None:
    """Between two sessions of 7 hourly bars, the 17 night hours are hidden, at 1 hour each."""
    gaps, step_ms = missing_slots(to_market_time(pd.Series(_two_sessions())))
    assert len(gaps) == 17
    assert step_ms == 3_600_000
    assert gaps[0] == pd.Timestamp("2026-11-23 16:00")


def test_missing_slots_needs_a_few_bars() -> None:
    """Too few bars to know the bar size: nothing hidden."""
    assert missing_slots(pd.Series(pd.to_datetime(["2026-11-24 09:00"]))) == ([], 0)


def test_candlestick_figure_has_candles_sma_and_rsi_below() -> None:
    """One candlestick and the SMA on the price axis; RSI on a second axis below."""
    figure = candlestick_figure(_bars(_two_sessions()), "AAPL", "1Hour")
    kinds = [(type(trace).__name__, trace.name, trace.yaxis) for trace in figure.data]
    assert kinds == [
        ("Candlestick", "AAPL", "y"),
        ("Scatter", "SMA 20", "y"),
        ("Scatter", "RSI 14", "y2"),
    ]
    assert figure.layout.title.text == "AAPL · 1Hour (New York time)"
    assert figure.layout.xaxis.rangebreaks[0].dvalue == 3_600_000


def test_equity_figure_draws_equity_and_cash() -> None:
    """Two lines, equity and cash."""
    curve = pd.DataFrame(
        {
            "snapshot_at": pd.to_datetime(["2026-11-23 21:05", "2026-11-24 21:05"], utc=True),
            "equity": [101_000.0, 101_500.0],
            "cash": [99_000.0, 98_900.0],
        }
    )
    figure = equity_figure(curve)
    assert [trace.name for trace in figure.data] == ["Equity", "Cash"]
    assert all(isinstance(trace, go.Scatter) for trace in figure.data)


def _daily() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "market_date": pd.to_datetime(["2026-11-23", "2026-11-24", "2026-11-25"]).date,
            "equity": [100_000.0, 99_000.0, 100_500.0],
            "drawdown": [0.0, -0.01, 0.0],
            "gross_exposure": [0.0, 5_000.0, 2_000.0],
            "net_exposure": [0.0, 5_000.0, -1_000.0],
        }
    )


def test_equity_drawdown_figure_puts_the_drawdown_below_the_equity() -> None:
    """Equity on the first axis; the drawdown, shaded to zero, as percentages on the second."""
    figure = equity_drawdown_figure(_daily())
    kinds = [(trace.name, trace.yaxis) for trace in figure.data]
    assert kinds == [("Equity", "y"), ("Drawdown", "y2")]
    assert list(figure.data[1].y) == [0.0, -0.01, 0.0]
    assert figure.data[1].fill == "tozeroy"
    assert figure.layout.yaxis2.tickformat == ".2%"


def test_exposure_figure_draws_gross_and_net() -> None:
    """Two lines, gross and net exposure, net allowed below zero."""
    figure = exposure_figure(_daily())
    assert [trace.name for trace in figure.data] == ["Gross exposure", "Net exposure"]
    assert list(figure.data[1].y) == [0.0, 5_000.0, -1_000.0]


def test_backtest_equity_figure_draws_per_bar_equity_over_its_drawdown_in_new_york_time() -> None:
    """Equity at each bar's close above, drawdown below; the nights between sessions hidden."""
    starts = _two_sessions()
    equity = pd.DataFrame(
        {
            "marked_at": starts + pd.Timedelta(hours=1),
            "equity": [50_000.0 + 10 * i for i in range(len(starts))],
            "drawdown": [0.0] * len(starts),
        }
    )
    figure = backtest_equity_figure(equity)
    assert [(trace.name, trace.yaxis) for trace in figure.data] == [
        ("Equity", "y"),
        ("Drawdown", "y2"),
    ]
    assert pd.Timestamp(figure.data[0].x[0]) == pd.Timestamp("2026-11-23 10:00")
    assert figure.layout.xaxis.rangebreaks[0].dvalue == 3_600_000
    assert figure.layout.yaxis2.tickformat == ".2%"
