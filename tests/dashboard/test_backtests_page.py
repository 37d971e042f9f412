"""The Backtests page in a real browser: a backtest's equity against buy and hold, its metrics
and its trades on the candles; a portfolio run's decisions; a sweep's heatmap and deflated
Sharpe ratio; a walk-forward's folds and stitched curve. Every run was recorded and built by the
research commands' code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import text

from config.database import Connection, make_engine
from tests.dashboard.conftest import MARKET_TZ

if TYPE_CHECKING:
    from tests.dashboard.conftest import BuiltDatabase, Research

pytestmark = pytest.mark.integration


def _rows(connection: Connection, sql: str, **params: object) -> list[dict[str, Any]]:
    """Rows read as the owner, to compare the page with."""
    engine = make_engine(connection)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _money(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _choose(page: Page, label: str, option: str | re.Pattern[str]) -> None:
    """Pick an option of a selectbox."""
    box = page.get_by_role("combobox", name=label)
    # Scrolled first: a scroll while the list is open closes it again.
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option", name=option).first.click()


def _card(container: Locator, label: str) -> Locator:
    return (
        container.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")
    )


def _markers(chart: Locator) -> Locator:
    """The chart's marker points (the candles are boxes; the SMA and RSI lines have none)."""
    return chart.locator("g.trace.scatter g.points path.point")


def test_a_backtest_shows_equity_against_buy_and_hold_its_metrics_and_trades_on_candles(
    built_database: BuiltDatabase, built_app: str, page: Page, tmp_path: Path
) -> None:
    """The newest finished run is chosen: its headline from marts.backtest_performance, equity
    beside buy and hold, the new metrics, and one marker per entry and per exit of the chosen
    symbol's round trips; another symbol redraws them."""
    backtest = built_database.backtest
    connection = built_database.connection
    (performance,) = _rows(
        connection,
        "select * from marts.backtest_performance where run_id = :run_id",
        run_id=backtest.run_id,
    )
    trades = _rows(
        connection,
        "select symbol, exit_reason from marts.backtest_trades where run_id = :run_id",
        run_id=backtest.run_id,
    )
    page.goto(built_app)
    page.get_by_role("link", name="Backtests").click()

    expect(page.get_by_role("heading", name="Backtests", exact=True)).to_be_visible()
    # The grid's accessible table holds the rows (and the columns in view) with raw values.
    runs = page.locator(".st-key-backtest_runs").get_by_test_id("stDataFrame")
    expect(runs.locator("tr")).to_have_count(3)  # the header and the two runs
    expect(runs).to_contain_text(backtest.strategy)
    expect(runs).to_contain_text("backtest")
    expect(runs).to_contain_text("running")
    chooser = page.get_by_role("combobox", name="Run")
    expect(chooser).to_have_value(
        re.compile(f" · backtest · {backtest.strategy} · finished · {backtest.run_id[:8]}$")
    )

    headline = page.locator(".st-key-backtest_headline")
    expect(_card(headline, "Final equity")).to_have_text(_money(float(performance["final_equity"])))
    expect(_card(headline, "Total return")).to_have_text(f"{performance['total_return']:.2%}")
    expect(_card(headline, "Buy and hold")).to_have_text(
        f"{performance['buy_and_hold_return']:.2%}"
    )
    expect(_card(headline, "Closed trades")).to_have_text(str(performance["trade_count"]))

    equity = page.locator(".st-key-backtest_equity").get_by_test_id("stPlotlyChart")
    expect(equity.locator(".legendtext")).to_have_text(["Equity", "Buy and hold", "Drawdown"])

    tables = page.locator(".st-key-backtest_metrics")
    risk = tables.locator(".st-key-backtest_metrics_risk").get_by_test_id("stDataFrame")
    expect(risk).to_contain_text(f"Time underwater{performance['time_underwater']:.2%}")
    expect(risk).to_contain_text(f"Turnover{performance['turnover']:.2f}")
    trading = tables.locator(".st-key-backtest_metrics_trades").get_by_test_id("stDataFrame")
    expect(trading).to_contain_text(f"Max losing streak{performance['max_consecutive_losses']}")
    expect(trading).to_contain_text(f"Expectancy{_money(float(performance['expectancy']))}")
    returns = tables.locator(".st-key-backtest_metrics_returns").get_by_test_id("stDataFrame")
    expect(returns).to_contain_text(f"PSR (SR > 0){performance['probabilistic_sharpe_ratio']:.2%}")

    # Each symbol's markers: an entry per round trip, an exit per closed one.
    candles = page.locator(".st-key-backtest_candles").get_by_test_id("stPlotlyChart")
    traded = [s for s in backtest.symbols if any(t["symbol"] == s for t in trades)]
    assert len(traded) >= 2, "the data set should trade two symbols at least"
    for position, symbol in enumerate(traded):
        if position:
            _choose(page, "Symbol", symbol)
        mine = [t for t in trades if t["symbol"] == symbol]
        closed = [t for t in mine if t["exit_reason"] != "open"]
        # While the page reruns, the previous symbol's chart stays until the new one is drawn.
        title = candles.locator(".gtitle", has_text=f"{symbol} · 1Hour (New York time)")
        expect(title).to_be_visible()
        expect(candles).to_have_count(1)
        expect(candles.locator("g.trace.boxes")).to_have_count(1)
        expect(_markers(candles)).to_have_count(len(mine) + len(closed))
        expect(
            candles.locator(".legendtext").filter(has_text=re.compile("^Entry"))
        ).not_to_have_count(0)
    table = page.locator(".st-key-backtest_trades").get_by_test_id("stDataFrame")
    expect(table.locator("tr")).to_have_count(len(trades) + 1)  # and the header row
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "backtest.png"), full_page=True)

    _choose(page, "Run", re.compile(backtest.running_run_id[:8]))
    expect(page.get_by_text("This backtest is running")).to_be_visible()
    expect(page.locator(".st-key-backtest_trades")).to_have_count(0)


