"""The dashboard's SQL: read-only as `trading_reader`, and right about the marts dbt built."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from config.database import Connection, make_engine
from config.settings import Settings
from dashboard import queries
from strategies.spec import load_specs
from tests.dashboard.conftest import MARKET_TZ

if TYPE_CHECKING:
    from tests.dashboard.conftest import BuiltDatabase, Research

pytestmark = pytest.mark.integration


def _settings(connection: Connection) -> Settings:
    url = connection.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return Settings(database_url=url)


@pytest.fixture
def reader(fresh_database: Connection) -> Iterator[Engine]:
    """The dashboard's engine on a fresh (unbuilt) database."""
    engine = queries.reader_engine(_settings(fresh_database))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def built_reader(built_database: BuiltDatabase) -> Iterator[Engine]:
    """The dashboard's engine on the database dbt built."""
    engine = queries.reader_engine(_settings(built_database.connection))
    yield engine
    engine.dispose()


def test_reader_connects_as_trading_reader_in_read_only_mode(reader: Engine) -> None:
    """Every session is the reader role, with read-only transactions, even after a rollback."""
    for _ in range(2):
        with reader.connect() as conn:
            assert conn.execute(text("select current_user")).scalar() == "trading_reader"
            assert conn.execute(text("show transaction_read_only")).scalar() == "on"
            conn.rollback()


def test_reader_refuses_create_table(reader: Engine) -> None:
    """DDL fails: the session is read-only."""
    with pytest.raises(DBAPIError) as error, reader.begin() as conn:
        conn.execute(text("create table public.dashboard_was_here (id int)"))
    assert isinstance(error.value.orig, psycopg.errors.ReadOnlySqlTransaction)


def test_reader_refuses_insert_into_raw(reader: Engine) -> None:
    """The role cannot even reach the raw schema."""
    with pytest.raises(DBAPIError) as error, reader.begin() as conn:
        conn.execute(
            text(
                "insert into raw.account_snapshots (snapshot_at, account_id, status, cash, "
                "equity, payload) values (now(), 'X', 'ACTIVE', 1, 1, '{}'::jsonb)"
            )
        )
    assert isinstance(error.value.orig, psycopg.errors.InsufficientPrivilege)


