"""The hourly gate's data tests check the rows written in its window (GATE_TEST_WINDOW), so a bad
row older than that passes the gate and fails a plain `dbt build`; a bad new row fails the gate."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from flows.dbt import run_dbt
from flows.pipeline import AS_OF_ENV, GATE_TEST_WINDOW, TEST_SINCE_ENV, dbt_build
from strategies.params import record_params
from strategies.spec import load_specs

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

SYMBOLS = ("AAA", "BBB")
START = datetime(2025, 11, 3, 14, tzinfo=UTC)
BARS = 120
SELECT = "+signals"
SIGNALS = "intermediate.int_sma_crossover__signals"
INDICATORS = "intermediate.int_bars_indicators_computed"
# A data test of the gate, and how to break a row for it: table, column, bad value, which rows.
LOOK_AHEAD = "uses_only_closed_bars_signals_"
WARM_SMA_MISSING = (
    "expression_is_true_int_bars_indicators_computed_sma_20___sma_20_is_null_bar_number_20_"
)
CORRUPTIONS = {
    # a decision not priced at its bar's close (look-ahead)
    LOOK_AHEAD: (SIGNALS, "reference_price", "reference_price + 1", "true"),
    # a warm SMA missing
    WARM_SMA_MISSING: (
        INDICATORS,
        "sma_20",
        "null",
        "bar_number >= 20",
    ),
}


def _bar(symbol: str, i: int, price: float, rng: random.Random) -> dict[str, Any]:
    close = round(price * math.exp(rng.gauss(0, 0.02) + 0.03 * math.sin(i / 9)), 2)
    return {
        "symbol": symbol,
        "timeframe": "1Hour",
        "ts": START + timedelta(hours=i),
        "open": price,
        "high": round(max(price, close) * 1.002, 2),
        "low": round(min(price, close) * 0.998, 2),
        "close": close,
        "volume": rng.randint(1_000, 50_000),
    }


def _bars(first: int, last: int) -> list[dict[str, Any]]:
    """Hourly bars first..last-1 of each symbol (the same prices whichever range is asked)."""
    rows: list[dict[str, Any]] = []
    for number, symbol in enumerate(SYMBOLS):
        rng = random.Random(number)  # noqa: S311 - test data, not secrets
        price = 100.0
        for i in range(last):
            bar = _bar(symbol, i, price, rng)
            price = bar["close"]
            if i >= first:
                rows.append(bar)
    return rows


@pytest.fixture(scope="module")
def history(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Connection:
    """Every shipped strategy on two symbols, built in full (every test passing)."""
    specs = [spec.model_copy(update={"universe": list(SYMBOLS)}) for spec in load_specs()]
    record_params(module_engine, specs, START)
    insert_bars(module_engine, _bars(0, BARS))
    dbt_ok(["build", "--select", SELECT, "--exclude", "test_type:unit"], module_database)
    return module_database


@pytest.fixture
def gate(
    history: Connection, dbt_as_of: datetime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], None]]:
    """The hourly flow's gate build (flows.pipeline.dbt_build) of `+signals`; the env vars it
    sets are removed again afterwards."""
    monkeypatch.delenv(AS_OF_ENV, raising=False)
    monkeypatch.delenv(TEST_SINCE_ENV, raising=False)

    def build() -> None:
        dbt_build(history, dbt_as_of, {"as_of": dbt_as_of.isoformat()}, False, SELECT)

    yield build


def _full_build_failures(connection: Connection, dbt_as_of: datetime) -> set[str]:
    """The tests a plain `dbt build` (no TRADING_TEST_SINCE, as an analyst runs it) fails."""
    args = ["build", "--select", SELECT, "--exclude", "test_type:unit"]
    result = run_dbt([*args, "--vars", json.dumps({"as_of": dbt_as_of.isoformat()})], connection)
    assert result.exception is None, result.exception
    return {
        r.node.name
        for r in result.result.results  # type: ignore[union-attr]
        if str(r.status) in ("fail", "error")
    }


@contextmanager
def _corrupted(engine: Engine, failing: str, newest: bool, written_at: str) -> Iterator[None]:
    """Break the oldest (or newest) row of symbol AAA so that the data test `failing` fails, stamped
    as written at `written_at` (SQL); put it back afterwards."""
    table, column, bad, warm = CORRUPTIONS[failing]
    key = "symbol = 'AAA' and ts = :ts"
    with engine.begin() as conn:
        row = conn.execute(
            text(
                f"select ts, {column} as value, computed_at from {table} "  # noqa: S608
                f"where symbol = 'AAA' and {warm} order by ts {'desc' if newest else 'asc'} limit 1"
            )
        ).one()
        conn.execute(
            text(f"update {table} set {column} = {bad}, computed_at = {written_at} where {key}"),  # noqa: S608
            {"ts": row.ts},
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(f"update {table} set {column} = :value, computed_at = :at where {key}"),  # noqa: S608
                {"value": row.value, "at": row.computed_at, "ts": row.ts},
            )


@pytest.mark.parametrize("failing", [LOOK_AHEAD])
def test_gate_passes_a_bad_row_older_than_its_window_that_a_full_build_fails(
    failing: str,
    history: Connection,
    module_engine: Engine,
    gate: Callable[[], None],
    dbt_as_of: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows written before the window are not re-checked every hour; an analyst's plain
    `dbt build` (and `make test`) still checks them."""
    days = GATE_TEST_WINDOW.days + 1
    with _corrupted(
        module_engine, failing, newest=False, written_at=f"now() - interval '{days} days'"
    ):
        gate()  # raises on any failing test
        monkeypatch.delenv(TEST_SINCE_ENV)  # what the gate set; an analyst's shell has none
        assert _full_build_failures(history, dbt_as_of) == {failing}
    assert _full_build_failures(history, dbt_as_of) == set()


@pytest.mark.parametrize("failing", [WARM_SMA_MISSING])
def test_gate_fails_on_a_bad_row_written_in_its_window(
    failing: str,
    history: Connection,
    module_engine: Engine,
    gate: Callable[[], None],
    insert_bars: InsertBars,
) -> None:
    """A new hour lands and the gate passes; a bad row among those it just wrote, or one
    written a day ago, fails it."""
    with module_engine.connect() as conn:
        landed = conn.execute(text("select count(*) from raw.bars")).scalar_one()
    hours = landed // len(SYMBOLS)
    insert_bars(module_engine, _bars(hours, hours + 1))
    gate()
    for newest, written_at in ((True, "now()"), (False, "now() - interval '1 day'")):
        with (
            _corrupted(module_engine, failing, newest=newest, written_at=written_at),
            pytest.raises(ValueError, match="Failures detected") as failed,
        ):
            gate()
        assert failing in str(failed.value)
    gate()
