"""Performance page: per-strategy metrics, daily equity with its drawdown, and exposure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, metrics

PORTFOLIO = "portfolio"
METRIC_COLUMNS = [
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
]


def _headline(performance: pd.DataFrame) -> None:
    """The whole account's return, drawdown, Sharpe and trade count as metric cards."""
    rows = performance.loc[performance["strategy"] == PORTFOLIO]
    if rows.empty:
        return
    account = rows.iloc[0]
    return_col, drawdown_col, sharpe_col, trades_col = st.columns(4)
    return_col.metric(
        "Total return",
        metrics.percent(account["total_return"]),
        help=f"{account['start_date']:%Y-%m-%d} to {account['end_date']:%Y-%m-%d}, "
        f"{account['day_count']} trading days",
        border=True,
    )
    drawdown_col.metric("Max drawdown", metrics.percent(account["max_drawdown"]), border=True)
    sharpe_col.metric("Sharpe ratio", metrics.ratio(account["sharpe_ratio"]), border=True)
    trades_col.metric("Closed trades", str(account["trade_count"]), border=True)


def _metrics_table(performance: pd.DataFrame) -> None:
    """One row per strategy and one for the whole account."""
    st.subheader("Metrics by strategy")
    st.dataframe(
        metrics.as_points(performance),
        hide_index=True,
        column_order=["strategy", *METRIC_COLUMNS],
        column_config={"strategy": "Strategy", **metrics.column_config(METRIC_COLUMNS)},
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
        charts.equity_drawdown_figure(daily["market_date"], daily["equity"], daily["drawdown"]),
        key="equity_drawdown",
        config={"displaylogo": False},
    )
    st.subheader("Exposure")
    st.plotly_chart(charts.exposure_figure(daily), key="exposure", config={"displaylogo": False})


def render() -> None:
    """Draw the performance page."""
    header, button = st.columns([5, 1], vertical_alignment="bottom")
    header.title("Performance")
    if button.button("Refresh", icon=":material/refresh:"):
        data.refresh()
    performance = data.load("performance metrics", data.strategy_performance)
    if performance is not None:
        with st.container(key="headline"):
            _headline(performance)
        with st.container(key="metrics"):
            _metrics_table(performance)
    with st.container(key="daily"):
        _daily_charts()


if __name__ == "__main__":
    render()
