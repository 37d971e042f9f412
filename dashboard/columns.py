"""Column formats shared by the dashboard's tables."""

from __future__ import annotations

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboard.charts import MARKET_TZ


def market_time(label: str) -> ColumnConfig:
    """A UTC timestamp shown as New York wall-clock time."""
    return st.column_config.DatetimeColumn(
        f"{label} (NY)", format="YYYY-MM-DD HH:mm", timezone=MARKET_TZ
    )


def money(label: str) -> ColumnConfig:
    """A USD amount with two decimals."""
    return st.column_config.NumberColumn(label, format="dollar")


def quantity(label: str) -> ColumnConfig:
    """A share count."""
    return st.column_config.NumberColumn(label, format="%g")
