"""Backtest runs as dbt builds: a plain build touches no stored run, a rebuilt run replaces its
rows, a bad run id is refused naming it, a window never looks past its end, scratch rows of
finished runs are dropped, and the run's metrics equal empyrical's on its daily returns."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import empyrical
import numpy as np
import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from flows.dbt import run_dbt
from strategies.params import record_params
from strategies.spec import load_specs
from tests.dbt.backtests import BUILD, build_run, record_run, rows

pytestmark = pytest.mark.integration

InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]
DbtOk = Callable[[list[str], Connection], None]

SYMBOLS = ["AAA", "BBB"]
START = datetime(2025, 11, 3, 14, tzinfo=UTC)
BACKTEST_TABLES = (
    "intermediate.int_backtest_bars_selected",
    "intermediate.int_backtest_round_trips_simulated",
    "marts.backtest_trades",
    "marts.backtest_equity",
    "marts.backtest_performance",
)


def _bars() -> list[dict[str, Any]]:
    """300 hours of two symbols swinging enough for the SMA crossover to trade."""
    bars = []
    for number, symbol in enumerate(SYMBOLS):
        rng = random.Random(7 + number)  # noqa: S311 - test data
        price = 80.0 + 20 * number
        for i in range(300):
            close = round(price * math.exp(rng.gauss(0, 0.01) + 0.01 * math.sin(i / 13)), 2)
            bars.append(
                {
                    "symbol": symbol,
                    "timeframe": "1Hour",
                    "ts": START + timedelta(hours=i),
                    "open": Decimal(str(price)),
                    "high": Decimal(str(round(max(price, close) * 1.002, 2))),
                    "low": Decimal(str(round(min(price, close) * 0.998, 2))),
                    "close": Decimal(str(close)),
                    "volume": 5_000,
                }
            )
            price = close
    return bars


@dataclass(frozen=True)
class Built:
    """The module's database with signals built and one finished backtest run."""

    engine: Engine
    connection: Connection
    dbt_ok: DbtOk
    run_id: str

    def run(self, **window: datetime | None) -> str:
        """Record and build another sma_crossover run; return its id."""
        run_id = record_run(self.engine, "sma_crossover", "1Hour", SYMBOLS, **window)  # type: ignore[arg-type]
        build_run(self.dbt_ok, self.connection, run_id)
        return run_id

    def snapshot(self, run_id: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every backtest table's rows (of one run, or all), in a stable order."""
        where = f"where run_id = '{run_id}'" if run_id else ""
        with self.engine.connect() as conn:
            return {
                table: sorted(
                    (tuple(r) for r in conn.execute(text(f"select * from {table} {where}"))),  # noqa: S608 - test tables
                    key=repr,
                )
                for table in BACKTEST_TABLES
            }


@pytest.fixture(scope="module")
def built(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Built:
    """Bars, the shipped specs on two symbols, a plain build of everything, then one run."""
    insert_bars(module_engine, _bars())
    specs = [spec.model_copy(update={"universe": SYMBOLS}) for spec in load_specs()]
    record_params(module_engine, specs, START)
    dbt_ok(["build", "--select", "+tag:backtest", "--exclude", "test_type:unit"], module_database)
    run_id = record_run(module_engine, "sma_crossover", "1Hour", SYMBOLS)
    build_run(dbt_ok, module_database, run_id)
    return Built(module_engine, module_database, dbt_ok, run_id)


def test_the_run_trades_and_every_table_holds_its_rows(built: Built) -> None:
    snapshot = built.snapshot(built.run_id)
    assert all(snapshot.values()), {t: len(r) for t, r in snapshot.items()}
    (run,) = rows(
        built.engine, "select * from marts.backtest_runs where run_id = :r", r=built.run_id
    )
    assert run["trade_count"] >= 3
    assert run["status"] == "running"
    assert run["first_bar_at"] == START


def test_a_plain_build_and_a_full_refresh_change_no_stored_run(built: Built) -> None:
    """The hourly flow's `dbt build` (no run id) and a `--full-refresh` leave every backtest
    row as it was."""
    before = built.snapshot()
    built.dbt_ok([*BUILD], built.connection)
    built.dbt_ok([*BUILD, "--full-refresh"], built.connection)
    assert built.snapshot() == before


def test_rebuilding_a_run_replaces_its_rows_and_leaves_other_runs_alone(built: Built) -> None:
    """Changing the run's costs and building it again gives one set of rows, at the new costs;
    another run's rows are untouched."""
    other = built.run()
    others_rows = built.snapshot(other)
    with built.engine.begin() as conn:
        conn.execute(
            text(
                "update raw.backtest_runs set costs = jsonb_set(costs, '{slippage_bps}', '50')"
                " where run_id = :r"
            ),
            {"r": built.run_id},
        )
    build_run(built.dbt_ok, built.connection, built.run_id)
    trades = rows(
        built.engine,
        "select t.entry_price, b.open from marts.backtest_trades t"
        " join intermediate.int_backtest_bars_selected b"
        " on b.run_id = t.run_id and b.symbol = t.symbol and b.ts = t.entry_at"
        " where t.run_id = :r",
        r=built.run_id,
    )
    assert trades and all(t["entry_price"] == t["open"] * Decimal("1.005") for t in trades)
    (count,) = rows(
        built.engine,
        "select count(*) as n, count(distinct (symbol, trade_number)) as keys"
        " from marts.backtest_trades where run_id = :r",
        r=built.run_id,
    )
    assert count["n"] == count["keys"] == len(trades)
    assert built.snapshot(other) == others_rows


def test_a_window_never_looks_past_its_end(built: Built) -> None:
    """Truncating the history at random bars: every round trip that closed before the cut is
    exactly the full run's (entries, exits, prices, sizes, fees): nothing after the end changes a
    trade before it."""
    full = built.run()
    query = (
        "select symbol, entry_at, entry_price, exit_at, exit_price, quantity, fees, pnl"
        " from marts.backtest_trades where run_id = :r and exit_reason <> 'open'"
        " order by symbol, trade_number"
    )
    everything = rows(built.engine, query, r=full)
    cuts = random.Random(2024).sample(range(120, 290), 2)  # noqa: S311 - test data
    for cut in (START + timedelta(hours=hour) for hour in cuts):
        closed = rows(built.engine, query, r=built.run(end_at=cut))
        assert closed, cut
        assert closed == [t for t in everything if t["exit_at"] < cut], cut
        assert all(t["exit_at"] < cut for t in closed)


def test_scratch_rows_of_finished_runs_are_dropped_by_the_next_run(built: Built) -> None:
    """Once a run is finished, the next build drops its bar-sized intermediate rows; its marts
    stay."""
    finished = built.run()
    with built.engine.begin() as conn:
        conn.execute(
            text(
                "update raw.backtest_runs set status = 'finished', finished_at = now()"
                " where run_id = :r"
            ),
            {"r": finished},
        )
    marts = {t: r for t, r in built.snapshot(finished).items() if t.startswith("marts.")}
    built.run()
    after = built.snapshot(finished)
    assert not after["intermediate.int_backtest_bars_selected"]
    assert not after["intermediate.int_backtest_round_trips_simulated"]
    assert {t: r for t, r in after.items() if t.startswith("marts.")} == marts
    (run,) = rows(
        built.engine, "select status from marts.backtest_runs where run_id = :r", r=finished
    )
    assert run["status"] == "finished"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7d1f3c52-0000-4000-8000-000000000000", "no run 7d1f3c52-0000-4000-8000-000000000000"),
        ("not-a-uuid'; drop table raw.bars; --", "is not a uuid"),
    ],
)
def test_a_bad_run_id_is_refused_naming_it(built: Built, value: str, message: str) -> None:
    result = run_dbt(
        [
            *BUILD,
            "--vars",
            json.dumps({"as_of": "2026-01-07T06:05:00+00:00", "backtest_run_id": value}),
        ],
        built.connection,
    )
    assert not result.success
    errors = (
        [str(result.exception)]
        if result.exception
        else [
            str(r.message)
            for r in result.result.results  # type: ignore[union-attr]
        ]
    )
    assert any(message in error for error in errors), errors
    assert rows(built.engine, "select count(*) as n from raw.bars")[0]["n"] == 600