def test_reader_refuses_insert_into_a_mart_it_can_read(built_reader: Engine) -> None:
    """On the marts it may read, a write fails as a read-only transaction and changes nothing."""
    with built_reader.connect() as conn:
        before = conn.execute(text("select count(*) from marts.positions")).scalar()
    with pytest.raises(DBAPIError) as error, built_reader.begin() as conn:
        conn.execute(text("insert into marts.positions (symbol, qty) values ('EVIL', 1)"))
    assert isinstance(error.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    with built_reader.connect() as conn:
        assert conn.execute(text("select count(*) from marts.positions")).scalar() == before


def test_reader_role_cannot_write_even_in_a_read_write_transaction(reader: Engine) -> None:
    """Asking for a read-write transaction does not help: the role itself has no write grant."""
    with pytest.raises(DBAPIError) as error, reader.begin() as conn:
        conn.execute(text("set transaction read write"))
        conn.execute(text("delete from raw.fills"))
    assert isinstance(error.value.orig, psycopg.errors.InsufficientPrivilege)


def test_unbuilt_marts_raise_mart_missing(reader: Engine) -> None:
    """Before dbt runs, each query says its mart is missing rather than failing obscurely."""
    for query in (
        queries.equity_curve,
        queries.open_positions,
        queries.latest_signals,
        queries.chart_choices,
        queries.risk_decisions,
        queries.strategy_performance,
        queries.portfolio_daily,
        queries.backtest_runs,
    ):
        with pytest.raises(queries.MartMissingError):
            query(reader)
    any_run = "00000000-0000-0000-0000-000000000000"
    for run_query in (
        queries.backtest_performance,
        queries.backtest_equity,
        queries.backtest_trades,
        queries.backtest_sweep,
        queries.backtest_trials,
        queries.backtest_walkforward,
        queries.backtest_walkforward_folds,
        queries.backtest_walkforward_equity,
    ):
        with pytest.raises(queries.MartMissingError):
            run_query(reader, any_run)
    with pytest.raises(queries.MartMissingError):
        queries.backtest_bars(reader, any_run, "AAPL")


def test_ungranted_mart_raises_mart_forbidden(fresh_database: Connection, reader: Engine) -> None:
    """A mart the reader role may not read is reported as forbidden, not as missing."""
    owner = make_engine(fresh_database)
    with owner.begin() as conn:
        conn.execute(text("create schema marts"))
        conn.execute(text("create table marts.equity_curve (snapshot_at timestamptz)"))
    owner.dispose()
    with pytest.raises(queries.MartForbiddenError) as error:
        queries.equity_curve(reader)
    assert error.value.relation == "marts.equity_curve"


def test_equity_curve_is_the_account_snapshots_oldest_first(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """The last point of the curve is the last snapshot, as floats ready to chart."""
    curve = queries.equity_curve(built_reader)
    assert curve["snapshot_at"].is_monotonic_increasing
    assert curve["equity"].iloc[-1] == pytest.approx(built_database.dataset.last_equity)
    assert curve["cash"].iloc[-1] == pytest.approx(built_database.dataset.last_cash)
    assert curve["equity"].dtype == "float64"


def test_open_positions_lists_only_the_held_symbol_valued_at_the_last_close(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """AAPL (bought, still held) appears with its cost and value; MSFT (bought, sold) does not."""
    dataset = built_database.dataset
    positions = queries.open_positions(built_reader)
    assert positions["symbol"].tolist() == [dataset.held_symbol]
    row = positions.iloc[0]
    (buy,) = [fill for fill in dataset.fills if fill.symbol == dataset.held_symbol]
    assert row["qty"] == buy.qty
    assert row["avg_cost"] == pytest.approx(buy.price)
    last_close = dataset.last_close[dataset.held_symbol]
    assert row["last_price"] == pytest.approx(last_close)
    assert row["unrealized_pl"] == pytest.approx(buy.qty * (last_close - buy.price))


def test_latest_signals_has_one_row_per_symbol_at_the_last_bar(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """Each strategy's latest signal per symbol is the one for the symbol's last bar."""
    signals = queries.latest_signals(built_reader)
    strategies = sorted(spec.name for spec in load_specs())
    assert sorted(zip(signals["strategy"], signals["symbol"], strict=True)) == [
        (strategy, symbol)
        for strategy in strategies
        for symbol in sorted(built_database.dataset.symbols)
    ]
    assert (signals["ts"] == built_database.dataset.last_bar_at).all()


def test_bars_with_indicators_returns_the_latest_bars_oldest_first(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """The chart's bars end at the last bar, ascend, and carry warm indicators by the end."""
    dataset = built_database.dataset
    bars = queries.bars_with_indicators(built_reader, "SPY", dataset.timeframe, limit=25)
    assert len(bars) == 25
    assert bars["ts"].is_monotonic_increasing
    assert bars["ts"].iloc[-1] == dataset.last_bar_at
    assert bars["close"].iloc[-1] == pytest.approx(dataset.last_close["SPY"])
    assert bars["is_warm"].iloc[-1]
    assert 0 <= bars["rsi_14"].iloc[-1] <= 100


def test_chart_choices_offer_every_symbol_and_timeframe(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """The symbol picker offers exactly the symbols that have bars."""
    choices = queries.chart_choices(built_reader)
    assert sorted(choices["symbol"]) == sorted(built_database.dataset.symbols)
    assert set(choices["timeframe"]) == {built_database.dataset.timeframe}


def _drawdowns(equities: list[float]) -> list[float]:
    """Equity over its running peak, minus one; the first equity is the first peak."""
    peak = equities[0]
    drawdowns = []
    for equity in equities:
        peak = max(peak, equity)
        drawdowns.append(equity / peak - 1)
    return drawdowns


def test_portfolio_daily_is_the_last_snapshot_of_each_session_with_its_exposure(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """One row per session: the snapshot's equity and cash, the broker's positions' value as
    exposure, and the drawdown from the running peak."""
    snapshots = built_database.dataset.snapshots
    daily = queries.portfolio_daily(built_reader)
    assert daily["market_date"].tolist() == [snapshot.market_date for snapshot in snapshots]
    assert daily["equity"].tolist() == pytest.approx([snapshot.equity for snapshot in snapshots])
    assert daily["cash"].tolist() == pytest.approx([snapshot.cash for snapshot in snapshots])
    long_values = [sum(snapshot.market_values.values()) for snapshot in snapshots]
    assert daily["gross_exposure"].tolist() == pytest.approx(long_values)
    assert daily["net_exposure"].tolist() == pytest.approx(long_values)
    assert daily["position_count"].tolist() == [len(snapshot.positions) for snapshot in snapshots]
    assert max(long_values) > 0, "the data set never holds a position"
    assert daily["drawdown"].tolist() == pytest.approx(
        _drawdowns([snapshot.equity for snapshot in snapshots])
    )


def test_strategy_performance_has_the_traded_strategy_then_the_portfolio(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """The fills' strategy and the account, each with the closed MSFT round trip as its one
    trade, ending at the last snapshot's equity; the account's return is the snapshots'."""
    dataset = built_database.dataset
    metrics = queries.strategy_performance(built_reader).set_index("strategy")
    assert metrics.index.tolist() == ["sma_crossover", "portfolio"]

    (buy,) = [f for f in dataset.fills if f.symbol == dataset.closed_symbol and f.side == "buy"]
    (sell,) = [f for f in dataset.fills if f.symbol == dataset.closed_symbol and f.side == "sell"]
    won = sell.price > buy.price
    first_fill_day = min(fill.at for fill in dataset.fills).astimezone(MARKET_TZ).date()
    for strategy in ("sma_crossover", "portfolio"):
        row = metrics.loc[strategy]
        assert row["trade_count"] == 1
        assert row["win_rate"] == (1.0 if won else 0.0)
        # All fills are the one strategy's, marked at the same closes as the snapshots.
        assert row["ending_equity"] == pytest.approx(dataset.last_equity)
        assert row["end_date"] == dataset.snapshots[-1].market_date
    assert metrics.loc["sma_crossover", "start_date"] == first_fill_day

    account = metrics.loc["portfolio"]
    first, last = dataset.snapshots[0], dataset.snapshots[-1]
    assert account["start_date"] == first.market_date
    assert account["day_count"] == len(dataset.snapshots)
    assert account["starting_equity"] == pytest.approx(first.equity)
    assert account["total_return"] == pytest.approx(last.equity / first.equity - 1)
    assert account["max_drawdown"] == pytest.approx(
        min(_drawdowns([snapshot.equity for snapshot in dataset.snapshots]))
    )
    fill_days = {fill.at.astimezone(MARKET_TZ).date() for fill in dataset.fills}
    in_market = [s for s in dataset.snapshots if s.positions or s.market_date in fill_days]
    assert account["time_in_market"] == pytest.approx(len(in_market) / len(dataset.snapshots))


def test_backtest_runs_lists_the_built_run_with_its_headline_numbers(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """Newest first: the run still building (no numbers yet), then the finished run with its
    strategy, symbols and the numbers of its performance row."""
    backtest = built_database.backtest
    runs = queries.backtest_runs(built_reader)
    assert [str(run_id) for run_id in runs["run_id"]] == [backtest.running_run_id, backtest.run_id]
    assert runs.iloc[0]["status"] == "running"
    assert runs.iloc[0][["final_equity", "trade_count"]].isna().all()
    run = runs.iloc[1]
    assert run["kind"] == "backtest"
    assert run["strategy"] == backtest.strategy
    assert tuple(run["symbols"]) == backtest.symbols
    assert run["status"] == "finished"
    metrics = queries.backtest_performance(built_reader, backtest.run_id).iloc[0]
    assert run["final_equity"] == metrics["final_equity"]
    assert run["trade_count"] == metrics["trade_count"]


def test_backtest_equity_ends_at_the_initial_cash_plus_every_trades_pnl(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """The run's total book (the average of its symbols' books), oldest first: it starts from
    the initial cash, ends at the performance row's final equity, which is the cash plus the P&L
    of every round trip (open ones marked) spread over the books, and its drawdown is from the
    running peak."""
    backtest = built_database.backtest
    trades = queries.backtest_trades(built_reader, backtest.run_id)
    equity = queries.backtest_equity(built_reader, backtest.run_id)
    metrics = queries.backtest_performance(built_reader, backtest.run_id)
    assert len(metrics) == 1
    assert (trades["exit_reason"] == "signal").sum() == metrics.iloc[0]["trade_count"] > 0
    assert set(trades["symbol"]) <= set(backtest.symbols)
    assert trades["entry_at"].is_monotonic_increasing
    books = metrics.iloc[0]["symbol_count"]
    final_equity = backtest.initial_cash + trades["pnl"].sum() / books
    assert metrics.iloc[0]["final_equity"] == pytest.approx(final_equity)
    assert equity["ts"].is_monotonic_increasing and equity["ts"].is_unique
    assert equity["equity"].iloc[-1] == pytest.approx(final_equity)
    peaks = equity["equity"].cummax().clip(lower=backtest.initial_cash)
    assert equity["drawdown"].tolist() == pytest.approx((equity["equity"] / peaks - 1).tolist())


def test_backtest_queries_of_an_unknown_run_return_no_rows(built_reader: Engine) -> None:
    """A run id that is not in the marts (say, a run still building) reads as empty."""
    unknown = "00000000-0000-0000-0000-000000000000"
    assert queries.backtest_performance(built_reader, unknown).empty
    assert queries.backtest_equity(built_reader, unknown).empty
    assert queries.backtest_trades(built_reader, unknown).empty


def test_buy_and_hold_beside_the_equity_ends_at_the_runs_buy_and_hold_return(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """At every bar of the run's equity, buying and holding its symbols in equal amounts: it
    starts near the initial cash, ends at initial cash × (1 + buy_and_hold_return), and its
    drawdown is from its running peak (the initial cash the first)."""
    backtest = built_database.backtest
    equity = queries.backtest_equity(built_reader, backtest.run_id)
    performance = queries.backtest_performance(built_reader, backtest.run_id).iloc[0]
    held = equity["buy_and_hold_equity"]
    assert held.notna().all()
    assert held.iloc[-1] == pytest.approx(
        backtest.initial_cash * (1 + performance["buy_and_hold_return"]), rel=1e-12
    )
    assert abs(held.iloc[0] / backtest.initial_cash - 1) < 0.02  # one bar's move
    peaks = held.cummax().clip(lower=backtest.initial_cash)
    assert equity["buy_and_hold_drawdown"].tolist() == pytest.approx((held / peaks - 1).tolist())


def test_backtest_bars_are_the_symbols_bars_in_the_runs_window(
    built_database: BuiltDatabase, built_reader: Engine
) -> None:
    """Every entry and exit of a symbol's round trips is one of the bars the chart draws."""
    backtest = built_database.backtest
    trades = queries.backtest_trades(built_reader, backtest.run_id)
    symbol = trades["symbol"].iloc[0]
    bars = queries.backtest_bars(built_reader, backtest.run_id, symbol)
    assert bars["ts"].is_monotonic_increasing and bars["ts"].is_unique
    mine = trades.loc[trades["symbol"] == symbol]
    closed = mine.loc[mine["exit_reason"] != "open"]
    assert set(mine["entry_at"]) | set(closed["exit_at"]) <= set(bars["ts"])
    assert queries.backtest_bars(built_reader, backtest.run_id, "NOPE").empty


@pytest.fixture(scope="session")
def research_reader(research: Research) -> Iterator[Engine]:
    """The dashboard's engine on the database with the sweep and the walk-forward."""
    engine = queries.reader_engine(_settings(research.connection))
    yield engine
    engine.dispose()


def test_backtest_runs_leave_out_the_runs_a_sweep_or_walkforward_made(
    research: Research, research_reader: Engine
) -> None:
    """The portfolio backtest, the sweep and the walk-forward, newest first: not the folds'
    sweeps and test backtests. A sweep and a walk-forward have no headline numbers."""
    runs = queries.backtest_runs(research_reader)
    assert [(str(r.run_id), r.kind) for r in runs.itertuples()] == [
        (research.portfolio_id, "backtest"),
        (research.sweep_id, "sweep"),
        (research.walkforward_id, "walkforward"),
    ]
    assert runs.iloc[0]["mode"] == "portfolio" and runs.iloc[0]["final_equity"] > 0
    headline = runs.iloc[1:][["final_equity", "total_return", "trade_count"]]
    assert headline.isna().all().all()


def test_a_portfolio_runs_decisions_are_its_record_in_time_order(
    research: Research, research_reader: Engine
) -> None:
    """Every decision of the replay, oldest first, each with its outcome and, when rejected,
    the first reason."""
    decisions = queries.backtest_portfolio_decisions(research_reader, research.portfolio_id)
    assert not decisions.empty
    assert decisions["as_of"].is_monotonic_increasing
    assert set(decisions["outcome"]) <= {"approved", "reduced", "rejected"}
    rejected = decisions["outcome"] == "rejected"
    assert decisions.loc[rejected, "rejection_reason"].notna().all()
    assert decisions.loc[~rejected, "rejection_reason"].isna().all()
    assert queries.backtest_portfolio_decisions(research_reader, research.sweep_id).empty


def test_a_sweeps_trials_carry_their_parameters_and_rank(
    research: Research, research_reader: Engine
) -> None:
    """Every grid point once, its parameters a dict, the summary's best trial ranked first."""
    (sweep,) = queries.backtest_sweep(research_reader, research.sweep_id).itertuples()
    trials = queries.backtest_trials(research_reader, research.sweep_id)
    points = {(p["oversold"], p["exit_above"]) for p in trials["parameters"]}
    assert points == {(o, e) for o in (30, 35, 40, 45) for e in (55, 60, 65)}
    assert len(trials) == sweep.trial_count == 12
    best = trials.loc[trials["objective_rank"] == 1].iloc[0]
    assert best["trial"] == sweep.best_trial
    assert best["parameters"] == sweep.best_parameters
    assert best["objective_value"] == trials["total_return"].max()


def test_a_walkforwards_stitched_equity_draws_down_from_its_running_peak(
    research: Research, research_reader: Engine
) -> None:
    """The folds one after another; the drawdown from the running peak, the cash the first;
    the last bar's equity is the walk-forward's out-of-sample final equity."""
    (result,) = queries.backtest_walkforward(research_reader, research.walkforward_id).itertuples()
    folds = queries.backtest_walkforward_folds(research_reader, research.walkforward_id)
    equity = queries.backtest_walkforward_equity(research_reader, research.walkforward_id)
    assert folds["fold"].tolist() == [1, 2] == sorted(equity["fold"].unique())
    assert equity["ts"].is_monotonic_increasing and equity["fold"].is_monotonic_increasing
    assert equity["equity"].iloc[-1] == pytest.approx(result.out_of_sample_final_equity)
    peaks = equity["equity"].cummax().clip(lower=float(result.initial_cash))
    assert equity["drawdown"].tolist() == pytest.approx((equity["equity"] / peaks - 1).tolist())
    # Bar by bar it goes at least as deep as between the daily closes the mart measures.
    assert equity["drawdown"].min() <= result.out_of_sample_max_drawdown + 1e-12
