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


def market_day(label: str) -> ColumnConfig:
    """A UTC timestamp shown as its New York calendar day."""
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD", timezone=MARKET_TZ)


def money(label: str) -> ColumnConfig:
    """A USD amount with two decimals."""
    return st.column_config.NumberColumn(label, format="dollar")


def quantity(label: str) -> ColumnConfig:
    """A share count."""
    return st.column_config.NumberColumn(label, format="%g")


def percent_points(label: str) -> ColumnConfig:
    """A value already in percentage points, with two decimals (12.345 → 12.35%)."""
    # Streamlit's "percent" format trims decimals (-0.000955 shows as -0.1%), so scale first.
    return st.column_config.NumberColumn(label, format="%.2f%%")


def ratio(label: str) -> ColumnConfig:
    """A ratio with two decimals."""
    return st.column_config.NumberColumn(label, format="%.2f")


def day(label: str) -> ColumnConfig:
    """A calendar date."""
    return st.column_config.DateColumn(label, format="YYYY-MM-DD")