def test_research_runs_are_listed_without_their_chunks_and_folds(
    research: Research, research_app: str, page: Page
) -> None:
    """The walk-forward made a sweep and a backtest per fold; only it, the sweep and the
    portfolio backtest are listed."""
    recorded = _rows(research.connection, "select kind, parent_run_id from raw.backtest_runs")
    assert len([r for r in recorded if r["parent_run_id"] is not None]) == 4  # two folds × two
    page.goto(f"{research_app}backtests")

    runs = page.locator(".st-key-backtest_runs").get_by_test_id("stDataFrame")
    expect(runs.locator("tr")).to_have_count(4)  # the header, the three runs
    expect(runs).to_contain_text("sweep")
    expect(runs).to_contain_text("walkforward")
    expect(page.get_by_role("combobox", name="Run")).to_have_value(
        re.compile(f" · backtest · .* · {research.portfolio_id[:8]}$")  # the newest
    )
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_sweep_shows_a_heatmap_cell_per_grid_point_its_deflated_sharpe_and_every_trial(
    research: Research, research_app: str, page: Page, tmp_path: Path
) -> None:
    """One labelled cell per trial with its objective value, the best one ringed; another metric
    relabels them; the deflated Sharpe ratio with its warning; every trial in the table."""
    (sweep,) = _rows(
        research.connection,
        "select * from marts.backtest_sweeps where sweep_id = :id",
        id=research.sweep_id,
    )
    trials = _rows(
        research.connection,
        "select * from marts.backtest_trials where sweep_id = :id order by trial",
        id=research.sweep_id,
    )
    grid = {(t["parameters"]["oversold"], t["parameters"]["exit_above"]) for t in trials}
    assert len(trials) == len(grid) == 12  # the 4 × 3 grid
    page.goto(f"{research_app}backtests")
    _choose(page, "Run", re.compile(" · sweep · "))

    summary = page.locator(".st-key-sweep_summary")
    expect(_card(summary, "Trials")).to_have_text("12")
    expect(_card(summary, "Deflated Sharpe ratio")).to_have_text(
        f"{sweep['deflated_sharpe_ratio']:.2f}"
    )
    oversold, exit_above = (sweep["best_parameters"][n] for n in ("oversold", "exit_above"))
    expect(summary).to_contain_text(f"oversold={oversold:g}, exit_above={exit_above:g}")
    warning = summary.get_by_test_id("stAlertContentWarning")
    expect(warning).to_have_count(1 if sweep["is_likely_overfit"] else 0)
    if sweep["is_likely_overfit"]:
        expect(warning).to_contain_text("Likely overfit")

    heatmap = page.locator(".st-key-sweep_heatmap").get_by_test_id("stPlotlyChart")
    labels = heatmap.locator("g.heatmap-label text")
    expect(labels).to_have_count(len(grid))
    # Rows bottom-up by exit_above, each row left to right by oversold, as Plotly draws them.
    by_cell = sorted(
        trials, key=lambda t: (t["parameters"]["exit_above"], t["parameters"]["oversold"])
    )
    expect(labels).to_have_text([f"{t['objective_value']:.2%}" for t in by_cell])
    expect(heatmap.locator("g.trace.scatter g.points path.point")).to_have_count(1)  # the ring

    _choose(page, "Metric", "Trades")
    expect(labels).to_have_text([f"{t['trade_count']:,d}" for t in by_cell])

    table = page.locator(".st-key-sweep_trials").get_by_test_id("stDataFrame")
    expect(table.locator("tr")).to_have_count(len(trials) + 1)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)


