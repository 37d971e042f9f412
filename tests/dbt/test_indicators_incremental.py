"""Incremental builds of the indicators equal a --full-refresh build, and cost only the new bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from flows.dbt import run_dbt
from tests.dbt.conftest import DBT_AS_OF

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

START = datetime(2026, 1, 5, 14, tzinfo=UTC)
STEP = {"1Hour": timedelta(hours=1), "1Day": timedelta(days=1)}
# Cautious: leave out tests that also read models downstream of indicators (not built here).
SELECT = ["build", "--select", "+indicators", "--indirect-selection", "cautious"]

# Bar indexes (of the hourly timeline, or of the daily one) where each landing starts: the
# initial build gets everything before the first cut, each later landing the bars up to the next.
CUTS = {"1Hour": [60, 100, 120, 121, 160, 199, 200], "1Day": [50, 80, 100, 101, 110, 119, 120]}
# Bars corrected in raw.bars (as ingestion does: new values, version + 1, ingested_at = now())
# just before the landing with this index, each older than the newest bar already built.
CORRECTIONS = {5: [("AAA", "1Hour", 150), ("GAP", "1Hour", 130)]}
# A landing stamped half an hour before the build that precedes it, as a batch that was still
# committing when that build read raw.bars: the next build must still pick it up.
LATE_LANDING = 3


def _walk(seed: int, length: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    jumps = rng.choice([0.0, 8.0, -8.0], size=length, p=[0.94, 0.03, 0.03])
    return 100 + np.cumsum(rng.normal(0, 1.5, length) + jumps)


def _series(symbol: str, timeframe: str, closes: np.ndarray, first: int, seed: int) -> list[dict]:
    """Bars from timeline index `first` on, with wicks and volumes around `closes`."""
    rng = np.random.default_rng(seed)
    closes = np.maximum(closes, 1.0)
    opens = np.concatenate([[closes[0]], closes[:-1]]) + rng.normal(0, 0.2, len(closes))
    opens = np.maximum(opens, 1.0)
    highs = np.maximum(opens, closes) + np.abs(rng.normal(0, 0.5, len(closes)))
    lows = np.maximum(np.minimum(opens, closes) - np.abs(rng.normal(0, 0.5, len(closes))), 0.5)
    volumes = rng.integers(1_000, 50_000, len(closes))
    return [
        {
            "symbol": symbol,
            "timeframe": timeframe,
            "index": first + i,
            "ts": START + (first + i) * STEP[timeframe],
            "open": Decimal(f"{opens[i]:.4f}"),
            "high": Decimal(f"{highs[i]:.4f}"),
            "low": Decimal(f"{lows[i]:.4f}"),
            "close": Decimal(f"{closes[i]:.4f}"),
            "volume": int(volumes[i]),
        }
        for i in range(len(closes))
    ]


def _calm() -> np.ndarray:
    """A walk with 40 bars at one price (hours 105 to 144), across three landings."""
    walk = _walk(5, 160)
    flat = np.full(40, round(walk[104], 4))
    return np.concatenate([walk[:105], flat, walk[105:] - walk[105] + flat[0]])


BARS = [
    *_series("AAA", "1Hour", _walk(1, 200), 0, 11),
    # First lands in an incremental run, then resumes across bar 34 and bar 50 (warm).
    *_series("LATE", "1Hour", _walk(2, 138), 62, 12),
    # Lands with 25 bars, then 45 (recomputed from scratch: not every average is seeded
    # before bar 34), then resumes.
    *_series("SHORTY", "1Hour", _walk(3, 125), 75, 13),
    # Bars 100 and 120 are missing, each the first bar of a landing.
    *[
        bar
        for bar in _series("GAP", "1Hour", _walk(4, 200), 0, 14)
        if bar["index"] not in (100, 120)
    ],
    *_series("CALM", "1Hour", _calm(), 0, 15),
    *_series("AAA", "1Day", _walk(6, 120), 0, 16),
]
SERIES_COUNT = len({(bar["symbol"], bar["timeframe"]) for bar in BARS})


def _landing(number: int) -> list[dict]:
    """The bars of landing `number` (0 is the initial build)."""
    landed = []
    for bar in BARS:
        cuts = [0, *CUTS[bar["timeframe"]]]
        if cuts[number] <= bar["index"] < cuts[number + 1]:
            landed.append({k: v for k, v in bar.items() if k != "index"})
    return landed


def _correct(engine: Engine, symbol: str, timeframe: str, index: int) -> None:
    """Correct a landed bar in place, as ingestion does (new values, version + 1, landed now)."""
    with engine.begin() as conn:
        corrected = conn.execute(
            text(
                "update raw.bars set close = close + 1.5, high = high + 1.5,"
                " version = version + 1, ingested_at = clock_timestamp()"
                " where symbol = :symbol and timeframe = :timeframe and ts = :ts"
            ),
            {"symbol": symbol, "timeframe": timeframe, "ts": START + index * STEP[timeframe]},
        ).rowcount
    assert corrected == 1


def _backdate_newest_landing(engine: Engine, by: timedelta) -> None:
    """Stamp the newest landing `by` earlier, as if its transaction had started then."""
    with engine.begin() as conn:
        backdated = conn.execute(
            text(
                "update raw.bars set ingested_at = ingested_at - :by"
                " where ingested_at = (select max(ingested_at) from raw.bars)"
            ),
            {"by": by},
        ).rowcount
    assert backdated > 0


def _columns(engine: Engine, relation: str) -> list[str]:
    schema, table = relation.split(".")
    with engine.connect() as conn:
        return [
            str(name)
            for (name,) in conn.execute(
                text(
                    "select column_name from information_schema.columns"
                    " where table_schema = :schema and table_name = :table"
                    " order by ordinal_position"
                ),
                {"schema": schema, "table": table},
            )
            if name != "computed_at"
        ]


def _copy(engine: Engine, relation: str, copy: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"drop table if exists {copy}"))
        conn.execute(text(f"create table {copy} as select * from {relation}"))


def _rows_only_in(engine: Engine, left: str, right: str, columns: list[str]) -> list[Any]:
    listed = ", ".join(columns)
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"select {listed} from {left} except all select {listed} from {right}"
                    " order by 1, 2, 3 limit 5"
                )
            ).all()
        )


@pytest.fixture(scope="module")
def built_incrementally(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Iterator[dict[str, Any]]:
    """Build on the initial bars, then after each later landing incrementally; return the
    dbt result of the last landing (one new bar per series) and the row counts it saw."""
    insert_bars(module_engine, _landing(0))
    dbt_ok(SELECT, module_database)
    last = len(CUTS["1Hour"]) - 1
    for number in range(1, last):
        for symbol, timeframe, index in CORRECTIONS.get(number, []):
            _correct(module_engine, symbol, timeframe, index)
        insert_bars(module_engine, _landing(number))
        if number == LATE_LANDING:
            _backdate_newest_landing(module_engine, timedelta(minutes=30))
        dbt_ok(SELECT, module_database)
    with module_engine.connect() as conn:
        before: int = conn.execute(text("select count(*) from marts.indicators")).scalar_one()
    insert_bars(module_engine, _landing(last))
    result = run_dbt(
        [*SELECT, "--vars", f'{{"as_of": "{DBT_AS_OF.isoformat()}"}}'], module_database
    )
    assert result.success, result.exception
    yield {"result": result, "rows_before": before}


def test_every_bar_landed_is_built(built_incrementally: dict, module_engine: Engine) -> None:
    with module_engine.connect() as conn:
        built: int = conn.execute(text("select count(*) from marts.indicators")).scalar_one()
    assert built == len(BARS)
    assert built_incrementally["rows_before"] == len(BARS) - SERIES_COUNT


def test_hourly_run_computes_and_writes_only_the_new_bar_of_each_series(
    built_incrementally: dict, module_engine: Engine
) -> None:
    results = {
        r.node.name: r
        for r in built_incrementally["result"].result.results
        if r.node.resource_type == "model"
    }
    computed = results["int_bars_indicators_computed"].adapter_response["rows_affected"]
    assert computed == SERIES_COUNT
    with module_engine.connect() as conn:
        for relation in ("intermediate.int_bars_indicators_computed", "marts.indicators"):
            newest = conn.execute(
                text(
                    f"select symbol, timeframe, ts from {relation}"
                    f" where computed_at = (select max(computed_at) from {relation})"
                    " order by symbol, timeframe"
                )
            ).all()
            assert [(r.symbol, r.timeframe) for r in newest] == sorted(
                {(b["symbol"], b["timeframe"]) for b in BARS}
            ), relation
            assert all(
                r.ts == START + (CUTS[r.timeframe][-1] - 1) * STEP[r.timeframe] for r in newest
            ), relation


def test_incremental_builds_equal_a_full_refresh_row_by_row(
    built_incrementally: dict,
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
) -> None:
    """Every column (indicators, carried state, is_warm) is identical, numeric and double
    precision alike: the incremental path runs the same arithmetic in the same order."""
    relations = ("intermediate.int_bars_indicators_computed", "marts.indicators")
    for relation in relations:
        _copy(module_engine, relation, f"public.incremental_{relation.split('.')[1]}")
    dbt_ok([*SELECT, "--full-refresh"], module_database)
    for relation in relations:
        copy = f"public.incremental_{relation.split('.')[1]}"
        columns = _columns(module_engine, relation)
        assert "ema_12" in columns and "is_warm" in columns
        assert _rows_only_in(module_engine, copy, relation, columns) == [], relation
        assert _rows_only_in(module_engine, relation, copy, columns) == [], relation
    with module_engine.connect() as conn:
        warm = conn.execute(
            text(
                "select symbol, min(bar_number) filter (where is_warm) as first_warm"
                " from intermediate.int_bars_indicators_computed"
                " where timeframe = '1Hour' and symbol in ('LATE', 'SHORTY') group by symbol"
            )
        ).all()
    assert {r.symbol: r.first_warm for r in warm} == {"LATE": 50, "SHORTY": 50}
