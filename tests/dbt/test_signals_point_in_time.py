"""Signals are point in time: a truncated history gives the same decisions (no look-ahead), the
incremental build equals a full refresh, and a parameter change applies from its time on only."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from strategies.params import record_params
from strategies.spec import StrategySpec, load_specs

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

SYMBOLS = ("AAA", "BBB", "CCC")
START = datetime(2025, 11, 3, 14, tzinfo=UTC)
BARS = 220
BUILD = ["build", "--select", "+signals", "--exclude", "test_type:unit"]
# An hourly increment: the indicator and signal models only (the staging views exist).
STRATEGIES = "path:models/intermediate/strategies"
RUN = ["run", "--select", "int_bars_indicators_computed", "indicators", STRATEGIES, "signals"]
LIVE_HOURS = 10
COLUMNS = (
    "strategy, symbol, timeframe, ts, decision_at, signal, strength, target_weight, "
    "in_position, reference_price, spec_effective_from"
)


def _bars() -> list[dict[str, Any]]:
    """Hourly bars with swings big enough to make every strategy trade, a few missing hours and
    one jump, per symbol."""
    rows: list[dict[str, Any]] = []
    for number, symbol in enumerate(SYMBOLS):
        rng = random.Random(number)  # noqa: S311 - test data, not secrets
        price = 100.0
        for i in range(BARS):
            if i % 37 == 5:  # a missing hour
                continue
            shock = 0.15 if i == 120 else 0.0
            close = round(price * math.exp(rng.gauss(0, 0.02) + 0.03 * math.sin(i / 9) + shock), 2)
            rows.append(
                {
                    "symbol": symbol,
                    "timeframe": "1Hour",
                    "ts": START + timedelta(hours=i),
                    "open": price,
                    "high": round(max(price, close) * (1 + abs(rng.gauss(0, 0.004))), 2),
                    "low": round(min(price, close) * (1 - abs(rng.gauss(0, 0.004))), 2),
                    "close": close,
                    "volume": rng.randint(1_000, 50_000),
                }
            )
            price = close
    return rows


def _specs() -> list[StrategySpec]:
    return [spec.model_copy(update={"universe": list(SYMBOLS)}) for spec in load_specs()]


def _signals(engine: Engine, before: datetime | None = None) -> list[tuple]:
    where = "where ts < :before" if before else ""
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(f"select {COLUMNS} from marts.signals {where} order by strategy, symbol, ts"),
                {"before": before},
            )
        ]


def _land(engine: Engine, insert_bars: InsertBars, bars: list[dict[str, Any]]) -> None:
    if bars:  # an hour may be missing
        insert_bars(engine, bars)


def _delete_from(engine: Engine, ts: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text("delete from raw.bars where ts >= :ts"), {"ts": ts})


@pytest.fixture(scope="module")
def full_history(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> list[tuple]:
    """Every shipped strategy on three symbols; the signals of the whole history."""
    record_params(module_engine, _specs(), START)
    insert_bars(module_engine, _bars())
    dbt_ok([*BUILD, "--full-refresh"], module_database)
    return _signals(module_engine)


def test_every_strategy_buys_and_sells_in_the_history(full_history: list[tuple]) -> None:
    """The data makes each strategy trade, so the comparisons below compare decisions."""
    decided = {(row[0], row[5]) for row in full_history}
    for spec in load_specs():
        assert {(spec.name, "buy"), (spec.name, "sell")} <= decided, spec.name


def test_truncated_history_gives_the_same_decisions_and_the_increment_catches_up(
    full_history: list[tuple],
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
) -> None:
    """Backtest and live agree: deciding with only the bars up to a cut gives, for every bar
    before the cut, exactly what the whole history gave. Landing the rest afterwards and
    building incrementally, first an hour at a time, gives exactly the full-history signals."""
    # Every strategy decides within the ten live hours from here (hours 111 to 120).
    cut = START + timedelta(hours=111)
    live = {row[:6] for row in full_history if cut <= row[3] < cut + timedelta(hours=LIVE_HOURS)}
    for spec in load_specs():  # the hours decided live include entries or exits
        assert {(spec.name, "buy"), (spec.name, "sell")} & {(r[0], r[5]) for r in live}
    _delete_from(module_engine, cut)
    dbt_ok([*BUILD, "--full-refresh"], module_database)
    truncated = _signals(module_engine)
    assert truncated == [row for row in full_history if row[3] < cut]
    assert max(row[3] for row in truncated) == cut - timedelta(hours=1)

    # Then live, an hour at a time: each of these bars is decided while it is the newest one.
    later = [bar for bar in _bars() if bar["ts"] >= cut]
    for hour in range(LIVE_HOURS):
        _land(
            module_engine,
            insert_bars,
            [bar for bar in later if bar["ts"] == cut + timedelta(hours=hour)],
        )
        dbt_ok(RUN, module_database)
    _land(
        module_engine,
        insert_bars,
        [bar for bar in later if bar["ts"] >= cut + timedelta(hours=LIVE_HOURS)],
    )
    dbt_ok(BUILD, module_database)
    assert _signals(module_engine) == full_history


def test_a_parameter_change_applies_from_its_time_on(
    full_history: list[tuple],
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
) -> None:
    """A changed spec recorded at T leaves the decisions before T as they were; those after T
    use it; a full refresh reproduces both."""
    first_new_bar = START + timedelta(hours=190)
    change_at = first_new_bar + timedelta(minutes=5)  # a cycle's time, after the last close
    _delete_from(module_engine, first_new_bar)
    dbt_ok([*BUILD, "--full-refresh"], module_database)
    before_change = _signals(module_engine)

    changed = [
        spec.model_copy(update={"parameters": {"oversold": 45.0, "exit_above": 50.0}})
        if spec.name == "rsi_mean_reversion"
        else spec
        for spec in _specs()
    ]
    assert record_params(module_engine, changed, change_at) == ["rsi_mean_reversion"]
    _land(module_engine, insert_bars, [bar for bar in _bars() if bar["ts"] >= first_new_bar])
    dbt_ok(BUILD, module_database)
    incremental = _signals(module_engine)

    assert _signals(module_engine, before=first_new_bar) == before_change
    rsi_after = [
        row for row in incremental if row[0] == "rsi_mean_reversion" and row[4] >= change_at
    ]
    assert rsi_after and {row[10] for row in rsi_after} == {change_at}
    assert incremental != full_history  # the change changed decisions after change_at

    dbt_ok([*BUILD, "--full-refresh"], module_database)
    assert _signals(module_engine) == incremental
