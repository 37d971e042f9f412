"""Helpers for the backtest tests: record a run as `trading backtest` does, and build it."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from config.database import Connection

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
# Only the backtest models: the signals they read are built by the test's own fixture.
BUILD = ["build", "--select", "tag:backtest", "--exclude", "test_type:unit"]

RECORD = text(
    "insert into raw.backtest_runs (run_id, strategy, spec, parameters, timeframe, symbols,"
    " start_at, end_at, initial_cash, mode, costs, code_version)"
    " values (:run_id, :strategy, cast(:spec as jsonb), cast(:parameters as jsonb), :timeframe,"
    " :symbols, :start_at, :end_at, :initial_cash, 'signal', cast(:costs as jsonb), 'test')"
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
) -> str:
    """Insert one raw.backtest_runs row (status running) as the CLI does; return its run_id."""
    run_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            RECORD,
            {
                "run_id": run_id,
                "strategy": strategy,
                "spec": json.dumps({"name": strategy}),
                "parameters": json.dumps(dict(parameters or {})),
                "timeframe": timeframe,
                "symbols": symbols,
                "start_at": start_at,
                "end_at": end_at,
                "initial_cash": initial_cash,
                "costs": json.dumps(dict(costs)),
            },
        )
    return run_id


@contextmanager
def backtest_run_env(run_id: str) -> Iterator[None]:
    """TRADING_BACKTEST_RUN_ID for one dbt invocation (an env var re-parses only its users)."""
    before = os.environ.get("TRADING_BACKTEST_RUN_ID")
    os.environ["TRADING_BACKTEST_RUN_ID"] = run_id
    try:
        yield
    finally:
        if before is None:
            del os.environ["TRADING_BACKTEST_RUN_ID"]
        else:
            os.environ["TRADING_BACKTEST_RUN_ID"] = before


def build_run(dbt_ok: DbtOk, connection: Connection, run_id: str) -> None:
    """Build the backtest models for one recorded run."""
    with backtest_run_env(run_id):
        dbt_ok(BUILD, connection)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a query as dicts."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]
