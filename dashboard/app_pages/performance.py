"""Performance page: per-strategy metrics, daily equity with its drawdown, and exposure."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import charts, columns, data

PORTFOLIO = "portfolio"
FRACTIONS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "max_drawdown",
    "win_rate",
    "time_in_market",
)


def _percent(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2%}"


def _ratio(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def _headline(metrics: pd.DataFrame) -> None:
    """The whole account's return, drawdown, Sharpe and trade count as metric cards."""
    rows = metrics.loc[metrics["strategy"] == PORTFOLIO]
    if rows.empty:
        return
    account = rows.iloc[0]
    return_col, drawdown_col, sharpe_col, trades_col = st.columns(4)
    return_col.metric(
        "Total return",
        _percent(account["total_return"]),
        help=f"{account['start_date']:%Y-%m-%d} to {account['end_date']:%Y-%m-%d}, "
        f"{account['day_count']} trading days",
        border=True,
    )
    drawdown_col.metric("Max drawdown", _percent(account["max_drawdown"]), border=True)
    sharpe_col.metric("Sharpe ratio", _ratio(account["sharpe_ratio"]), border=True)
    trades_col.metric("Closed trades", str(account["trade_count"]), border=True)


def _metrics_table(metrics: pd.DataFrame) -> None:
    """One row per strategy and one for the whole account."""
    st.subheader("Metrics by strategy")
    shown = metrics.copy()
    shown[list(FRACTIONS)] = shown[list(FRACTIONS)].astype("float64") * 100
    st.dataframe(
        shown,
        hide_index=True,
        column_order=[
            "strategy",
            "total_return",
            "cagr",
            "annual_volatility",
            "sharpe_ratio",
            "sortino_ratio",
            "max_drawdown",
            "max_drawdown_start_date",
            "max_drawdown_end_date",
            "trade_count",
            "win_rate",
            "profit_factor",
            "time_in_market",
            "starting_equity",
            "ending_equity",
            "start_date",
            "end_date",
            "day_count",
        ],
        column_config={
            "strategy": "Strategy",
            "total_return": columns.percent_points("Total return"),
            "cagr": columns.percent_points("CAGR"),
            "annual_volatility": columns.percent_points("Volatility (ann.)"),
            "sharpe_ratio": columns.ratio("Sharpe"),
            "sortino_ratio": columns.ratio("Sortino"),
            "max_drawdown": columns.percent_points("Max drawdown"),
            "max_drawdown_start_date": columns.day("Drawdown from"),
            "max_drawdown_end_date": columns.day("Drawdown to"),
            "trade_count": st.column_config.NumberColumn("Trades", format="%d"),
            "win_rate": columns.percent_points("Win rate"),
            "profit_factor": columns.ratio("Profit factor"),
            "time_in_market": columns.percent_points("Time in market"),
            "starting_equity": columns.money("Starting equity"),
            "ending_equity": columns.money("Ending equity"),
            "start_date": columns.day("From"),
            "end_date": columns.day("To"),
            "day_count": st.column_config.NumberColumn("Days", format="%d"),
        },
    )
    st.caption(
        "Daily returns, 252 trading days a year, risk-free rate 0. A trade is a closed round "
        "trip in one symbol. A blank cell is undefined: too few days, no down day, no losing "
        "trade. 'portfolio' is the whole account."
    )


def _daily_charts() -> None:
    """Equity with its drawdown, then gross and net exposure, per trading day."""
    daily = data.load("daily portfolio values", data.portfolio_daily)
    if daily is None:
        return
    st.subheader("Equity and drawdown")
    st.plotly_chart(
        charts.equity_drawdown_figure(daily), key="equity_drawdown", config={"displaylogo": False}
    )
    st.subheader("Exposure")
    st.plotly_chart(charts.exposure_figure(daily), key="exposure", config={"displaylogo": False})


def render() -> None:
    """Draw the performance page."""
    header, button = st.columns([5, 1], vertical_alignment="bottom")
    header.title("Performance")
    if button.button("Refresh", icon=":material/refresh:"):
        data.refresh()
    metrics = data.load("performance metrics", data.strategy_performance)
    if metrics is not None:
        with st.container(key="headline"):
            _headline(metrics)
        with st.container(key="metrics"):
            _metrics_table(metrics)
    with st.container(key="daily"):
        _daily_charts()


if __name__ == "__main__":
    render()
