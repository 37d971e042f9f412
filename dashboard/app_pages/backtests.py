"""Backtests page: the recorded runs, and one run's equity, drawdown, metrics and trades."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import charts, columns, data

NO_RUNS_HINT = "run `trading backtest --strategy sma_crossover`"
FINISHED = "finished"
RUN_FRACTIONS = ("total_return", "max_drawdown")
METRIC_FRACTIONS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "max_drawdown",
    "max_bar_drawdown",
    "time_in_market",
    "win_rate",
    "buy_and_hold_return",
)
TRADE_FRACTIONS = ("return", "mae", "mfe")


def _percent(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2%}"


def _ratio(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def _as_points(frame: pd.DataFrame, fractions: tuple[str, ...]) -> pd.DataFrame:
    """A copy with the fraction columns in percentage points, for `columns.percent_points`."""
    shown = frame.copy()
    shown[list(fractions)] = shown[list(fractions)].astype("float64") * 100
    return shown


def _label(run: pd.Series) -> str:
    """How a run reads in the chooser: when, what, its state and the start of its id."""
    started = charts.to_market_time(pd.Series([run["started_at"]])).iloc[0]
    return f"{started:%Y-%m-%d %H:%M} · {run['strategy']} · {run['status']} · {run['run_id']:.8}"


def _runs_table(runs: pd.DataFrame) -> None:
    """Every run, newest first, with its headline numbers once built."""
    st.subheader("Runs")
    st.dataframe(
        _as_points(runs, RUN_FRACTIONS),
        hide_index=True,
        column_order=[
            "started_at",
            "strategy",
            "first_bar_at",
            "last_bar_at",
            "symbols",
            "status",
            "final_equity",
            "total_return",
            "sharpe_ratio",
            "max_drawdown",
            "trade_count",
            "initial_cash",
            "timeframe",
            "mode",
            "run_id",
        ],
        column_config={
            "started_at": columns.market_time("Started"),
            "strategy": "Strategy",
            "first_bar_at": columns.market_time("First bar"),
            "last_bar_at": columns.market_time("Last bar"),
            "symbols": st.column_config.ListColumn("Symbols"),
            "status": "Status",
            "final_equity": columns.money("Final equity"),
            "total_return": columns.percent_points("Total return"),
            "sharpe_ratio": columns.ratio("Sharpe"),
            "max_drawdown": columns.percent_points("Max drawdown"),
            "trade_count": st.column_config.NumberColumn("Trades", format="%d"),
            "initial_cash": columns.money("Cash per book"),
            "timeframe": "Timeframe",
            "mode": "Mode",
            "run_id": "Run id",
        },
    )


def _chosen_run(runs: pd.DataFrame) -> pd.Series | None:
    """The run the user picks; the newest finished one to begin with."""
    finished = runs.index[runs["status"] == FINISHED]
    default = int(finished[0]) if len(finished) else 0
    position = st.selectbox(
        "Run",
        range(len(runs)),
        index=default,
        format_func=lambda i: _label(runs.iloc[i]),
        key="backtest_run",
    )
    return None if position is None else runs.iloc[position]


def _headline(metrics: pd.Series) -> None:
    """Final equity, the return beside buy-and-hold's, Sharpe, drawdown and trades as cards."""
    # Two rows of three: at six across, a five-figure dollar amount does not fit its card.
    cards = [*st.columns(3), *st.columns(3)]
    cards[0].metric("Final equity", f"${metrics['final_equity']:,.2f}", border=True)
    cards[1].metric(
        "Total return",
        _percent(metrics["total_return"]),
        help=f"{metrics['start_date']:%Y-%m-%d} to {metrics['end_date']:%Y-%m-%d}, "
        f"{metrics['day_count']} trading days",
        border=True,
    )
    cards[2].metric(
        "Buy and hold",
        _percent(metrics["buy_and_hold_return"]),
        help="Every symbol bought in equal amounts at its first bar's open and held to its "
        "last close, before costs.",
        border=True,
    )
    cards[3].metric("Sharpe ratio", _ratio(metrics["sharpe_ratio"]), border=True)
    cards[4].metric("Max drawdown", _percent(metrics["max_drawdown"]), border=True)
    cards[5].metric("Closed trades", str(metrics["trade_count"]), border=True)


