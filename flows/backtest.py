"""`trading backtest`: record a run, build the backtest models for it with dbt, read the result.

A run never sends an order and writes only `raw.backtest_runs` (Python) and the backtest models
(dbt). Bad input is refused before anything is recorded; a failed build is recorded as failed.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dbt.contracts.results import RunExecutionResult
from sqlalchemy import Engine, text

from config.database import Connection
from config.settings import Settings
from flows.dbt import run_dbt
from strategies.spec import StrategySpec, dbt_vars, load_spec, load_specs

REPO_ROOT = Path(__file__).resolve().parent.parent
# The backtest models and, unless the caller just built them, everything they read (the
# indicators and signals of bars landed since the last build).
BACKTEST_MODELS = "tag:backtest"
MODES = ("signal", "portfolio")
# The order types a portfolio backtest's paper broker fills (macro backtest_paper_fills).
PORTFOLIO_ORDER_TYPES = ("market", "bracket")


class BacktestInputError(ValueError):
    """An argument of `trading backtest` is refused; the message names it and its value."""


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest: a strategy (or a spec file naming one) over a window of landed
    history, with a starting cash."""

    strategy: str = ""
    spec_file: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    symbols: tuple[str, ...] = ()
    cash: Decimal = Decimal(100_000)
    mode: str = "signal"


def code_version() -> str:
    """The commit the code is at (with `+dirty` for uncommitted changes), or `unknown`."""
    try:
        head = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, like a developer's
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def costs(settings: Settings) -> dict[str, float]:
    """The run's cost model, from the settings (recorded with the run)."""
    return {
        "slippage_bps": settings.backtest_slippage_bps,
        "commission_per_share": settings.backtest_commission_per_share,
        "commission_bps": settings.backtest_commission_bps,
        "sec_fee_per_million": settings.sec_fee_per_million,
        "finra_taf_per_share": settings.finra_taf_per_share,
        "finra_taf_max": settings.finra_taf_max,
    }


def request_spec(request: BacktestRequest, specs: list[StrategySpec]) -> StrategySpec:
    """The spec a request names: a spec file's (validated against its signal SQL), else the
    shipped spec of --strategy; a refused one raises BacktestInputError."""
    if request.spec_file is None and not request.strategy:
        raise BacktestInputError("give --strategy NAME (of strategies/specs/) or --spec FILE")
    if request.spec_file is not None:
        if request.strategy:
            raise BacktestInputError("--strategy and --spec: give one of them")
        if not request.spec_file.is_file():
            raise BacktestInputError(f"--spec {request.spec_file}: no such file")
        try:
            return load_spec(request.spec_file, require_file_name=False)
        except ValueError as error:
            raise BacktestInputError(f"--spec {error}") from None
    by_name = {spec.name: spec for spec in specs}
    if request.strategy not in by_name:
        known = ", ".join(sorted(by_name)) or "none"
        raise BacktestInputError(
            f"--strategy {request.strategy!r} is not a strategy (known: {known})"
        )
    return by_name[request.strategy]


def build_vars(specs: list[StrategySpec], spec: StrategySpec) -> list[StrategySpec]:
    """The specs whose signal models a backtest build declares: the shipped ones and the run's."""
    return [*(s for s in specs if s.name != spec.name), spec]


def _symbols(request: BacktestRequest, spec: StrategySpec) -> list[str]:
    """--symbols, else the spec's universe (a backtest computes its own signals: any symbol with
    landed bars will do)."""
    return list(dict.fromkeys(s.strip().upper() for s in request.symbols)) or list(spec.universe)


