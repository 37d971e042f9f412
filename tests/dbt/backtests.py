"""Helpers for the backtest tests: record a run as `trading backtest` does, and build it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from config.database import Connection
from strategies.spec import load_specs

DbtOk = Callable[[list[str], Connection], None]

# Alpaca-like fees (SEC fee and FINRA TAF on sells) plus a commission and slippage, so every
# cost term moves the result.
COSTS: dict[str, float] = {
    "slippage_bps": 5.0,
    "commission_per_share": 0.005,
    "commission_bps": 1.0,
    "sec_fee_per_million": 27.8,
    "finra_taf_per_share": 0.000166,
    "finra_taf_max": 8.30,
}
# Only the backtest models: the indicators they read are built by the test's own fixture.
BUILD = ["build", "--select", "tag:backtest", "--exclude", "test_type:unit"]
TRIAL = text(
    "insert into raw.backtest_trials (run_id, trial, parameters)"
    " values (:run_id, :trial, cast(:parameters as jsonb))"
)

RECORD = text(
    "insert into raw.backtest_runs (run_id, strategy, spec, parameters, timeframe, symbols,"
    " start_at, end_at, initial_cash, mode, costs, code_version, kind)"
    " values (:run_id, :strategy, cast(:spec as jsonb), cast(:parameters as jsonb), :timeframe,"
    " :symbols, :start_at, :end_at, :initial_cash, 'signal', cast(:costs as jsonb), 'test',"
    " :kind)"
)


def record_run(
    engine: Engine,
    strategy: str,
    timeframe: str,
    symbols: list[str],
    *,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    initial_cash: Decimal = Decimal(100_000),
    costs: Mapping[str, float] = COSTS,
    parameters: Mapping[str, Any] | None = None,
    spec: Mapping[str, Any] | None = None,
    trials: list[Mapping[str, Any]] | None = None,
    kind: str = "backtest",
) -> str:
    """Insert one raw.backtest_runs row (status running) and its trials (the parameters alone:
    trial 1) as the CLI does; return its run_id."""
    run_id = str(uuid.uuid4())
    shipped = {s.name: s for s in load_specs()}[strategy].model_dump(mode="json")
    recorded = {**shipped, **(spec or {})}
    if parameters is not None:
        recorded["parameters"] = dict(parameters)
    with engine.begin() as conn:
        conn.execute(
            RECORD,
            {
                "run_id": run_id,
                "strategy": strategy,
                "spec": json.dumps(recorded),
                "parameters": json.dumps(recorded["parameters"]),
                "kind": kind,
                "timeframe": timeframe,
                "symbols": symbols,
                "start_at": start_at,
                "end_at": end_at,
                "initial_cash": initial_cash,
                "costs": json.dumps(dict(costs)),
            },
        )
        conn.execute(
            TRIAL,
            [
                {"run_id": run_id, "trial": number, "parameters": json.dumps(dict(trial))}
                for number, trial in enumerate(trials or [recorded["parameters"]], start=1)
            ],
        )
    return run_id


def build_run(dbt_ok: DbtOk, connection: Connection, run_id: str) -> None:
    """Build the backtest models for one recorded run (of a shipped strategy)."""
    dbt_ok([*BUILD, "--vars", json.dumps({"backtest_run_id": run_id})], connection)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a query as dicts."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]
