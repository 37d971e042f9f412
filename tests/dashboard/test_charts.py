"""The Plotly figures: candles with SMA and RSI, session gaps hidden, times in New York."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import (
    Curve,
    candlestick_figure,
    equity_drawdown_figure,
    equity_figure,
    exposure_figure,
    heatmap_figure,
    missing_slots,
    parameter_grid,
    to_market_time,
    trade_outcomes,
    trades_figure,
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
    daily = _daily()
    figure = equity_drawdown_figure(daily["market_date"], daily["equity"], daily["drawdown"])
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


def test_per_bar_equity_beside_a_benchmark_hides_the_nights_and_marks_boundaries() -> None:
    """Per bar: equity and the benchmark above, both drawdowns below (the benchmark's in its
    legend group, not listed twice), the nights hidden, each boundary a line and a label."""
    starts = _two_sessions()
    n = len(starts)
    x = to_market_time(pd.Series(starts + pd.Timedelta(hours=1)))
    benchmark = Curve(
        "Buy and hold",
        pd.Series([50_000.0 - i for i in range(n)]),
        pd.Series([-i / 50_000 for i in range(n)]),
    )
    figure = equity_drawdown_figure(
        x,
        pd.Series([50_000.0 + 10 * i for i in range(n)]),
        pd.Series([0.0] * n),
        benchmark=benchmark,
        per_bar=True,
        boundaries=[(x.iloc[0], "Fold 1"), (x.iloc[7], "Fold 2")],
    )
    assert [(trace.name, trace.yaxis, trace.showlegend) for trace in figure.data] == [
        ("Equity", "y", None),
        ("Buy and hold", "y", None),
        ("Drawdown", "y2", None),
        ("Buy and hold drawdown", "y2", False),
    ]
    assert figure.data[0].mode == "lines"
    assert pd.Timestamp(figure.data[0].x[0]) == pd.Timestamp("2026-11-23 10:00")
    assert figure.layout.xaxis.rangebreaks[0].dvalue == 3_600_000
    assert [pd.Timestamp(shape.x0) for shape in figure.layout.shapes] == [
        pd.Timestamp("2026-11-23 10:00"),
        pd.Timestamp("2026-11-24 10:00"),
    ]
    assert [note.text for note in figure.layout.annotations] == ["Fold 1", "Fold 2"]


def _trades() -> pd.DataFrame:
    """A win, a loss and a trade still open at the end, on the two sessions' bars."""
    starts = _two_sessions()
    return pd.DataFrame(
        {
            "trade_number": [1, 2, 3],
            "entry_at": [starts[1], starts[5], starts[10]],
            "entry_price": [101.0, 105.0, 110.0],
            "exit_at": [starts[3], starts[8], starts[13] + pd.Timedelta(hours=1)],
            "exit_price": [103.0, 104.0, 112.0],
            "pnl": [20.0, -10.0, 20.0],
            "return": [0.0198, -0.0095, 0.018],
            "exit_reason": ["signal", "signal", "open"],
        }
    )


def test_trade_outcomes_are_win_loss_or_open() -> None:
    """By P&L after fees for a closed trade; an open one is open whatever its marked P&L."""
    assert trade_outcomes(_trades()).tolist() == ["win", "loss", "open"]


def test_trades_figure_marks_every_entry_and_every_closed_exit_on_the_candles() -> None:
    """Three entries and two exits (the open trade has none yet), at their fill prices, on the
    price axis, one trace per side and outcome."""
    figure = trades_figure(_bars(_two_sessions()), _trades(), "AAPL", "1Hour")
    markers = {
        trace.name: (list(trace.y), trace.marker.symbol, trace.yaxis)
        for trace in figure.data
        if getattr(trace, "mode", None) == "markers"
    }
    assert markers == {
        "Entry · win": ([101.0], "triangle-up", "y"),
        "Entry · loss": ([105.0], "triangle-up", "y"),
        "Entry · open": ([110.0], "triangle-up", "y"),
        "Exit · win": ([103.0], "triangle-down", "y"),
        "Exit · loss": ([104.0], "triangle-down", "y"),
    }
    entry = next(trace for trace in figure.data if trace.name == "Entry · loss")
    assert pd.Timestamp(entry.x[0]) == pd.Timestamp("2026-11-23 14:00")  # New York time
    assert figure.data[0].type == "candlestick"


def _trials() -> pd.DataFrame:
    """A 2 × 2 × 2 grid of three parameters, one point not evaluated, one metric undefined."""
    rows = [
        {"a": a, "b": b, "c": c, "sharpe": a + b / 10 + c / 100}
        for a in (1.0, 2.0)
        for b in (10.0, 20.0)
        for c in (5.0, 7.0)
        if (a, b, c) != (2.0, 20.0, 7.0)
    ]
    trials = pd.DataFrame(rows)
    trials.loc[(trials["a"] == 1.0) & (trials["b"] == 10.0) & (trials["c"] == 7.0), "sharpe"] = None
    return trials


def test_parameter_grid_holds_the_other_parameters_at_the_chosen_values() -> None:
    """With c held at 7: b down, a across; the point not evaluated and the undefined metric
    are NaN cells, not missing ones."""
    grid = parameter_grid(_trials(), "a", "b", "sharpe", {"c": 7.0})
    assert list(grid.index) == [10.0, 20.0]
    assert list(grid.columns) == [1.0, 2.0]
    assert grid.isna().to_numpy().tolist() == [[True, False], [False, True]]
    assert grid.loc[10.0, 2.0] == 2.0 + 1.0 + 0.07
    assert grid.loc[20.0, 1.0] == 1.0 + 2.0 + 0.07


def test_parameter_grid_with_one_parameter_is_one_row() -> None:
    """No parameter down the side: one unnamed row across the chosen one."""
    grid = parameter_grid(_trials(), "c", None, "sharpe", {"a": 2.0, "b": 10.0})
    assert grid.shape == (1, 2)
    assert grid.iloc[0].tolist() == [2.0 + 1.0 + 0.05, 2.0 + 1.0 + 0.07]


def test_heatmap_figure_labels_every_cell_and_rings_the_best() -> None:
    """Categories read as the parameter values (30, not 30.0); each cell labelled in the
    metric's format; red to green centred on zero when the values change sign."""
    grid = pd.DataFrame([[-0.5, 0.25], [0.75, None]], index=[55.0, 60.0], columns=[30.0, 35.0])
    figure = heatmap_figure(grid, "oversold", "exit_above", "Sharpe", ".2f", best=(30.0, 60.0))
    heatmap, best = figure.data
    assert list(heatmap.x) == ["30", "35"] and list(heatmap.y) == ["55", "60"]
    assert heatmap.texttemplate == "%{z:.2f}"
    assert heatmap.zmid == 0
    assert (best.name, list(best.x), list(best.y)) == ("Best trial", ["30"], ["60"])
    unsigned = heatmap_figure(grid.abs(), "oversold", "exit_above", "Sharpe", ".2f")
    assert len(unsigned.data) == 1 and unsigned.data[0].zmid is None