def check_request(
    engine: Engine, request: BacktestRequest, specs: list[StrategySpec]
) -> tuple[StrategySpec, list[str]]:
    """The spec and symbols of a valid request; a refused argument raises BacktestInputError."""
    if request.mode not in MODES:
        raise BacktestInputError(f"--mode {request.mode!r} must be one of {', '.join(MODES)}")
    if request.cash <= 0:
        raise BacktestInputError(f"--cash {request.cash} must be above 0")
    if request.start and request.end and request.end < request.start:
        raise BacktestInputError(f"--end {request.end:%Y-%m-%d} is before --start")
    spec = request_spec(request, specs)
    if request.mode == "portfolio" and (
        spec.order.type not in PORTFOLIO_ORDER_TYPES or spec.order.exit_type != "market"
    ):
        raise BacktestInputError(
            f"--mode portfolio fills market and bracket orders; {spec.name}'s order.type"
            f" {spec.order.type!r}, exit_type {spec.order.exit_type!r} needs --mode signal"
        )
    symbols = _symbols(request, spec)
    with engine.connect() as conn:
        landed = {
            str(symbol)
            for (symbol,) in conn.execute(
                text(
                    "select distinct symbol from raw.bars where timeframe = :tf"
                    " and symbol = any(:symbols)"
                    " and (cast(:start as timestamptz) is null or ts >= :start)"
                    " and (cast(:end as timestamptz) is null or ts < :end)"
                ),
                {
                    "tf": spec.timeframe,
                    "symbols": symbols,
                    "start": request.start,
                    "end": request.end,
                },
            )
        }
    window = (
        f"{request.start:%Y-%m-%d}" if request.start else "the first bar",
        f"{request.end:%Y-%m-%d}" if request.end else "the last bar",
    )
    if not landed:
        raise BacktestInputError(
            f"no {spec.timeframe} bars of {', '.join(symbols)} from {window[0]} to {window[1]}:"
            " land them first (trading backfill)"
        )
    missing = [symbol for symbol in symbols if symbol not in landed]
    if missing:
        raise BacktestInputError(
            f"--symbols {','.join(missing)}: no {spec.timeframe} bars landed from {window[0]}"
            f" to {window[1]} (trading backfill)"
        )
    return spec, symbols


@dataclass(frozen=True)
class RunKind:
    """What a recorded run is: a backtest (one trial), a sweep, or a walk-forward (and a fold)."""

    kind: str = "backtest"
    objective: str | None = None
    parent_run_id: uuid.UUID | None = None
    fold: int | None = None


def record_run(
    engine: Engine,
    request: BacktestRequest,
    spec: StrategySpec,
    symbols: list[str],
    settings: Settings,
    trials: list[dict[str, float]] | None = None,
    kind: RunKind = RunKind(),
    first_trial: int = 1,
) -> uuid.UUID:
    """Record the run as 'running' with everything needed to reproduce it, and its trials (the
    spec's parameters alone unless given; numbered from `first_trial` in order; `[]`: none, for
    a sweep whose chunks hold them); returns its id."""
    run_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into raw.backtest_runs (run_id, strategy, spec, parameters, timeframe,"
                " symbols, start_at, end_at, initial_cash, mode, costs, code_version, kind,"
                " objective, parent_run_id, fold) values"
                " (:run_id, :strategy, cast(:spec as jsonb), cast(:parameters as jsonb),"
                " :timeframe, :symbols, :start, :end, :cash, :mode, cast(:costs as jsonb),"
                " :version, :kind, :objective, :parent, :fold)"
            ),
            {
                "run_id": run_id,
                "strategy": spec.name,
                "spec": json.dumps(spec.model_dump(mode="json")),
                "parameters": json.dumps(spec.parameters),
                "timeframe": spec.timeframe,
                "symbols": symbols,
                "start": request.start,
                "end": request.end,
                "cash": request.cash,
                "mode": request.mode,
                "costs": json.dumps(costs(settings)),
                "version": code_version(),
                "kind": kind.kind,
                "objective": kind.objective,
                "parent": kind.parent_run_id,
                "fold": kind.fold,
            },
        )
        recorded = [spec.parameters] if trials is None else trials
        if recorded:
            conn.execute(
                text(
                    "insert into raw.backtest_trials (run_id, trial, parameters)"
                    " values (:run_id, :trial, cast(:parameters as jsonb))"
                ),
                [
                    {"run_id": run_id, "trial": number, "parameters": json.dumps(parameters)}
                    for number, parameters in enumerate(recorded, start=first_trial)
                ],
            )
    return run_id