def test_a_walkforward_shows_its_folds_the_stitched_curve_and_its_efficiency(
    research: Research, research_app: str, page: Page, tmp_path: Path
) -> None:
    """The efficiency and out-of-sample return from marts.backtest_walkforwards; one table row
    per fold with its windows, chosen parameters and in-sample objective; the stitched curve
    with each fold's start marked."""
    (result,) = _rows(
        research.connection,
        "select * from marts.backtest_walkforwards where run_id = :id",
        id=research.walkforward_id,
    )
    folds = _rows(
        research.connection,
        "select * from marts.backtest_walkforward_folds where run_id = :id order by fold",
        id=research.walkforward_id,
    )
    assert len(folds) == result["fold_count"] == 2
    page.goto(f"{research_app}backtests")
    _choose(page, "Run", re.compile(" · walkforward · "))

    summary = page.locator(".st-key-walkforward_summary")
    expect(_card(summary, "Walk-forward efficiency")).to_have_text(
        f"{result['walk_forward_efficiency']:.2f}"
    )
    expect(_card(summary, "Out-of-sample return")).to_have_text(
        f"{result['out_of_sample_return']:.2%}"
    )

    table = page.locator(".st-key-walkforward_folds").get_by_test_id("stDataFrame")
    expect(table.locator("tr")).to_have_count(len(folds) + 1)
    # The accessible table holds raw values: New York timestamps, parameters, the objective.
    for fold in folds:
        train_from = fold["train_start"].astimezone(MARKET_TZ).isoformat(sep=" ")
        test_from = fold["test_start"].astimezone(MARKET_TZ).isoformat(sep=" ")
        parameters = fold["parameters"]
        expect(table).to_contain_text(f"{fold['fold']}{train_from}{test_from}")
        expect(table).to_contain_text(
            f"{parameters['oversold']:g}{parameters['exit_above']:g}{fold['in_sample_objective']!r}"
        )

    chart = page.locator(".st-key-walkforward_equity").get_by_test_id("stPlotlyChart")
    expect(chart.locator(".annotation-text")).to_have_text(["Fold 1", "Fold 2"])
    expect(chart.locator(".legendtext")).to_have_text(["Equity", "Drawdown"])
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "walkforward.png"), full_page=True)


def test_a_portfolio_backtest_shows_every_decision_and_how_many_of_each(
    research: Research, research_app: str, page: Page, tmp_path: Path
) -> None:
    """A count per outcome or rejection reason of marts.backtest_portfolio_decisions, and the
    decisions in time order."""
    decisions = _rows(
        research.connection,
        "select coalesce(rejection_reason, outcome) as decision"
        " from marts.backtest_portfolio_decisions where run_id = :id",
        id=research.portfolio_id,
    )
    assert decisions, "the portfolio run should have decided something"
    counts: dict[str, int] = {}
    for row in decisions:
        counts[row["decision"]] = counts.get(row["decision"], 0) + 1
    page.goto(f"{research_app}backtests")
    _choose(page, "Run", re.compile(research.portfolio_id[:8]))

    section = page.locator(".st-key-backtest_decisions")
    expect(section.get_by_text("Decisions", exact=True)).to_be_visible()
    tables = section.get_by_test_id("stDataFrame")
    expect(tables).to_have_count(2)
    expect(tables.nth(0).locator("tr")).to_have_count(len(counts) + 1)
    for decision, count in counts.items():
        expect(tables.nth(0)).to_contain_text(f"{decision}{count}")
    # The decisions table draws the rows in view (a virtual grid): the first ones are there.
    first = _rows(
        research.connection,
        "select symbol, side, coalesce(rejection_reason, outcome) as decision"
        " from marts.backtest_portfolio_decisions where run_id = :id"
        " order by as_of, symbol limit 1",
        id=research.portfolio_id,
    )[0]
    expect(tables.nth(1).locator("tr").nth(1)).to_contain_text(first["symbol"])
    expect(tables.nth(1).locator("tr").nth(1)).to_contain_text(first["decision"])
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "portfolio.png"), full_page=True)
