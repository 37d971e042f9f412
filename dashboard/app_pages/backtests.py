"""Backtests page: every recorded backtest, sweep and walk-forward, and the chosen one's results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, columns, data, metrics
from dashboard.research import backtest, sweep, walkforward

NO_RUNS_HINT = "run `trading backtest --strategy sma_crossover`"
FINISHED = "finished"
VIEWS = {"backtest": backtest.show, "sweep": sweep.show, "walkforward": walkforward.show}
RUN_METRICS = ["final_equity", "total_return", "sharpe_ratio", "max_drawdown", "trade_count"]


def _label(run: pd.Series) -> str:
    """How a run reads in the chooser: when, what, its state and the start of its id."""
    started = charts.to_market_time(pd.Series([run["started_at"]])).iloc[0]
    return (
        f"{started:%Y-%m-%d %H:%M} · {run['kind']} · {run['strategy']} · {run['status']}"
        f" · {run['run_id']:.8}"
    )


def _runs_table(runs: pd.DataFrame) -> None:
    """Every top-level run, newest first, with a backtest's headline numbers once built."""
    st.subheader("Runs")
    st.dataframe(
        metrics.as_points(runs),
        hide_index=True,
        column_order=[
            "started_at",
            "kind",
            "strategy",
            "status",
            "first_bar_at",
            "last_bar_at",
            "symbols",
            *RUN_METRICS,
            "objective",
            "initial_cash",
            "timeframe",
            "mode",
            "run_id",
        ],
        column_config={
            "started_at": columns.market_time("Started"),
            "kind": "Kind",
            "strategy": "Strategy",
            "status": "Status",
            "first_bar_at": columns.market_time("First bar"),
            "last_bar_at": columns.market_time("Last bar"),
            "symbols": st.column_config.ListColumn("Symbols"),
            **metrics.column_config(RUN_METRICS),
            "objective": "Objective",
            "initial_cash": metrics.column("initial_cash"),
            "timeframe": "Timeframe",
            "mode": "Mode",
            "run_id": "Run id",
        },
    )
    st.caption(
        "A sweep's results are per trial and a walk-forward's per fold: choose one below. "
        "The runs a sweep or walk-forward made for its chunks and folds are shown with it."
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


def _run_details(run: pd.Series) -> None:
    """The chosen run's results as its kind shows them, or why it has none."""
    if run["status"] != FINISHED:
        why = f": {run['error']}" if run["status"] == "failed" and run["error"] else ""
        st.info(f"This {run['kind']} is {run['status']}{why}; it has no results to show.")
        return
    view = VIEWS.get(run["kind"])
    if view is None:
        st.warning(f"This page cannot show a run of kind {run['kind']!r} yet.")
        return
    view(run)


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
