"""One walk-forward: the stitched out-of-sample result and its efficiency, the stitched equity
curve with the folds' boundaries, and each fold's windows, choice and results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, columns, data, metrics
from dashboard.research import parameters as params

# The fold table's columns, and the metric each one holds (for its format).
FOLD_METRICS = {
    "in_sample_return": ("total_return", "In-sample return"),
    "in_sample_cagr": ("cagr", "In-sample CAGR"),
    "in_sample_sharpe": ("sharpe_ratio", "In-sample Sharpe"),
    "out_of_sample_return": ("total_return", "Out-of-sample return"),
    "out_of_sample_cagr": ("cagr", "Out-of-sample CAGR"),
    "out_of_sample_sharpe": ("sharpe_ratio", "Out-of-sample Sharpe"),
    "out_of_sample_max_drawdown": ("max_drawdown", "Out-of-sample max drawdown"),
    "out_of_sample_trades": ("trade_count", "Out-of-sample trades"),
}


def _summary(result: pd.Series) -> None:
    """The stitched out-of-sample numbers and the walk-forward efficiency as cards."""
    cards = [*st.columns(3), *st.columns(3)]
    cards[0].metric("Folds", str(result["fold_count"]), border=True)
    cards[1].metric(
        "Out-of-sample return", metrics.percent(result["out_of_sample_return"]), border=True
    )
    cards[2].metric(
        "Walk-forward efficiency",
        metrics.ratio(result["walk_forward_efficiency"]),
        help="Out-of-sample annualised return ÷ the folds' average in-sample annualised return "
        "of the parameters they chose: near 1, the choices held up out of sample; near 0 or "
        "below, the in-sample results were mostly fit to noise.",
        border=True,
    )
    cards[3].metric(
        "Out-of-sample Sharpe", metrics.ratio(result["out_of_sample_sharpe"]), border=True
    )
    cards[4].metric(
        "Out-of-sample max drawdown",
        metrics.percent(result["out_of_sample_max_drawdown"]),
        border=True,
    )
    cards[5].metric(
        "CAGR out / in sample",
        f"{metrics.percent(result['out_of_sample_cagr'])} / "
        f"{metrics.percent(result['in_sample_cagr'])}",
        border=True,
    )


def _equity_chart(run_id: str) -> None:
    """The folds' test runs stitched into one equity curve, each fold's start marked."""
    equity = data.load("out-of-sample equity", data.backtest_walkforward_equity, run_id)
    if equity is None:
        return
    st.subheader("Stitched out-of-sample equity")
    x = charts.to_market_time(equity["marked_at"])
    starts = x.groupby(equity["fold"]).min()
    st.plotly_chart(
        charts.equity_drawdown_figure(
            x,
            equity["equity"],
            equity["drawdown"],
            per_bar=True,
            boundaries=[(at, f"Fold {fold}") for fold, at in starts.items()],
        ),
        key="walkforward_equity_chart",
        config={"displaylogo": False},
    )
    st.caption(
        "Each fold trades the parameters its training window chose, over the next test "
        "window only, starting with what the previous folds grew the cash to."
    )


def _folds_table(folds: pd.DataFrame) -> None:
    """Each fold's windows, the parameters chosen in sample, and both samples' results."""
    st.subheader("Folds")
    objective = folds["objective"].iloc[0]
    parameters = params.spread(folds)
    table = pd.concat([folds, parameters], axis=1)
    aliases = {name: metric for name, (metric, _) in FOLD_METRICS.items()}
    st.dataframe(
        metrics.as_points(table, {**aliases, "in_sample_objective": objective}),
        hide_index=True,
        column_order=[
            "fold",
            "train_start",
            "test_start",
            "test_end",
            *parameters.columns,
            "in_sample_objective",
            *FOLD_METRICS,
        ],
        column_config={
            "fold": st.column_config.NumberColumn("Fold", format="%d"),
            "train_start": columns.market_day("Train from"),
            "test_start": columns.market_day("Test from"),
            "test_end": columns.market_day("Test until"),
            **params.column_config(parameters.columns),
            "in_sample_objective": metrics.column(
                objective, f"In-sample objective ({metrics.METRICS[objective].label})"
            ),
            **{
                name: metrics.column(metric, label)
                for name, (metric, label) in FOLD_METRICS.items()
            },
        },
    )
    st.caption(
        "Train from ≤ bar start < Test from is the training window; Test from ≤ bar start < "
        "Test until the test window (New York days). The parameters are the training sweep's "
        f"best trial by its {metrics.METRICS[objective].label}."
    )


def show(run: pd.Series) -> None:
    """A finished walk-forward's result, stitched curve and folds."""
    result = data.load("the result of this walk-forward", data.backtest_walkforward, run["run_id"])
    if result is None:
        return
    with st.container(key="walkforward_summary"):
        _summary(result.iloc[0])
    with st.container(key="walkforward_equity"):
        _equity_chart(run["run_id"])
    folds = data.load("folds of this walk-forward", data.backtest_walkforward_folds, run["run_id"])
    if folds is not None:
        with st.container(key="walkforward_folds"):
            _folds_table(folds)