def _metrics_table(metrics: pd.DataFrame) -> None:
    """The run's every metric from marts.backtest_performance."""
    st.subheader("Metrics")
    st.dataframe(
        _as_points(metrics, METRIC_FRACTIONS),
        hide_index=True,
        column_order=[
            "total_return",
            "buy_and_hold_return",
            "cagr",
            "annual_volatility",
            "sharpe_ratio",
            "sortino_ratio",
            "max_drawdown",
            "max_drawdown_start_date",
            "max_drawdown_end_date",
            "max_bar_drawdown",
            "time_in_market",
            "trade_count",
            "open_trade_count",
            "win_rate",
            "profit_factor",
            "fees_paid",
            "rejected_entries",
            "initial_cash",
            "final_equity",
            "symbol_count",
            "start_date",
            "end_date",
            "day_count",
        ],
        column_config={
            "total_return": columns.percent_points("Total return"),
            "buy_and_hold_return": columns.percent_points("Buy and hold"),
            "cagr": columns.percent_points("CAGR"),
            "annual_volatility": columns.percent_points("Volatility (ann.)"),
            "sharpe_ratio": columns.ratio("Sharpe"),
            "sortino_ratio": columns.ratio("Sortino"),
            "max_drawdown": columns.percent_points("Max drawdown"),
            "max_drawdown_start_date": columns.day("Drawdown from"),
            "max_drawdown_end_date": columns.day("Drawdown to"),
            "max_bar_drawdown": columns.percent_points("Max bar drawdown"),
            "time_in_market": columns.percent_points("Time in market"),
            "trade_count": st.column_config.NumberColumn("Trades", format="%d"),
            "open_trade_count": st.column_config.NumberColumn("Open at end", format="%d"),
            "win_rate": columns.percent_points("Win rate"),
            "profit_factor": columns.ratio("Profit factor"),
            "fees_paid": columns.money("Fees paid"),
            "rejected_entries": st.column_config.NumberColumn("Rejected entries", format="%d"),
            "initial_cash": columns.money("Cash per book"),
            "final_equity": columns.money("Final equity"),
            "symbol_count": st.column_config.NumberColumn("Symbols", format="%d"),
            "start_date": columns.day("From"),
            "end_date": columns.day("To"),
            "day_count": st.column_config.NumberColumn("Days", format="%d"),
        },
    )
    st.caption(
        "Daily returns of the run's total equity, 252 trading days a year, risk-free rate 0, "
        "as on the Performance page. Each symbol is its own book with the cash per book; the "
        "total adds their P&L. A blank cell is undefined: too few days, no losing trade."
    )


def _equity_chart(run_id: str) -> None:
    """The run's total equity and drawdown at every bar."""
    equity = data.load("equity for this run", data.backtest_equity, run_id)
    if equity is None:
        return
    st.subheader("Equity and drawdown")
    st.plotly_chart(
        charts.backtest_equity_figure(equity),
        key="backtest_equity_chart",
        config={"displaylogo": False},
    )


def _trades_table(run_id: str) -> None:
    """The run's round trips; a position still held at the end is marked, not closed."""
    st.subheader("Trades")
    trades = data.load("trades in this run", data.backtest_trades, run_id)
    if trades is None:
        return
    st.dataframe(
        _as_points(trades, TRADE_FRACTIONS),
        hide_index=True,
        column_order=[
            "symbol",
            "trade_number",
            "entry_at",
            "entry_price",
            "exit_at",
            "exit_price",
            "quantity",
            "fees",
            "pnl",
            "return",
            "bars_held",
            "exit_reason",
            "mae",
            "mfe",
        ],
        column_config={
            "symbol": "Symbol",
            "trade_number": st.column_config.NumberColumn("#", format="%d"),
            "entry_at": columns.market_time("Entry"),
            "entry_price": columns.money("Entry price"),
            "exit_at": columns.market_time("Exit"),
            "exit_price": columns.money("Exit price"),
            "quantity": columns.quantity("Qty"),
            "fees": columns.money("Fees"),
            "pnl": columns.money("P&L"),
            "return": columns.percent_points("Return"),
            "bars_held": st.column_config.NumberColumn("Bars held", format="%d"),
            "exit_reason": "Exit reason",
            "mae": columns.percent_points("MAE"),
            "mfe": columns.percent_points("MFE"),
        },
    )
    st.caption(
        "Fills at the open of the bar after the deciding bar, slipped against the trader. "
        "'open': still held at the end of the window, marked at the last close."
    )


def _run_details(run: pd.Series) -> None:
    """One run's headline, equity chart, metrics and trades, or why it has none."""
    if run["status"] != FINISHED:
        why = f": {run['error']}" if run["status"] == "failed" and run["error"] else ""
        st.info(f"This run is {run['status']}{why}; it has no results to show.")
        return
    metrics = data.load("metrics for this run", data.backtest_performance, run["run_id"])
    if metrics is None:
        return
    with st.container(key="backtest_headline"):
        _headline(metrics.iloc[0])
    with st.container(key="backtest_equity"):
        _equity_chart(run["run_id"])
    with st.container(key="backtest_metrics"):
        _metrics_table(metrics)
    with st.container(key="backtest_trades"):
        _trades_table(run["run_id"])


def render() -> None:
    """Draw the backtests page."""
    header, button = st.columns([5, 1], vertical_alignment="bottom")
    header.title("Backtests")
    if button.button("Refresh", icon=":material/refresh:"):
        data.refresh()
    runs = data.load_or_hint("backtests", NO_RUNS_HINT, data.backtest_runs)
    if runs is None:
        return
    runs["run_id"] = runs["run_id"].astype(str)
    with st.container(key="backtest_runs"):
        _runs_table(runs)
    run = _chosen_run(runs)
    if run is not None:
        _run_details(run)


if __name__ == "__main__":
    render()
