"""Plotly figures for the dashboard, built from the query DataFrames."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MARKET_TZ = "America/New_York"
RSI_BANDS = (30, 70)


def to_market_time(ts: pd.Series) -> pd.Series:
    """UTC timestamps as naive New York wall-clock times, which is how Plotly draws them."""
    return pd.to_datetime(ts, utc=True).dt.tz_convert(MARKET_TZ).dt.tz_localize(None)


def missing_slots(times: pd.Series) -> tuple[list[pd.Timestamp], int]:
    """Bar slots absent from the first and last bar (nights, weekends), and the bar size in ms."""
    if len(times) < 3:
        return [], 0
    step = times.diff().dropna().mode().iloc[0]
    if step <= pd.Timedelta(0):
        return [], 0
    expected = pd.date_range(times.iloc[0], times.iloc[-1], freq=step)
    return list(expected.difference(pd.DatetimeIndex(times))), int(step.total_seconds() * 1000)


def equity_figure(curve: pd.DataFrame) -> go.Figure:
    """Equity and cash over time as lines."""
    x = to_market_time(curve["snapshot_at"])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=x, y=curve["equity"], mode="lines", name="Equity"))
    figure.add_trace(
        go.Scatter(x=x, y=curve["cash"], mode="lines", name="Cash", line={"dash": "dot"})
    )
    figure.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "USD", "tickprefix": "$"},
        xaxis={"title": "New York time"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
    )
    return figure


def candlestick_figure(bars: pd.DataFrame, symbol: str, timeframe: str) -> go.Figure:
    """Candles with SMA 20 overlaid, and RSI 14 in a panel below; gaps between sessions hidden."""
    x = to_market_time(bars["ts"])
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.72, 0.28]
    )
    figure.add_trace(
        go.Candlestick(
            x=x,
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name=symbol,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(x=x, y=bars["sma_20"], mode="lines", name="SMA 20", line={"width": 1.5}),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(x=x, y=bars["rsi_14"], mode="lines", name="RSI 14", line={"width": 1.5}),
        row=2,
        col=1,
    )
    for level in RSI_BANDS:
        figure.add_hline(y=level, line={"dash": "dot", "width": 1, "color": "gray"}, row=2, col=1)
    gaps, step_ms = missing_slots(x)
    if gaps:
        figure.update_xaxes(rangebreaks=[{"values": gaps, "dvalue": step_ms}])
    figure.update_layout(
        height=560,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": f"{symbol} · {timeframe} (New York time)", "font": {"size": 14}},
        xaxis_rangeslider_visible=False,
        # Below the chart: the top right belongs to Plotly's mode bar.
        legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0},
        hovermode="x unified",
    )
    figure.update_yaxes(title_text="Price", tickprefix="$", row=1, col=1)
    figure.update_yaxes(title_text="RSI", range=[0, 100], row=2, col=1)
    return figure


def equity_drawdown_figure(daily: pd.DataFrame) -> go.Figure:
    """Daily equity above, its drawdown from the running peak shaded below."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.65, 0.35]
    )
    figure.add_trace(
        go.Scatter(x=daily["market_date"], y=daily["equity"], mode="lines+markers", name="Equity"),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=daily["market_date"],
            y=daily["drawdown"],
            mode="lines",
            name="Drawdown",
            fill="tozeroy",
            line={"color": "firebrick", "width": 1},
        ),
        row=2,
        col=1,
    )
    figure.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
    )
    figure.update_yaxes(title_text="Equity", tickprefix="$", row=1, col=1)
    figure.update_yaxes(title_text="Drawdown", tickformat=".2%", rangemode="tozero", row=2, col=1)
    return figure


def exposure_figure(daily: pd.DataFrame) -> go.Figure:
    """Gross and net exposure at each day's end, in USD."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=daily["market_date"], y=daily["gross_exposure"], mode="lines", name="Gross exposure"
        )
    )
    figure.add_trace(
        go.Scatter(
            x=daily["market_date"],
            y=daily["net_exposure"],
            mode="lines",
            name="Net exposure",
            line={"dash": "dot"},
        )
    )
    figure.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "USD", "tickprefix": "$"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
    )
    return figure


def backtest_equity_figure(equity: pd.DataFrame) -> go.Figure:
    """A backtest's equity at each bar's close above, its drawdown from the running peak below."""
    x = to_market_time(equity["marked_at"])
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.65, 0.35]
    )
    figure.add_trace(go.Scatter(x=x, y=equity["equity"], mode="lines", name="Equity"), row=1, col=1)
    figure.add_trace(
        go.Scatter(
            x=x,
            y=equity["drawdown"],
            mode="lines",
            name="Drawdown",
            fill="tozeroy",
            line={"color": "firebrick", "width": 1},
        ),
        row=2,
        col=1,
    )
    gaps, step_ms = missing_slots(x)
    if gaps:
        figure.update_xaxes(rangebreaks=[{"values": gaps, "dvalue": step_ms}])
    figure.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
    )
    figure.update_yaxes(title_text="Equity", tickprefix="$", row=1, col=1)
    figure.update_yaxes(title_text="Drawdown", tickformat=".2%", rangemode="tozero", row=2, col=1)
    figure.update_xaxes(title_text="New York time", row=2, col=1)
    return figure
