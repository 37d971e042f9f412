"""Performance metrics as the dashboard shows them: one label and format per metric column, used
by every table and card of the live record, the backtests, the sweeps' trials and the folds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboard import columns


class Kind(Enum):
    """How a metric's value reads."""

    PERCENT = "percent"  # a fraction, shown as a percentage
    RATIO = "ratio"
    MONEY = "money"
    COUNT = "count"
    DAY = "day"
    TIME = "time"  # a UTC timestamp, shown in New York time


@dataclass(frozen=True)
class Metric:
    """A metric column's label and kind."""

    label: str
    kind: Kind


METRICS: dict[str, Metric] = {
    "total_return": Metric("Total return", Kind.PERCENT),
    "buy_and_hold_return": Metric("Buy and hold", Kind.PERCENT),
    "cagr": Metric("CAGR", Kind.PERCENT),
    "annual_volatility": Metric("Volatility (ann.)", Kind.PERCENT),
    "sharpe_ratio": Metric("Sharpe", Kind.RATIO),
    "sortino_ratio": Metric("Sortino", Kind.RATIO),
    "calmar_ratio": Metric("Calmar", Kind.RATIO),
    "probabilistic_sharpe_ratio": Metric("PSR (SR > 0)", Kind.PERCENT),
    "daily_sharpe_ratio": Metric("Sharpe per day", Kind.RATIO),
    "skewness": Metric("Skewness", Kind.RATIO),
    "kurtosis": Metric("Kurtosis", Kind.RATIO),
    "observation_count": Metric("Daily returns", Kind.COUNT),
    "max_drawdown": Metric("Max drawdown", Kind.PERCENT),
    "max_drawdown_start_date": Metric("Drawdown from", Kind.DAY),
    "max_drawdown_end_date": Metric("Drawdown to", Kind.DAY),
    "max_drawdown_duration_days": Metric("Longest drawdown (days)", Kind.COUNT),
    "time_underwater": Metric("Time underwater", Kind.PERCENT),
    "max_bar_drawdown": Metric("Max bar drawdown", Kind.PERCENT),
    "time_in_market": Metric("Time in market", Kind.PERCENT),
    "average_exposure": Metric("Average exposure", Kind.PERCENT),
    "turnover": Metric("Turnover", Kind.RATIO),
    "trade_count": Metric("Trades", Kind.COUNT),
    "open_trade_count": Metric("Open at end", Kind.COUNT),
    "win_rate": Metric("Win rate", Kind.PERCENT),
    "profit_factor": Metric("Profit factor", Kind.RATIO),
    "expectancy": Metric("Expectancy", Kind.MONEY),
    "average_win": Metric("Average win", Kind.MONEY),
    "average_loss": Metric("Average loss", Kind.MONEY),
    "max_consecutive_losses": Metric("Max losing streak", Kind.COUNT),
    "fees_paid": Metric("Fees paid", Kind.MONEY),
    "rejected_entries": Metric("Rejected entries", Kind.COUNT),
    "initial_cash": Metric("Cash per book", Kind.MONEY),
    "final_equity": Metric("Final equity", Kind.MONEY),
    "starting_equity": Metric("Starting equity", Kind.MONEY),
    "ending_equity": Metric("Ending equity", Kind.MONEY),
    "symbol_count": Metric("Symbols", Kind.COUNT),
    "start_date": Metric("From", Kind.DAY),
    "end_date": Metric("To", Kind.DAY),
    "day_count": Metric("Days", Kind.COUNT),
    "first_bar_at": Metric("First bar", Kind.TIME),
    "last_bar_at": Metric("Last bar", Kind.TIME),
}


def percent(value: float | None) -> str:
    """A fraction as a percentage with two decimals; a dash when undefined."""
    return "—" if value is None or math.isnan(value) else f"{value:.2%}"


def ratio(value: float | None) -> str:
    """A ratio with two decimals; a dash when undefined."""
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def money(value: float | None) -> str:
    """A USD amount with two decimals, the sign before the dollar; a dash when undefined."""
    if value is None or math.isnan(value):
        return "—"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def text(name: str, value: object) -> str:
    """One metric's value as its card or key-value row shows it."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "—"
    kind = METRICS[name].kind
    if kind is Kind.PERCENT:
        return percent(float(value))  # type: ignore[arg-type]
    if kind is Kind.RATIO:
        return ratio(float(value))  # type: ignore[arg-type]
    if kind is Kind.MONEY:
        return money(float(value))  # type: ignore[arg-type]
    if kind is Kind.COUNT:
        return f"{int(value):,}"  # type: ignore[call-overload]
    if kind is Kind.TIME:
        return f"{pd.Timestamp(value).tz_convert(columns.MARKET_TZ):%Y-%m-%d %H:%M}"  # type: ignore[arg-type]
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else str(value)


def as_points(frame: pd.DataFrame, aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy with its percent metrics in percentage points, as `column` shows them; `aliases`
    names the metric a column of another name holds (in_sample_return: total_return)."""
    shown = frame.copy()
    for name in shown.columns:
        metric = METRICS.get((aliases or {}).get(name, name))
        if metric is not None and metric.kind is Kind.PERCENT:
            shown[name] = shown[name].astype("float64") * 100
    return shown


def column(name: str, label: str | None = None) -> ColumnConfig:
    """The column format of metric `name` (values from `as_points`), under `label` if given."""
    metric = METRICS[name]
    shown = label or metric.label
    match metric.kind:
        case Kind.PERCENT:
            return columns.percent_points(shown)
        case Kind.RATIO:
            return columns.ratio(shown)
        case Kind.MONEY:
            return columns.money(shown)
        case Kind.COUNT:
            return st.column_config.NumberColumn(shown, format="%d")
        case Kind.DAY:
            return columns.day(shown)
        case Kind.TIME:
            return columns.market_time(shown)


def d3_format(name: str) -> str:
    """The d3 number format Plotly labels metric `name`'s values with."""
    return {
        Kind.PERCENT: ".2%",
        Kind.RATIO: ".2f",
        Kind.MONEY: "$,.2f",
        Kind.COUNT: ",d",
    }.get(METRICS[name].kind, "")


def column_config(names: Iterable[str]) -> dict[str, ColumnConfig]:
    """The formats of these metric columns, for `st.dataframe(as_points(frame), ...)`."""
    return {name: column(name) for name in names}


def key_values(row: pd.Series, names: Sequence[str]) -> pd.DataFrame:
    """One row's metrics as a two-column table (metric, value), in `names` order."""
    return pd.DataFrame(
        {
            "Metric": [METRICS[name].label for name in names],
            "Value": [text(name, row[name]) for name in names],
        }
    )
