"""Streamlit-cached access to the dashboard queries, with friendly messages, not tracebacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec

import pandas as pd
import psycopg
import streamlit as st
from loguru import logger
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from config.settings import load_settings
from dashboard import queries

TTL_SECONDS = 30
NO_DATA = "No {what} yet — {hint}"
DEMO_HINT = "run `make demo` to load sample data and build the marts."

P = ParamSpec("P")


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    """The read-only engine, built once per server process from the environment's settings."""
    return queries.reader_engine(load_settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def equity_curve() -> pd.DataFrame:
    """Cached `queries.equity_curve`."""
    return queries.equity_curve(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def open_positions() -> pd.DataFrame:
    """Cached `queries.open_positions`."""
    return queries.open_positions(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def latest_signals() -> pd.DataFrame:
    """Cached `queries.latest_signals`."""
    return queries.latest_signals(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def chart_choices() -> pd.DataFrame:
    """Cached `queries.chart_choices`."""
    return queries.chart_choices(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def bars_with_indicators(symbol: str, timeframe: str) -> pd.DataFrame:
    """Cached `queries.bars_with_indicators`."""
    return queries.bars_with_indicators(engine(), symbol, timeframe)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def risk_decisions() -> pd.DataFrame:
    """Cached `queries.risk_decisions`."""
    return queries.risk_decisions(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def strategy_performance() -> pd.DataFrame:
    """Cached `queries.strategy_performance`."""
    return queries.strategy_performance(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def portfolio_daily() -> pd.DataFrame:
    """Cached `queries.portfolio_daily`."""
    return queries.portfolio_daily(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_runs() -> pd.DataFrame:
    """Cached `queries.backtest_runs`."""
    return queries.backtest_runs(engine())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_performance(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_performance`."""
    return queries.backtest_performance(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_equity(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_equity`."""
    return queries.backtest_equity(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_portfolio_decisions(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_portfolio_decisions`."""
    return queries.backtest_portfolio_decisions(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_trades(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_trades`."""
    return queries.backtest_trades(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_bars(run_id: str, symbol: str) -> pd.DataFrame:
    """Cached `queries.backtest_bars`."""
    return queries.backtest_bars(engine(), run_id, symbol)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_sweep(sweep_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_sweep`."""
    return queries.backtest_sweep(engine(), sweep_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_trials(sweep_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_trials`."""
    return queries.backtest_trials(engine(), sweep_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_walkforward(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_walkforward`."""
    return queries.backtest_walkforward(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_walkforward_folds(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_walkforward_folds`."""
    return queries.backtest_walkforward_folds(engine(), run_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def backtest_walkforward_equity(run_id: str) -> pd.DataFrame:
    """Cached `queries.backtest_walkforward_equity`."""
    return queries.backtest_walkforward_equity(engine(), run_id)


def database_ready() -> bool:
    """Connect once as the reader role; on failure show why (no traceback) and return False."""
    try:
        with engine().connect() as conn:
            conn.exec_driver_sql("select 1")
    # The one broad guard: whatever stops the engine (bad URL, role, server), say so, no traceback.
    except Exception as exc:
        cause = exc.__cause__ or exc
        logger.bind(error=str(cause)).error("dashboard cannot connect")
        st.error(
            "Cannot connect to the database as the read-only role "
            f"`{queries.READER_ROLE}`. Check `DATABASE_URL`, that the server is running and "
            "that the migrations have run (`make demo` does all of this).\n\n"
            f"`{type(cause).__name__}: {str(cause).strip()}`",
            icon=":material/error:",
        )
        return False
    return True


def load(
    what: str, loader: Callable[P, pd.DataFrame], *args: P.args, **kwargs: P.kwargs
) -> pd.DataFrame | None:
    """Run a loader; on no rows, an unbuilt or unreadable mart, show why and return None."""
    return load_or_hint(what, DEMO_HINT, loader, *args, **kwargs)


def load_or_hint(
    what: str,
    hint: str,
    loader: Callable[P, pd.DataFrame],
    *args: P.args,
    **kwargs: P.kwargs,
) -> pd.DataFrame | None:
    """`load`, saying `hint` (how to get rows) when there are none or the mart is unbuilt."""
    try:
        frame = loader(*args, **kwargs)
    except queries.MartMissingError:
        st.info(NO_DATA.format(what=what, hint=hint), icon=":material/hourglass_empty:")
        return None
    except queries.MartForbiddenError as exc:
        logger.bind(relation=exc.relation).warning("mart not readable by the dashboard role")
        st.warning(
            f"`{exc.relation}` exists but the read-only role `{queries.READER_ROLE}` may not read "
            "it. Run `dbt build` so the marts grant `select` to that role.",
            icon=":material/lock:",
        )
        return None
    except (SQLAlchemyError, psycopg.Error) as exc:
        cause = exc.__cause__ or exc
        logger.bind(what=what, error=str(cause)).error("dashboard query failed")
        st.error(
            f"Could not read {what} from the marts.\n\n"
            f"`{type(cause).__name__}: {str(cause).strip()}`",
            icon=":material/error:",
        )
        return None
    if frame.empty:
        st.info(NO_DATA.format(what=what, hint=hint), icon=":material/hourglass_empty:")
        return None
    return frame


def peek(
    loader: Callable[P, pd.DataFrame], *args: P.args, **kwargs: P.kwargs
) -> pd.DataFrame | None:
    """Run a loader quietly: its rows (possibly none), or None when it cannot be read."""
    try:
        return loader(*args, **kwargs)
    except (queries.MartUnavailableError, SQLAlchemyError, psycopg.Error):
        return None


def refresh() -> None:
    """Forget cached query results so the next run reads the marts again."""
    st.cache_data.clear()
