"""The SQL the dashboard runs: read-only, against `marts.*` only, each returning a DataFrame."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from loguru import logger
from psycopg import errors as pg_errors
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import ProgrammingError

from config.database import make_engine, resolve_connection
from config.settings import Settings

READER_ROLE = "trading_reader"
DEFAULT_BAR_LIMIT = 500
DEFAULT_DECISION_LIMIT = 200


class MartUnavailableError(RuntimeError):
    """A mart cannot be read: not built yet, or not granted to the reader role."""

    def __init__(self, relation: str, reason: str) -> None:
        super().__init__(f"{relation}: {reason}")
        self.relation = relation
        self.reason = reason


class MartMissingError(MartUnavailableError):
    """The mart does not exist yet: dbt has not built it."""


class MartForbiddenError(MartUnavailableError):
    """The mart exists but the read-only role may not read it."""


def _enter_read_only(dbapi_connection: Any, _record: Any) -> None:
    """Switch a new connection to the reader role and read-only transactions, for good."""
    # Autocommit so the SETs are not undone by the rollback that ends the first transaction.
    previous = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"set role {READER_ROLE}")
            cursor.execute("set default_transaction_read_only = on")
    finally:
        dbapi_connection.autocommit = previous


def reader_engine(settings: Settings) -> Engine:
    """An engine whose every connection acts as `trading_reader` in read-only transactions."""
    connection = resolve_connection(settings)
    engine = make_engine(connection)
    event.listen(engine, "connect", _enter_read_only)
    logger.bind(host=connection.host, dbname=connection.dbname, role=READER_ROLE).debug(
        "dashboard engine ready"
    )
    return engine


def _read(
    engine: Engine, relation: str, sql: str, params: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Run one parameterised query, turning a missing or forbidden mart into a typed error."""
    try:
        with engine.connect() as conn:
            result = conn.execute(text(sql), params or {})
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except ProgrammingError as exc:
        if isinstance(exc.orig, pg_errors.UndefinedTable | pg_errors.InvalidSchemaName):
            raise MartMissingError(relation, "not built yet") from exc
        if isinstance(exc.orig, pg_errors.InsufficientPrivilege):
            raise MartForbiddenError(relation, f"not readable by role {READER_ROLE}") from exc
        raise
    return _decimals_to_float(frame)