def finish(engine: Engine, run_id: uuid.UUID, error: str | None) -> None:
    """Mark a run finished, or failed with the error."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "update raw.backtest_runs set status = :status, error = :error,"
                " finished_at = clock_timestamp() where run_id = :run_id"
            ),
            {"run_id": run_id, "status": "failed" if error else "finished", "error": error},
        )


# The summary's keys (those `--json` promises first) and the marts.backtest_runs column of each.
SUMMARY_COLUMNS = {
    "run_id": "run_id",
    "strategy": "strategy",
    "mode": "mode",
    "start": "first_bar_at",
    "end": "last_bar_at",
    "symbols": "symbols",
    "initial_cash": "initial_cash",
    "final_equity": "final_equity",
    "total_return": "total_return",
    "sharpe": "sharpe_ratio",
    "max_drawdown": "max_drawdown",
    "trades": "trade_count",
    "parameters": "parameters",
    "code_version": "code_version",
}


def summary(engine: Engine, run_id: uuid.UUID) -> dict[str, Any]:
    """The run's headline numbers from marts.backtest_runs, JSON-ready, under SUMMARY_COLUMNS."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("select * from marts.backtest_runs where run_id = :run_id"),
                {"run_id": run_id},
            )
            .mappings()
            .one()
        )
    return {key: plain(row[column]) for key, column in SUMMARY_COLUMNS.items()}


def plain(value: object) -> object:
    """A database value as JSON wants it (floats, ISO times, strings)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def build_run(
    connection: Connection,
    engine: Engine,
    run_id: uuid.UUID,
    specs: list[StrategySpec],
    upstream_built: bool = False,
    target_path: Path | None = None,
    tables_only: bool = False,
) -> None:
    """Build the backtest models for a recorded run and mark it finished (or failed, with why).

    `upstream_built`: the indicators are current (a cycle just built them), so only the
    backtest models are built. The strategy's unit tests are not run: in a backtest build its
    signal model is ephemeral (they run in every normal build). `target_path`: dbt's own
    directory for this build, so builds in other processes at the same time do not clash.
    `tables_only`: leave out the backtest views (marts.backtest_runs, …), which a build running
    beside others would race to replace; the sweep's first chunk has created them.
    """
    variables = {**dbt_vars(specs), "backtest_run_id": str(run_id)}
    try:
        result = run_dbt(
            [
                "build",
                "--select",
                BACKTEST_MODELS if upstream_built else f"+{BACKTEST_MODELS}",
                "--exclude",
                "test_type:unit",
                *(["config.materialized:view"] if tables_only else []),
                "--vars",
                json.dumps(variables),
                "--quiet",
                *(["--target-path", str(target_path)] if target_path else []),
            ],
            connection,
        )
    except BaseException as error:
        finish(engine, run_id, f"{type(error).__name__}: {error}")
        raise
    if not result.success:
        outcomes: Any = result.result if isinstance(result.result, RunExecutionResult) else []
        failed = [
            f"{r.node.name}: {r.message}" for r in outcomes if str(r.status) in ("error", "fail")
        ]
        message = "; ".join(failed) or str(result.exception or "dbt build failed")
        finish(engine, run_id, message)
        raise RuntimeError(f"backtest {run_id} failed in dbt: {message}")
    finish(engine, run_id, None)


def run_backtest(
    settings: Settings,
    connection: Connection,
    engine: Engine,
    request: BacktestRequest,
    upstream_built: bool = False,
) -> dict[str, Any]:
    """Check the request, record the run, build it with dbt, and return its summary."""
    specs = load_specs()
    spec, symbols = check_request(engine, request, specs)
    run_id = record_run(engine, request, spec, symbols, settings)
    build_run(connection, engine, run_id, build_vars(specs, spec), upstream_built)
    return summary(engine, run_id)
