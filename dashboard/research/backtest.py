"""One backtest run: its headline, equity against buy and hold, every metric, and its trades on
the candles of a chosen symbol."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, columns, data, metrics

# The run's metrics in four tables: returns, risk, trades, the window.
METRIC_GROUPS = {
    "Returns": [
        "total_return",
        "buy_and_hold_return",
        "cagr",
        "annual_volatility",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "probabilistic_sharpe_ratio",
        "final_equity",
        "initial_cash",
    ],
    "Risk": [
        "max_drawdown",
        "max_drawdown_start_date",
        "max_drawdown_end_date",
        "max_drawdown_duration_days",
        "time_underwater",
        "max_bar_drawdown",
        "time_in_market",
        "average_exposure",
        "turnover",
        "skewness",
        "kurtosis",
    ],
    "Trades": [
        "trade_count",
        "open_trade_count",
        "win_rate",
        "profit_factor",
        "expectancy",
        "average_win",
        "average_loss",
        "max_consecutive_losses",
        "fees_paid",
        "rejected_entries",
    ],
    "Window": [
        "symbol_count",
        "first_bar_at",
        "last_bar_at",
        "start_date",
        "end_date",
        "day_count",
        "observation_count",
    ],
}
TRADE_FRACTIONS = ("return", "mae", "mfe")


def _headline(performance: pd.Series) -> None:
    """Final equity, the return beside buy-and-hold's, Sharpe, drawdown and trades as cards."""
    # Two rows of three: at six across, a five-figure dollar amount does not fit its card.
    cards = [*st.columns(3), *st.columns(3)]
    cards[0].metric("Final equity", metrics.money(performance["final_equity"]), border=True)
    cards[1].metric(
        "Total return",
        metrics.percent(performance["total_return"]),
        help=f"{performance['start_date']:%Y-%m-%d} to {performance['end_date']:%Y-%m-%d}, "
        f"{performance['day_count']} trading days",
        border=True,
    )
    cards[2].metric(
        "Buy and hold",
        metrics.percent(performance["buy_and_hold_return"]),
        help="Every symbol bought in equal amounts at its first bar's open and held to its "
        "last close, before costs.",
        border=True,
    )
    cards[3].metric("Sharpe ratio", metrics.ratio(performance["sharpe_ratio"]), border=True)
    cards[4].metric("Max drawdown", metrics.percent(performance["max_drawdown"]), border=True)
    cards[5].metric("Closed trades", str(performance["trade_count"]), border=True)


def _metrics_tables(performance: pd.Series) -> None:
    """Every metric of marts.backtest_performance, grouped."""
    st.subheader("Metrics")
    # Two by two: four across leave a date no room.
    cells = [*st.columns(2), *st.columns(2)]
    for cell, (group, names) in zip(cells, METRIC_GROUPS.items(), strict=True):
        with cell.container(key=f"backtest_metrics_{group.lower()}"):
            st.markdown(f"**{group}**")
            st.dataframe(metrics.key_values(performance, names), hide_index=True, height="content")
    st.caption(
        "Daily returns of the run's total equity, 252 trading days a year, risk-free rate 0, "
        "as on the Performance page. Each symbol is its own book with the cash per book; the "
        "total is their average. PSR: the probability that the true Sharpe ratio is above 0. "
        "Turnover: how many times the average book's equity changed hands. A dash is "
        "undefined: too few days, no losing trade."
    )


def _equity_chart(run_id: str) -> None:
    """The run's total equity and drawdown at every bar, beside buying and holding its symbols."""
    equity = data.load("equity for this run", data.backtest_equity, run_id)
    if equity is None:
        return
    st.subheader("Equity and drawdown")
    buy_and_hold = charts.Curve(
        "Buy and hold", equity["buy_and_hold_equity"], equity["buy_and_hold_drawdown"]
    )
    st.plotly_chart(
        charts.equity_drawdown_figure(
            charts.to_market_time(equity["marked_at"]),
            equity["equity"],
            equity["drawdown"],
            benchmark=buy_and_hold,
            per_bar=True,
        ),
        key="backtest_equity_chart",
        config={"displaylogo": False},
    )
    st.caption(
        "Buy and hold: the same cash split equally among the symbols, each bought at its first "
        "bar's open in the window and carried at its close, before costs."
    )


