"""The dashboard in a real browser, served by `streamlit run` over marts built by dbt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from config.database import make_engine

if TYPE_CHECKING:
    from datetime import date

    from tests.dashboard.conftest import BuiltDatabase, Snapshot

pytestmark = pytest.mark.integration


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _max_drawdown_days(snapshots: tuple[Snapshot, ...]) -> tuple[date, date]:
    """The last day at the running peak before the deepest trough, and that trough's first day."""
    peak_equity = snapshots[0].equity
    peak_day = snapshots[0].market_date
    deepest = (0.0, peak_day, peak_day)
    for snapshot in snapshots:
        if snapshot.equity >= peak_equity:
            peak_equity, peak_day = snapshot.equity, snapshot.market_date
        drawdown = snapshot.equity / peak_equity - 1
        if drawdown < deepest[0]:
            deepest = (drawdown, peak_day, snapshot.market_date)
    assert deepest[0] < 0, "the data set never draws down"
    return deepest[1], deepest[2]


def _chart_title(symbol: str, timeframe: str) -> str:
    return f"{symbol} · {timeframe} (New York time)"


def test_overview_shows_account_positions_signals_and_candles(
    built_database: BuiltDatabase, built_app: str, page: Page, tmp_path: Path
) -> None:
    """A user sees equity and cash from the last snapshot, the open position and candles."""
    dataset = built_database.dataset
    page.goto(built_app)

    expect(page).to_have_title("Trading dashboard")
    expect(page.get_by_role("heading", name="Trading overview")).to_be_visible()

    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Equity").get_by_test_id("stMetricValue")).to_have_text(
        _money(dataset.last_equity)
    )
    expect(metrics.filter(has_text="Cash").get_by_test_id("stMetricValue")).to_have_text(
        _money(dataset.last_cash)
    )
    expect(metrics.filter(has_text="Open positions").get_by_test_id("stMetricValue")).to_have_text(
        "1"
    )

    # The data grid draws on a canvas; its cells are in the DOM as the accessible table.
    positions = page.locator(".st-key-positions").get_by_test_id("stDataFrame")
    expect(positions).to_contain_text(dataset.held_symbol)
    expect(positions).not_to_contain_text(dataset.closed_symbol)
    signals = page.locator(".st-key-signals").get_by_test_id("stDataFrame")
    for symbol in dataset.symbols:
        expect(signals).to_contain_text(symbol)

    candles = page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".js-plotly-plot"))
    candles = candles.filter(has=page.locator("g.trace.boxes"))  # Plotly draws candles as boxes
    expect(candles).to_have_count(1)
    expect(candles.locator(".gtitle")).to_have_text(
        _chart_title(dataset.symbols[0], dataset.timeframe)
    )
    expect(candles.locator(".legendtext")).to_contain_text(["SMA 20", "RSI 14"])

    page.get_by_test_id("stSelectbox").filter(has_text="Symbol").click()
    page.get_by_role("option", name="MSFT").click()
    expect(
        page.locator(".gtitle", has_text=_chart_title("MSFT", dataset.timeframe))
    ).to_be_visible()
    expect(candles).to_have_count(1)  # the AAPL chart was replaced, not added to

    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)


