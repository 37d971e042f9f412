"""Plotly figures for the dashboard, built from the query DataFrames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Curve:
    """An equity curve and its drawdown from the running peak, drawn beside the main one."""

    name: str
    equity: pd.Series
    drawdown: pd.Series


def equity_drawdown_figure(
    x: pd.Series,
    equity: pd.Series,
    drawdown: pd.Series,
    benchmark: Curve | None = None,
    per_bar: bool = False,
    boundaries: Sequence[tuple[object, str]] = (),
) -> go.Figure:
    """Equity above, its drawdown shaded below; a benchmark dashed beside each.

    `x` is days, or with `per_bar` bar times already in New York time (the gaps between
    sessions are hidden). `boundaries` are (x, label) pairs drawn as labelled vertical lines.
    """
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.65, 0.35]
    )
    mode = "lines" if per_bar else "lines+markers"
    figure.add_trace(go.Scatter(x=x, y=equity, mode=mode, name="Equity"), row=1, col=1)
    if benchmark is not None:
        figure.add_trace(
            go.Scatter(
                x=x,
                y=benchmark.equity,
                mode="lines",
                name=benchmark.name,
                legendgroup=benchmark.name,
                line={"color": "gray", "dash": "dash", "width": 1.5},
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=drawdown,
            mode="lines",
            name="Drawdown",
            fill="tozeroy",
            line={"color": "firebrick", "width": 1},
        ),
        row=2,
        col=1,
    )
    if benchmark is not None:
        figure.add_trace(
            go.Scatter(
                x=x,
                y=benchmark.drawdown,
                mode="lines",
                name=f"{benchmark.name} drawdown",
                legendgroup=benchmark.name,
                showlegend=False,
                line={"color": "gray", "dash": "dash", "width": 1},
            ),
            row=2,
            col=1,
        )
    for at, label in boundaries:
        figure.add_shape(
            type="line",
            x0=at,
            x1=at,
            xref="x",
            y0=0,
            y1=1,
            yref="paper",
            line={"color": "gray", "dash": "dot", "width": 1},
        )
        figure.add_annotation(
            x=at,
            xref="x",
            y=1,
            yref="paper",
            text=label,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "gray"},
        )
    if per_bar:
        gaps, step_ms = missing_slots(x)
        if gaps:
            figure.update_xaxes(rangebreaks=[{"values": gaps, "dvalue": step_ms}])
        figure.update_xaxes(title_text="New York time", row=2, col=1)
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


# Entries point up, exits down; green a win, red a loss, gray a position still held at the end.
OUTCOME_COLOURS = {"win": "seagreen", "loss": "crimson", "open": "gray"}
TRADE_MARKERS = (
    ("Entry", "entry_at", "entry_price", "triangle-up"),
    ("Exit", "exit_at", "exit_price", "triangle-down"),
)


def trade_outcomes(trades: pd.DataFrame) -> pd.Series:
    """Each round trip's outcome: 'open' while held at the end, else 'win' (P&L > 0) or 'loss'."""
    closed = trades["pnl"].gt(0).map({True: "win", False: "loss"})
    return closed.where(trades["exit_reason"] != "open", "open")


def trades_figure(
    bars: pd.DataFrame, trades: pd.DataFrame, symbol: str, timeframe: str
) -> go.Figure:
    """The symbol's candles with each round trip's entry and exit fills as markers at their
    fill prices (an open trade has no exit yet), coloured by its outcome."""
    figure = candlestick_figure(bars, symbol, timeframe)
    outcomes = trade_outcomes(trades)
    for side, at, price, marker in TRADE_MARKERS:
        for outcome, colour in OUTCOME_COLOURS.items():
            rows = trades.loc[outcomes == outcome]
            if side == "Exit":
                rows = rows.loc[rows["exit_reason"] != "open"]
            if rows.empty:
                continue
            figure.add_trace(
                go.Scatter(
                    x=to_market_time(rows[at]),
                    y=rows[price],
                    mode="markers",
                    name=f"{side} · {outcome}",
                    marker={
                        "symbol": marker,
                        "color": colour,
                        "size": 12,
                        "line": {"color": "black", "width": 1},
                    },
                    customdata=rows[["trade_number", "pnl", "return"]].to_numpy(),
                    hovertemplate=(
                        f"{side} of trade %{{customdata[0]}} at $%{{y:,.2f}}<br>"
                        "P&L $%{customdata[1]:,.2f} (%{customdata[2]:.2%})<extra></extra>"
                    ),
                ),
                row=1,
                col=1,
            )
    return figure


def parameter_grid(
    trials: pd.DataFrame, x: str, y: str | None, metric: str, fixed: Mapping[str, object]
) -> pd.DataFrame:
    """The metric over two parameters: one row per value of `y` (a single row without one), one
    column per value of `x`, from the trials whose other parameters equal `fixed`; a grid point
    the sweep did not evaluate is NaN."""
    chosen = trials
    for name, value in fixed.items():
        chosen = chosen.loc[chosen[name] == value]
    rows = chosen[y] if y else pd.Series("", index=chosen.index)
    grid = pd.DataFrame({"x": chosen[x], "y": rows, "value": chosen[metric]})
    table = grid.pivot(index="y", columns="x", values="value")
    table = table.reindex(
        index=sorted(trials[y].unique()) if y else [""], columns=sorted(trials[x].unique())
    )
    return table.astype("float64")


def heatmap_figure(
    grid: pd.DataFrame,
    x_label: str,
    y_label: str,
    metric_label: str,
    metric_format: str,
    best: tuple[object, object] | None = None,
) -> go.Figure:
    """A heatmap of `parameter_grid`'s values, each cell labelled in `metric_format` (d3), the
    best trial's cell ringed; red below zero and green above when the values change sign."""
    x = [value_label(value) for value in grid.columns]
    y = [value_label(value) for value in grid.index]
    values = grid.to_numpy()
    finite = values[~pd.isna(values)]
    signed = len(finite) > 0 and finite.min() < 0 < finite.max()
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=x,
            y=y,
            colorscale="RdYlGn",
            zmid=0 if signed else None,
            texttemplate=f"%{{z:{metric_format}}}",
            hovertemplate=(
                f"{x_label} %{{x}}<br>{y_label} %{{y}}<br>{metric_label} "
                f"%{{z:{metric_format}}}<extra></extra>"
            ),
            colorbar={"title": {"text": metric_label}, "tickformat": metric_format},
            name=metric_label,
        )
    )
    if best is not None:
        figure.add_trace(
            go.Scatter(
                x=[value_label(best[0])],
                y=[value_label(best[1])],
                mode="markers",
                name="Best trial",
                marker={
                    "symbol": "circle-open",
                    "size": 36,
                    "color": "black",
                    "line": {"width": 2},
                },
                hoverinfo="skip",
            )
        )
    figure.update_layout(
        height=120 + 60 * len(y),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": x_label, "type": "category"},
        yaxis={"title": y_label, "type": "category"},
        showlegend=False,
    )
    return figure


def value_label(value: object) -> str:
    """A parameter value as an axis category: 30.0 reads 30."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)