def _trades_on_candles(run: pd.Series, trades: pd.DataFrame) -> None:
    """A chosen symbol's candles in the run's window with its trades' entries and exits."""
    st.subheader("Trades on the candles")
    symbols = list(run["symbols"])
    traded = [symbol for symbol in symbols if symbol in set(trades["symbol"])]
    symbol = st.selectbox(
        "Symbol",
        symbols,
        index=symbols.index(traded[0]) if traded else 0,
        key="backtest_symbol",
    )
    if symbol is None:
        return
    bars = data.load(f"bars of {symbol} in this run", data.backtest_bars, run["run_id"], symbol)
    if bars is None:
        return
    mine = trades.loc[trades["symbol"] == symbol]
    st.plotly_chart(
        charts.trades_figure(bars, mine, symbol, run["timeframe"]),
        key="backtest_candles_chart",
        config={"displaylogo": False},
    )
    outcomes = charts.trade_outcomes(mine).value_counts()
    st.caption(
        f"{len(mine)} round trips in {symbol}: {outcomes.get('win', 0)} won, "
        f"{outcomes.get('loss', 0)} lost, {outcomes.get('open', 0)} still open at the end. "
        "▲ entry, ▼ exit, at the fill price (the open of the bar after the deciding bar, "
        "slipped); green a win, red a loss after fees, gray still held."
    )


def _trades_table(trades: pd.DataFrame) -> None:
    """The run's round trips; a position still held at the end is marked, not closed."""
    st.subheader("Trades")
    shown = trades.copy()
    shown[list(TRADE_FRACTIONS)] = shown[list(TRADE_FRACTIONS)].astype("float64") * 100
    st.dataframe(
        shown,
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


def _decisions(run_id: str) -> None:
    """A portfolio run's decisions: how many of each outcome and reason, then every one."""
    decisions = data.load("decisions for this run", data.backtest_portfolio_decisions, run_id)
    if decisions is None:
        return
    st.subheader("Decisions")
    reasons = decisions["rejection_reason"].fillna(decisions["outcome"])
    counts = reasons.value_counts().rename_axis("decision").reset_index(name="count")
    st.dataframe(counts, hide_index=True, key="backtest_decision_counts")
    st.dataframe(
        decisions,
        hide_index=True,
        column_config={
            "as_of": columns.market_time("Decided at"),
            "symbol": "Symbol",
            "side": "Side",
            "qty": columns.quantity("Qty"),
            "outcome": "Outcome",
            "rejection_reason": "Reason",
            "reference_price": columns.money("Close"),
            "equity": columns.money("Equity"),
            "current_qty": columns.quantity("Held"),
            "open_positions": st.column_config.NumberColumn("Open positions", format="%d"),
            "max_positions": st.column_config.NumberColumn("Max positions", format="%d"),
            "trading_state": "State",
        },
    )
    st.caption(
        "Portfolio mode: at every bar end the live risk review decided against the one account; "
        "a rejected buy is decided again at the next bar end, as the live cycle retries it."
    )


def show(run: pd.Series) -> None:
    """A finished backtest's headline, equity, metrics and trades; a portfolio run's decisions."""
    performance = data.load("metrics for this run", data.backtest_performance, run["run_id"])
    if performance is None:
        return
    with st.container(key="backtest_headline"):
        _headline(performance.iloc[0])
    with st.container(key="backtest_equity"):
        _equity_chart(run["run_id"])
    with st.container(key="backtest_metrics"):
        _metrics_tables(performance.iloc[0])
    never = "the strategy never entered in its window"
    trades = data.load_or_hint("trades in this run", never, data.backtest_trades, run["run_id"])
    if trades is not None:
        with st.container(key="backtest_candles"):
            _trades_on_candles(run, trades)
        with st.container(key="backtest_trades"):
            _trades_table(trades)
    if run["mode"] == "portfolio":
        with st.container(key="backtest_decisions"):
            _decisions(run["run_id"])