def test_risk_decisions_page_lists_decisions_with_reasons(
    built_database: BuiltDatabase, built_app: str, page: Page
) -> None:
    """The second page lists the decisions dbt made, each rejected one with its reason: the
    last bar closed yesterday, so every signal is too old to act on."""
    engine = make_engine(built_database.connection)
    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "select symbol, is_approved, rejection_reason from marts.risk_decisions"
                " order by symbol"
            )
        ).all()
    engine.dispose()
    assert decisions, "the data set should make at least one decision"
    assert {row.rejection_reason for row in decisions} == {"stale_signal"}
    page.goto(built_app)
    page.get_by_role("link", name="Order decisions").click()

    expect(page.get_by_role("heading", name="Order decisions")).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Decisions").get_by_test_id("stMetricValue")).to_have_text(
        str(len(decisions))
    )
    expect(metrics.filter(has_text="Rejected").get_by_test_id("stMetricValue")).to_have_text(
        str(len(decisions))
    )
    table = page.locator(".st-key-decisions").get_by_test_id("stDataFrame")
    for row in decisions:
        expect(table).to_contain_text(row.symbol)
    expect(table).to_contain_text("stale_signal")
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_performance_page_shows_metrics_by_strategy_and_the_daily_charts(
    built_database: BuiltDatabase, built_app: str, page: Page, tmp_path: Path
) -> None:
    """The account's return from the snapshots, the strategy's row with its one trade, and the
    equity, drawdown and exposure charts."""
    dataset = built_database.dataset
    total_return = dataset.last_equity / dataset.snapshots[0].equity - 1
    page.goto(built_app)
    page.get_by_role("link", name="Performance").click()

    expect(page.get_by_role("heading", name="Performance", exact=True)).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Total return").get_by_test_id("stMetricValue")).to_have_text(
        f"{total_return:.2%}"
    )
    expect(metrics.filter(has_text="Closed trades").get_by_test_id("stMetricValue")).to_have_text(
        "1"
    )
    # The grid's accessible table holds raw values: dates read the same either way.
    peak, trough = _max_drawdown_days(dataset.snapshots)
    table = page.locator(".st-key-metrics").get_by_test_id("stDataFrame")
    expect(table).to_contain_text("sma_crossover")
    expect(table).to_contain_text("portfolio")
    expect(table).to_contain_text(f"{peak:%Y-%m-%d}{trough:%Y-%m-%d}")

    charts = page.locator(".st-key-daily").get_by_test_id("stPlotlyChart")
    expect(charts.locator(".js-plotly-plot")).to_have_count(2)
    expect(charts.locator(".legendtext")).to_contain_text(
        ["Equity", "Drawdown", "Gross exposure", "Net exposure"]
    )
    expect(charts.first.locator("g.trace.scatter")).to_have_count(2)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "performance.png"), full_page=True)


def test_empty_database_says_to_run_make_demo(empty_app: str, page: Page) -> None:
    """Before dbt has built anything, each section says how to get data; nothing crashes."""
    page.goto(empty_app)

    expect(page.get_by_role("heading", name="Trading overview")).to_be_visible()
    expect(page.get_by_text("No equity snapshots yet")).to_be_visible()
    expect(page.get_by_text("No positions yet")).to_be_visible()
    expect(page.get_by_text("No signals yet")).to_be_visible()
    expect(page.get_by_text("No bars yet")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)

    page.get_by_role("link", name="Performance").click()
    expect(page.get_by_text("No performance metrics yet")).to_be_visible()
    expect(page.get_by_text("No daily portfolio values yet")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)

    page.get_by_role("link", name="Backtests").click()
    expect(
        page.get_by_text("No backtests yet — run trading backtest --strategy sma_crossover")
    ).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stSelectbox")).to_have_count(0)


def test_unreachable_database_shows_an_error_not_a_traceback(
    unreachable_app: str, page: Page
) -> None:
    """A wrong DATABASE_URL gives one readable error naming what to check, and no page body."""
    page.goto(unreachable_app)

    alert = page.get_by_test_id("stAlertContentError")
    expect(alert).to_contain_text("Cannot connect to the database")
    expect(alert).to_contain_text("DATABASE_URL")
    expect(alert).to_contain_text("does not exist")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_role("heading", name="Trading overview")).to_have_count(0)


def test_database_url_only_in_the_env_file_shows_that_databases_data(
    built_database: BuiltDatabase, page: Page, tmp_path: Path
) -> None:
    """With DATABASE_URL only in `.env` (none in the environment), the dashboard reads that
    database, not the embedded one its TRADING_HOME would start."""
    from tests.dashboard.conftest import streamlit_server

    with streamlit_server(built_database.connection, tmp_path, env_file=True) as url:
        page.goto(url)
        metrics = page.get_by_test_id("stMetric")
        expect(metrics.filter(has_text="Equity").get_by_test_id("stMetricValue")).to_have_text(
            _money(built_database.dataset.last_equity)
        )
    assert not (tmp_path / "home" / "pgdata").exists()
