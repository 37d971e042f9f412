"""`trading walkforward`: choose on each training window, trade the choice on the next window.

Each fold is two runs under one walk-forward run: a sweep over its training window (the grid,
ranked by the objective) and a backtest of the best trial over its test window, which starts
where the training window ends. Windows are counted in the trading days of the landed bars;
test windows follow each other without overlap and only whole ones are used. A fold's choice
reads nothing after its training window: the sweep's bars end there, and the signals are
point in time. The folds and the stitched out-of-sample curve are marts.backtest_walkforward_*.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from config.database import Connection
from config.settings import Settings
from flows.backtest import (
    BacktestInputError,
    BacktestRequest,
    RunKind,
    build_run,
    build_vars,
    finish,
    plain,
    record_run,
)
from flows.sweep import SweepPlan, SweepRequest, plan_sweep, run_sweep

NEW_YORK = ZoneInfo("America/New_York")
# The longest indicator look-back (sma_50): a training window shorter than this has no signal.
WARMUP_BARS = 50


@dataclass(frozen=True)
class WalkForwardRequest:
    """A grid chosen on `train` trading days, traded on the next `test` days, fold by fold."""

    backtest: BacktestRequest
    grid: str | None
    train: str
    test: str
    anchored: bool = False
    objective: str = "sharpe"


@dataclass(frozen=True)
class Fold:
    """One fold's windows: [train_start, train_end) then [test_start = train_end, test_end)."""

    number: int
    train_start: datetime
    train_end: datetime
    test_end: datetime


def parse_days(value: str, option: str) -> int:
    """`120d` (or `120`) trading days; anything else is refused, naming the option."""
    match = re.fullmatch(r"\s*(\d+)\s*d?\s*", value)
    if not match or int(match.group(1)) < 1:
        raise BacktestInputError(f"{option} {value!r} must be a number of trading days, e.g. 20d")
    return int(match.group(1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=NEW_YORK)


def plan_folds(days: list[date], train: int, test: int, anchored: bool) -> list[Fold]:
    """The folds over these trading days: test windows back to back after the first training
    window, each training window the `train` days before its test (from the first day when
    anchored); a last partial test window is left out."""
    folds = []
    number = 0
    while train + (number + 1) * test <= len(days):
        test_start = train + number * test
        folds.append(
            Fold(
                number + 1,
                _midnight(days[0 if anchored else test_start - train]),
                _midnight(days[test_start]),
                _midnight(days[test_start + test - 1] + timedelta(days=1)),
            )
        )
        number += 1
    return folds


def _trading_days(engine: Engine, plan: SweepPlan, request: BacktestRequest) -> list[date]:
    with engine.connect() as conn:
        return [
            date.fromisoformat(str(day))
            for (day,) in conn.execute(
                text(
                    "select distinct cast(ts at time zone 'America/New_York' as date) as day"
                    " from raw.bars where timeframe = :tf and symbol = any(:symbols)"
                    " and (cast(:start as timestamptz) is null or ts >= :start)"
                    " and (cast(:end as timestamptz) is null or ts < :end) order by day"
                ),
                {
                    "tf": plan.spec.timeframe,
                    "symbols": plan.symbols,
                    "start": request.start,
                    "end": request.end,
                },
            )
        ]


def _check_warmup(engine: Engine, plan: SweepPlan, fold: Fold, train: str) -> None:
    """Refuse a training window with fewer bars than the indicators need to warm up."""
    with engine.connect() as conn:
        fewest = conn.execute(
            text(
                "select symbol, count(*) as bars from raw.bars where timeframe = :tf"
                " and symbol = any(:symbols) and ts >= :start and ts < :end"
                " group by symbol order by bars, symbol limit 1"
            ),
            {
                "tf": plan.spec.timeframe,
                "symbols": plan.symbols,
                "start": fold.train_start,
                "end": fold.train_end,
            },
        ).one_or_none()
    if fewest is None or fewest.bars < WARMUP_BARS:
        bars, symbol = (fewest.bars, fewest.symbol) if fewest else (0, plan.symbols[0])
        raise BacktestInputError(
            f"--train {train}: {bars} {plan.spec.timeframe} bars of {symbol} in the first"
            f" training window, fewer than the indicators' {WARMUP_BARS}-bar warm-up"
        )


def plan_walkforward(engine: Engine, request: WalkForwardRequest) -> tuple[SweepPlan, list[Fold]]:
    """Check everything before anything is recorded; the sweep plan and the folds."""
    train = parse_days(request.train, "--train")
    test = parse_days(request.test, "--test")
    plan = plan_sweep(engine, SweepRequest(request.backtest, request.grid, request.objective))
    days = _trading_days(engine, plan, request.backtest)
    folds = plan_folds(days, train, test, request.anchored)
    if not folds:
        raise BacktestInputError(
            f"--train {request.train} and --test {request.test} need {train + test} trading days;"
            f" the window has {len(days)}"
        )
    _check_warmup(engine, plan, folds[0], request.train)
    return plan, folds


def run_walkforward(
    settings: Settings, connection: Connection, engine: Engine, request: WalkForwardRequest
) -> dict[str, Any]:
    """Check, record and run every fold; return the folds and the stitched result."""
    plan, folds = plan_walkforward(engine, request)
    run_id = record_run(
        engine,
        request.backtest,
        plan.spec,
        plan.symbols,
        settings,
        [],
        RunKind("walkforward", plan.objective),
    )
    specs = build_vars(plan.specs, plan.spec)
    try:
        for fold in folds:
            fold_kind = RunKind("sweep", plan.objective, run_id, fold.number)
            training = replace(request.backtest, start=fold.train_start, end=fold.train_end)
            chosen = run_sweep(
                settings,
                connection,
                engine,
                SweepRequest(training, request.grid, request.objective, len(plan.points)),
                parent=fold_kind,
                upstream_built=fold.number > 1,
            )
            testing = replace(request.backtest, start=fold.train_end, end=fold.test_end)
            test_run = record_run(
                engine,
                testing,
                plan.spec,
                plan.symbols,
                settings,
                [chosen["best_parameters"]],
                RunKind("backtest", plan.objective, run_id, fold.number),
            )
            build_run(connection, engine, test_run, specs, upstream_built=True)
    except BaseException as error:
        finish(engine, run_id, f"{type(error).__name__}: {error}")
        raise
    finish(engine, run_id, None)
    return walkforward_summary(engine, run_id)


def walkforward_summary(engine: Engine, run_id: uuid.UUID) -> dict[str, Any]:
    """The walk-forward's stitched result and its folds, from the marts."""
    with engine.connect() as conn:
        result = (
            conn.execute(
                text("select * from marts.backtest_walkforwards where run_id = :r"), {"r": run_id}
            )
            .mappings()
            .one()
        )
        folds = (
            conn.execute(
                text(
                    "select * from marts.backtest_walkforward_folds where run_id = :r order by fold"
                ),
                {"r": run_id},
            )
            .mappings()
            .all()
        )
    summary = {key: plain(value) for key, value in result.items()}
    summary["folds"] = [{key: plain(value) for key, value in fold.items()} for fold in folds]
    return summary
