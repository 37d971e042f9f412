"""A strategy's parameters (jsonb in the marts) as table columns and as text."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboard.charts import value_label

PREFIX = "parameter: "


def spread(frame: pd.DataFrame, column: str = "parameters") -> pd.DataFrame:
    """Each row's parameters (a dict) as columns named `PREFIX` + the parameter, in key order."""
    return pd.DataFrame(frame[column].tolist(), index=frame.index).add_prefix(PREFIX)


def name_of(column: str) -> str:
    """The parameter a `spread` column holds."""
    return column.removeprefix(PREFIX)


def column_config(spread_columns: pd.Index) -> dict[str, ColumnConfig]:
    """Each `spread` column headed by its parameter's name, its values as written (30, 0.02)."""
    return {
        column: st.column_config.NumberColumn(name_of(column), format="%g")
        for column in spread_columns
    }


def as_text(parameters: dict[str, object]) -> str:
    """{'oversold': 30.0, 'exit_above': 55.0} → 'oversold=30, exit_above=55'."""
    return ", ".join(f"{name}={value_label(value)}" for name, value in parameters.items())