def _decimals_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Postgres numerics arrive as Decimal; charts and tables want floats."""
    for column in frame.columns:
        values = frame[column].dropna()
        if frame[column].dtype == object and len(values) and isinstance(values.iloc[0], Decimal):
            frame[column] = frame[column].astype("float64")
    return frame


def equity_curve(engine: Engine) -> pd.DataFrame:
    """Account equity and cash over time, oldest first."""
    return _read(
        engine,
        "marts.equity_curve",
        """
        select snapshot_at, equity, cash
        from marts.equity_curve
        order by snapshot_at
        """,
    )


def open_positions(engine: Engine) -> pd.DataFrame:
    """The open position per strategy and symbol, valued at the latest close by the mart."""
    return _read(
        engine,
        "marts.positions",
        """
        select
            positions.strategy,
            positions.symbol,
            positions.qty,
            positions.avg_cost,
            positions.cost_basis,
            positions.last_price,
            positions.market_value,
            positions.unrealized_pl,
            positions.realized_pl,
            positions.fill_count,
            positions.last_filled_at
        from marts.positions as positions
        where positions.is_open
        order by positions.symbol, positions.strategy
        """,
    )


def latest_signals(engine: Engine) -> pd.DataFrame:
    """The most recent signal per strategy, symbol and timeframe."""
    return _read(
        engine,
        "marts.signals",
        """
        select distinct on (strategy, symbol, timeframe)
            strategy, symbol, timeframe, ts, decision_at, signal, strength, target_weight,
            in_position, reference_price
        from marts.signals
        order by strategy, symbol, timeframe, ts desc
        """,
    )


def chart_choices(engine: Engine) -> pd.DataFrame:
    """The symbols and timeframes that have indicator bars, with their bar count and last bar."""
    return _read(
        engine,
        "marts.indicators",
        """
        select symbol, timeframe, count(*) as bars, max(ts) as last_ts
        from marts.indicators
        group by symbol, timeframe
        order by symbol, timeframe
        """,
    )


def bars_with_indicators(
    engine: Engine, symbol: str, timeframe: str, limit: int = DEFAULT_BAR_LIMIT
) -> pd.DataFrame:
    """The last `limit` bars of one symbol and timeframe with their indicators, oldest first."""
    frame = _read(
        engine,
        "marts.indicators",
        """
        select ts, open, high, low, close, volume, sma_20, rsi_14, is_warm
        from marts.indicators
        where symbol = :symbol and timeframe = :timeframe
        order by ts desc
        limit :limit
        """,
        {"symbol": symbol, "timeframe": timeframe, "limit": limit},
    )
    return frame.sort_values("ts", ignore_index=True)


def risk_decisions(engine: Engine, limit: int = DEFAULT_DECISION_LIMIT) -> pd.DataFrame:
    """The most recent order decisions, approved or rejected, newest first."""
    return _read(
        engine,
        "marts.risk_decisions",
        """
        select
            as_of, decision_at, strategy, symbol, timeframe, signal, side, qty,
            reference_price, current_qty, target_qty, is_approved, rejection_reason,
            client_order_id
        from marts.risk_decisions
        order by as_of desc, decision_at desc, symbol
        limit :limit
        """,
        {"limit": limit},
    )


def strategy_performance(engine: Engine) -> pd.DataFrame:
    """The performance metrics of each strategy, then the whole account ('portfolio') last."""
    return _read(
        engine,
        "marts.strategy_performance",
        """
        select
            strategy, start_date, end_date, day_count, starting_equity, ending_equity,
            total_return, cagr, annual_volatility, sharpe_ratio, sortino_ratio, max_drawdown,
            max_drawdown_start_date, max_drawdown_end_date, trade_count, win_rate,
            profit_factor, time_in_market
        from marts.strategy_performance
        order by strategy = 'portfolio', strategy
        """,
    )


def portfolio_daily(engine: Engine) -> pd.DataFrame:
    """The account per trading day, oldest first, with its drawdown from the running peak."""
    # The peak starts at the starting equity, as marts.strategy_performance's max_drawdown does.
    return _read(
        engine,
        "marts.portfolio_daily",
        """
        select
            market_date, snapshot_at, equity, cash, daily_pl, daily_return, gross_exposure,
            net_exposure, gross_exposure_ratio, net_exposure_ratio, position_count,
            equity / nullif(
                greatest(first_value(previous_equity) over running, max(equity) over running), 0
            ) - 1 as drawdown
        from marts.portfolio_daily
        window running as (order by market_date rows between unbounded preceding and current row)
        order by market_date
        """,
    )


def backtest_runs(engine: Engine) -> pd.DataFrame:
    """Every top-level backtest, sweep and walk-forward (not a sweep's chunks or a walk-forward's
    folds), with its headline numbers (null until built; a sweep and a walk-forward have none),
    newest first."""
    return _read(
        engine,
        "marts.backtest_runs",
        """
        select
            run_id, kind, strategy, mode, timeframe, symbols, start_at, end_at, initial_cash,
            objective, status, error, started_at, finished_at, first_bar_at, last_bar_at,
            final_equity, total_return, sharpe_ratio, max_drawdown, trade_count
        from marts.backtest_runs
        where parent_run_id is null
        order by started_at desc, run_id
        """,
    )


def backtest_performance(engine: Engine, run_id: str) -> pd.DataFrame:
    """The one row of metrics of a backtest run (none until it is built)."""
    return _read(
        engine,
        "marts.backtest_performance",
        """
        select
            run_id, strategy, initial_cash, symbol_count, first_bar_at, last_bar_at,
            start_date, end_date, day_count, final_equity, total_return, cagr,
            annual_volatility, sharpe_ratio, sortino_ratio, calmar_ratio, max_drawdown,
            max_drawdown_start_date, max_drawdown_end_date, max_drawdown_duration_days,
            time_underwater, max_bar_drawdown, time_in_market, average_exposure, turnover,
            trade_count, open_trade_count, win_rate, profit_factor, expectancy, average_win,
            average_loss, max_consecutive_losses, fees_paid, rejected_entries,
            buy_and_hold_return, observation_count, daily_sharpe_ratio, skewness, kurtosis,
            probabilistic_sharpe_ratio
        from marts.backtest_performance
        where run_id = cast(:run_id as uuid) and trial = 1
        """,
        {"run_id": run_id},
    )


def backtest_equity(engine: Engine, run_id: str) -> pd.DataFrame:
    """A backtest run's total equity and drawdown at every bar, oldest first, beside buying and
    holding its symbols over the same bars.

    Buy and hold is priced as the run's total is: each symbol's book buys at its first bar's
    open in the window and is carried at its last close; before its first bar it is cash. The
    sum over the symbols of (latest close ÷ first open − 1) is the running sum of each bar's
    change, so one window over the bar starts gives it. Its last value is initial cash ×
    (1 + marts.backtest_performance.buy_and_hold_return).
    """
    return _read(
        engine,
        "marts.backtest_equity",
        """
        with run as (
            select run_id, timeframe, symbols, start_at, end_at, initial_cash
            from marts.backtest_runs
            where run_id = cast(:run_id as uuid)
        ),
        growth as (
            select
                indicators.symbol,
                indicators.ts,
                indicators.close / nullif(first_value(indicators.open) over symbol_bars, 0)
                    as growth
            from marts.indicators as indicators
            inner join run
                on indicators.timeframe = run.timeframe
                and indicators.symbol = any(run.symbols)
                and (run.start_at is null or indicators.ts >= run.start_at)
                and (run.end_at is null or indicators.ts < run.end_at)
            window symbol_bars as (partition by indicators.symbol order by indicators.ts)
        ),
        changes as (
            select ts, growth - coalesce(lag(growth) over symbol_bars, 1) as change
            from growth
            window symbol_bars as (partition by symbol order by ts)
        ),
        buy_and_hold as (
            select
                ts,
                sum(sum(change)) over (order by ts)
                    / (select count(distinct symbol) from growth) as growth
            from changes
            group by ts
        ),
        curve as (
            select
                equity.ts,
                equity.marked_at,
                equity.equity,
                equity.cash,
                equity.position_value,
                equity.exposure,
                equity.peak_equity,
                equity.drawdown,
                run.initial_cash * (1 + buy_and_hold.growth) as buy_and_hold_equity,
                run.initial_cash
            from marts.backtest_equity as equity
            inner join run
                on equity.run_id = run.run_id
            left join buy_and_hold
                on equity.ts = buy_and_hold.ts
            where equity.book = 'total' and equity.trial = 1
        )
        select
            ts, marked_at, equity, cash, position_value, exposure, peak_equity, drawdown,
            buy_and_hold_equity,
            buy_and_hold_equity / greatest(
                initial_cash, max(buy_and_hold_equity) over (order by ts)
            ) - 1 as buy_and_hold_drawdown
        from curve
        order by ts
        """,
        {"run_id": run_id},
    )


def backtest_trades(engine: Engine, run_id: str) -> pd.DataFrame:
    """A backtest run's round trips, open ones included, in entry order."""
    return _read(
        engine,
        "marts.backtest_trades",
        """
        select
            symbol, trade_number, entry_decision_ts, entry_at, entry_price, exit_decision_ts,
            exit_at, exit_price, quantity, fees, pnl, return, bars_held, exit_reason, mae, mfe
        from marts.backtest_trades
        where run_id = cast(:run_id as uuid) and trial = 1
        order by entry_at, symbol
        """,
        {"run_id": run_id},
    )


