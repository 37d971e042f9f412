"""One parameter sweep: its best trial and how far to trust it (the deflated Sharpe ratio), a
heatmap of a metric over two chosen parameters, and every trial."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, metrics
from dashboard.research import parameters as params

OBJECTIVE = "objective_value"
# Below this deflated Sharpe ratio the best trial may be the luckiest of many, not the best
# (marts.backtest_sweeps.is_likely_overfit says the same).
DEFLATED_SHARPE_THRESHOLD = 0.95
TRIAL_METRICS = [
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "probabilistic_sharpe_ratio",
    "max_drawdown",
    "time_in_market",
    "trade_count",
    "win_rate",
    "profit_factor",
    "expectancy",
    "fees_paid",
    "final_equity",
]


def _summary(sweep: pd.Series) -> None:
    """Trials, the best trial, its parameters, and the deflated Sharpe ratio as cards."""
    objective = sweep["objective"]
    cards = st.columns(4)
    cards[0].metric("Trials", str(sweep["trial_count"]), border=True)
    cards[1].metric(
        f"Best trial · {metrics.METRICS[objective].label}",
        metrics.text(objective, sweep["best_objective_value"]),
        help=f"Trial {sweep['best_trial']}, the best by the sweep's objective ({objective}).",
        border=True,
    )
    cards[2].metric(
        "Deflated Sharpe ratio",
        metrics.ratio(sweep["deflated_sharpe_ratio"]),
        help="The probability that the best trial's true Sharpe ratio beats what the best of "
        f"{sweep['trial_count']} unskilled trials would show by luck (Bailey & López de Prado "
        "2014), given the trials' spread of Sharpe ratios and the track record's length, "
        "skewness and kurtosis.",
        border=True,
    )
    cards[3].metric(
        "Best trial's PSR",
        metrics.percent(sweep["best_probabilistic_sharpe_ratio"]),
        help="Probability that its true Sharpe ratio is above 0, not deflated for the trials.",
        border=True,
    )
    st.markdown(f"**Best parameters:** `{params.as_text(sweep['best_parameters'])}`")
    deflated = sweep["deflated_sharpe_ratio"]
    if sweep["is_likely_overfit"]:
        shown = "undefined" if pd.isna(deflated) else f"{deflated:.2f}"
        st.warning(
            f"**Likely overfit.** The best trial's deflated Sharpe ratio is {shown}, below "
            f"{DEFLATED_SHARPE_THRESHOLD}: after {sweep['trial_count']} trials its Sharpe ratio "
            "is not clearly above what the luckiest of them would show by chance. Validate "
            "its parameters out of sample (`trading walkforward`) before trading them.",
            icon=":material/warning:",
        )
    else:
        st.success(
            f"The best trial's deflated Sharpe ratio is {deflated:.2f}, at least "
            f"{DEFLATED_SHARPE_THRESHOLD}: its edge survives the number of trials.",
            icon=":material/verified:",
        )


def _metric_label(name: str, objective: str) -> str:
    if name == OBJECTIVE:
        return f"Objective ({metrics.METRICS[objective].label})"
    return metrics.METRICS[name].label


def _heatmap(sweep: pd.Series, trials: pd.DataFrame, parameters: pd.DataFrame) -> None:
    """A chosen metric over two chosen parameters, the others held at chosen values."""
    st.subheader("Heatmap")
    objective = sweep["objective"]
    names = [params.name_of(column) for column in parameters.columns]
    varying = [name for name in names if parameters[params.PREFIX + name].nunique() > 1]
    axes = varying or names
    metric_col, x_col, y_col = st.columns(3)
    metric = metric_col.selectbox(
        "Metric",
        [OBJECTIVE, *TRIAL_METRICS],
        format_func=lambda name: _metric_label(name, objective),
        key="sweep_metric",
    )
    x = x_col.selectbox("Across", axes, key="sweep_x")
    y_choices = [name for name in axes if name != x]
    # With one parameter there is nothing to put down the side: a single row.
    y = y_col.selectbox("Down", y_choices, key="sweep_y", disabled=not y_choices)
    if metric is None or x is None:
        return
    best = sweep["best_parameters"]
    others = [name for name in varying if name not in (x, y)]
    fixed: dict[str, object] = {}
    for column, name in zip(st.columns(max(len(others), 1)), others, strict=False):
        values = sorted(parameters[params.PREFIX + name].unique())
        fixed[name] = column.selectbox(
            f"{name} held at",
            values,
            index=values.index(best[name]) if best.get(name) in values else 0,
            format_func=charts.value_label,
            key=f"sweep_fixed_{name}",
        )
    grid = charts.parameter_grid(
        pd.concat([parameters, trials[[metric]]], axis=1),
        params.PREFIX + x,
        params.PREFIX + y if y else None,
        metric,
        {params.PREFIX + name: value for name, value in fixed.items()},
    )
    best_shown = all(best.get(name) == value for name, value in fixed.items())
    st.plotly_chart(
        charts.heatmap_figure(
            grid,
            x,
            y or "",
            _metric_label(metric, objective),
            metrics.d3_format(objective if metric == OBJECTIVE else metric),
            best=(best.get(x), best.get(y, "")) if best_shown else None,
        ),
        key="sweep_heatmap_chart",
        config={"displaylogo": False},
    )
    held = params.as_text(fixed)
    st.caption(
        "One cell a trial; the ring marks the best trial by the objective."
        + (f" Other parameters held at {held}." if held else "")
        + " A blank cell: the metric is undefined for that trial (e.g. no trade)."
    )


def _trials_table(sweep: pd.Series, trials: pd.DataFrame, parameters: pd.DataFrame) -> None:
    """Every trial with its parameters and metrics, best first."""
    st.subheader("Trials")
    objective = sweep["objective"]
    table = pd.concat([parameters, trials], axis=1).sort_values(["objective_rank", "trial"])
    st.dataframe(
        metrics.as_points(table, {OBJECTIVE: objective}),
        hide_index=True,
        column_order=[
            "objective_rank",
            "trial",
            *parameters.columns,
            OBJECTIVE,
            *TRIAL_METRICS,
        ],
        column_config={
            "objective_rank": st.column_config.NumberColumn("Rank", format="%d"),
            "trial": st.column_config.NumberColumn("Trial", format="%d"),
            **params.column_config(parameters.columns),
            OBJECTIVE: metrics.column(objective, _metric_label(OBJECTIVE, objective)),
            **metrics.column_config(TRIAL_METRICS),
        },
    )


def show(run: pd.Series) -> None:
    """A finished sweep's summary, heatmap and trials."""
    sweep = data.load("the summary of this sweep", data.backtest_sweep, run["run_id"])
    trials = data.load("trials in this sweep", data.backtest_trials, run["run_id"])
    if sweep is None or trials is None:
        return
    parameters = params.spread(trials)
    with st.container(key="sweep_summary"):
        _summary(sweep.iloc[0])
    with st.container(key="sweep_heatmap"):
        _heatmap(sweep.iloc[0], trials, parameters)
    with st.container(key="sweep_trials"):
        _trials_table(sweep.iloc[0], trials, parameters)