def test_metrics_equal_empyrical_on_the_runs_daily_returns(built: Built) -> None:
    """The run's daily returns (total equity at each New York day's last bar, the initial cash
    before the first) give empyrical's metrics to 1e-9; fees and buy-and-hold add up."""
    equity = rows(
        built.engine,
        "select distinct on (day) day, equity from ("
        " select cast(ts at time zone 'America/New_York' as date) as day, ts, equity"
        " from marts.backtest_equity where run_id = :r and book = 'total') as bars"
        " order by day, ts desc",
        r=built.run_id,
    )
    (performance,) = rows(
        built.engine, "select * from marts.backtest_performance where run_id = :r", r=built.run_id
    )
    values = np.array([100_000.0] + [float(e["equity"]) for e in equity])
    returns = values[1:] / values[:-1] - 1
    assert performance["day_count"] == len(returns)
    expected = {
        "total_return": empyrical.cum_returns_final(returns),
        "cagr": empyrical.cagr(returns),
        "annual_volatility": empyrical.annual_volatility(returns),
        "sharpe_ratio": empyrical.sharpe_ratio(returns),
        "sortino_ratio": empyrical.sortino_ratio(returns),
        "max_drawdown": empyrical.max_drawdown(returns),
    }
    for name, value in expected.items():
        assert abs(performance[name] - value) <= 1e-9, (name, performance[name], value)
    trades = rows(
        built.engine,
        "select fees, exit_reason from marts.backtest_trades where run_id = :r",
        r=built.run_id,
    )
    assert performance["fees_paid"] == sum(t["fees"] for t in trades)
    assert performance["trade_count"] == sum(t["exit_reason"] == "signal" for t in trades)
    bars = _bars()
    holds = [
        float(next(b for b in reversed(bars) if b["symbol"] == s)["close"])
        / float(next(b for b in bars if b["symbol"] == s)["open"])
        - 1
        for s in SYMBOLS
    ]
    assert performance["buy_and_hold_return"] == pytest.approx(sum(holds) / len(holds), abs=1e-12)