def backtest_portfolio_decisions(engine: Engine, run_id: str) -> pd.DataFrame:
    """A portfolio-mode run's decisions, as the live risk review made them, in time order."""
    return _read(
        engine,
        "marts.backtest_portfolio_decisions",
        """
        select
            as_of, symbol, side, qty, outcome, rejection_reason, reference_price, equity,
            current_qty, open_positions, max_positions, trading_state
        from marts.backtest_portfolio_decisions
        where run_id = cast(:run_id as uuid)
        order by as_of, symbol
        """,
        {"run_id": run_id},
    )


def backtest_bars(engine: Engine, run_id: str, symbol: str) -> pd.DataFrame:
    """One symbol's bars and indicators in a run's window and timeframe, oldest first."""
    return _read(
        engine,
        "marts.indicators",
        """
        select
            indicators.ts, indicators.open, indicators.high, indicators.low, indicators.close,
            indicators.volume, indicators.sma_20, indicators.rsi_14, indicators.is_warm
        from marts.indicators as indicators
        inner join marts.backtest_runs as runs
            on indicators.timeframe = runs.timeframe
        where
            runs.run_id = cast(:run_id as uuid)
            and indicators.symbol = :symbol
            and (runs.start_at is null or indicators.ts >= runs.start_at)
            and (runs.end_at is null or indicators.ts < runs.end_at)
        order by indicators.ts
        """,
        {"run_id": run_id, "symbol": symbol},
    )


def backtest_sweep(engine: Engine, sweep_id: str) -> pd.DataFrame:
    """A sweep's one summary row: its best trial and the deflated Sharpe ratio."""
    return _read(
        engine,
        "marts.backtest_sweeps",
        """
        select
            sweep_id, strategy, objective, trial_count, best_run_id, best_trial,
            best_parameters, best_objective_value, best_sharpe_ratio,
            best_probabilistic_sharpe_ratio, sharpe_ratio_variance,
            expected_maximum_sharpe_ratio, deflated_sharpe_ratio, is_likely_overfit
        from marts.backtest_sweeps
        where sweep_id = cast(:sweep_id as uuid)
        """,
        {"sweep_id": sweep_id},
    )


def backtest_trials(engine: Engine, sweep_id: str) -> pd.DataFrame:
    """Every trial of a sweep with its parameters (a dict each) and metrics, in trial order."""
    return _read(
        engine,
        "marts.backtest_trials",
        """
        select
            trial, run_id, parameters, objective, objective_value, objective_rank,
            total_return, cagr, annual_volatility, sharpe_ratio, sortino_ratio, calmar_ratio,
            max_drawdown, time_in_market, trade_count, win_rate, profit_factor, expectancy,
            fees_paid, final_equity, probabilistic_sharpe_ratio
        from marts.backtest_trials
        where sweep_id = cast(:sweep_id as uuid)
        order by trial
        """,
        {"sweep_id": sweep_id},
    )


def backtest_walkforward(engine: Engine, run_id: str) -> pd.DataFrame:
    """A walk-forward's one row: the stitched out-of-sample result and its efficiency."""
    return _read(
        engine,
        "marts.backtest_walkforwards",
        """
        select
            run_id, strategy, objective, status, fold_count, initial_cash,
            out_of_sample_final_equity, out_of_sample_return, out_of_sample_cagr,
            out_of_sample_sharpe, out_of_sample_max_drawdown, in_sample_cagr,
            walk_forward_efficiency
        from marts.backtest_walkforwards
        where run_id = cast(:run_id as uuid)
        """,
        {"run_id": run_id},
    )


def backtest_walkforward_folds(engine: Engine, run_id: str) -> pd.DataFrame:
    """A walk-forward's folds in time order: windows, chosen parameters, in and out of sample."""
    return _read(
        engine,
        "marts.backtest_walkforward_folds",
        """
        select
            fold, train_run_id, test_run_id, train_start, train_end, test_start, test_end,
            parameters, objective, in_sample_objective, in_sample_return, in_sample_cagr,
            in_sample_sharpe, out_of_sample_return, out_of_sample_cagr, out_of_sample_sharpe,
            out_of_sample_max_drawdown, out_of_sample_trades
        from marts.backtest_walkforward_folds
        where run_id = cast(:run_id as uuid)
        order by fold
        """,
        {"run_id": run_id},
    )


def backtest_walkforward_equity(engine: Engine, run_id: str) -> pd.DataFrame:
    """A walk-forward's stitched out-of-sample equity per bar, oldest first, with its drawdown
    from the running peak (the initial cash the first peak)."""
    return _read(
        engine,
        "marts.backtest_walkforward_equity",
        """
        select
            fold, ts, marked_at, equity,
            equity / greatest(initial_cash, max(equity) over (order by ts)) - 1 as drawdown
        from marts.backtest_walkforward_equity
        where run_id = cast(:run_id as uuid)
        order by ts
        """,
        {"run_id": run_id},
    )
