"""`dbt build` end to end: empty raw schema, a crafted trading scenario, reproducible decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from execution.orders import CONTRACT
from strategies.params import record_params
from strategies.spec import load_specs

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

HOURS = 60
# The shipped SMA crossover (sma_20 vs sma_50) trades the scenario's symbols, from the start.
EQUITY = Decimal(9595)


def _closes(symbol: str) -> list[Decimal]:
    """Hourly closes: BUYME falls then jumps on the last bar (sma_20 crosses above sma_50);
    SELLME and HOLD keep falling / rising."""
    if symbol == "BUYME":
        return [Decimal(100) - Decimal("0.5") * i for i in range(HOURS - 1)] + [Decimal(400)]
    if symbol == "SELLME":
        return [Decimal(80) - Decimal("0.25") * i for i in range(HOURS)]
    return [Decimal(30) + Decimal("0.1") * i for i in range(HOURS)]


def _insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    sql = (
        f"insert into raw.{table} ({', '.join(columns)})"
        f" values ({', '.join(':' + c for c in columns)})"
    )
    with engine.begin() as conn:
        conn.execute(text(sql), rows)


def _order(order_id: str, symbol: str, qty: int, at: datetime) -> dict[str, Any]:
    return {
        "id": order_id,
        "client_order_id": f"sma_crossover-{symbol}-{order_id}",
        "symbol": symbol,
        "side": "buy",
        "order_type": "market",
        "time_in_force": "day",
        "qty": qty,
        "filled_qty": qty,
        "filled_avg_price": 50,
        "status": "filled",
        "created_at": at,
        "submitted_at": at,
        "updated_at": at,
        "filled_at": at,
        "payload": "{}",
    }


def _fill(fill_id: str, symbol: str, side: str, qty: int, price: int, at: datetime) -> dict:
    return {
        "id": fill_id,
        "order_id": fill_id,
        "symbol": symbol,
        "side": side,
        "qty": qty,
        "price": price,
        "transaction_time": at,
        "fill_type": "fill",
        "payload": "{}",
    }


@dataclass(frozen=True)
class Scenario:
    """The built scenario: its database and the times the expected orders depend on."""

    engine: Engine
    as_of: datetime
    last_bar: datetime
    mart_counts_when_empty: dict[str, int]


def _mart_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            mart: conn.execute(text(f"select count(*) from marts.{mart}")).scalar_one()
            for mart in ("indicators", "signals", "risk_decisions", "approved_orders")
        }


def _approved_orders(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "select client_order_id, strategy, symbol, side, qty, order_class, "
                    "order_type, time_in_force, limit_price, stop_price, cancel_open_exits, "
                    "decision_ts, as_of, reference_price, current_qty, target_qty "
                    "from marts.approved_orders order by symbol"
                )
            )
        ]


@pytest.fixture(scope="module")
def scenario(
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
    dbt_as_of: datetime,
) -> Iterator[Scenario]:
    """Build on the empty raw schema (unit tests included), then record the SMA crossover spec
    for the scenario's symbols, land hourly bars for three symbols whose last bar ended 5
    minutes before as_of, fills bought before as_of and account snapshots, and build again at
    as_of."""
    dbt_ok(["build"], module_database)
    (spec,) = [s for s in load_specs() if s.name == "sma_crossover"]
    scenario_spec = spec.model_copy(update={"universe": ["BUYME", "SELLME", "HOLD"]})
    record_params(module_engine, [scenario_spec], dbt_as_of)
    mart_counts_when_empty = _mart_counts(module_engine)

    last_bar = dbt_as_of - timedelta(hours=1, minutes=5)
    start = last_bar - timedelta(hours=HOURS - 1)
    insert_bars(
        module_engine,
        [
            {
                "symbol": symbol,
                "timeframe": "1Hour",
                "ts": start + timedelta(hours=i),
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": 500,
            }
            for symbol in ("BUYME", "SELLME", "HOLD")
            for i, close in enumerate(_closes(symbol))
        ]
        + [
            {
                "symbol": "BUYME",
                "timeframe": "1Day",
                "ts": start + timedelta(days=i),
                "open": 1,
                "high": 1,
                "low": 1,
                "close": 1,
                "volume": 0,
            }
            for i in range(3)
        ],
    )
    bought_at = start + timedelta(hours=2)
    _insert(
        module_engine,
        "orders",
        [_order("o-sell", "SELLME", 7, bought_at), _order("o-hold", "HOLD", 5, bought_at)],
    )
    _insert(
        module_engine,
        "fills",
        [
            _fill("o-sell", "SELLME", "buy", 7, 79, bought_at),
            _fill("o-hold", "HOLD", "buy", 5, 30, bought_at),
        ],
    )
    _insert(
        module_engine,
        "account_snapshots",
        [
            {
                "snapshot_at": start + timedelta(hours=h),
                "account_id": "acct",
                "status": "ACTIVE",
                "cash": cash,
                "equity": equity,
                "payload": "{}",
            }
            # Cash moves by exactly what the two fills paid (553 + 150), so reconciliation agrees.
            for h, cash, equity in ((0, 10000, 10000), (5, 9297, 10100), (10, 9297, EQUITY))
        ],
    )
    # The broker's positions agree with the fills, so reconciliation lets trading go on.
    _insert(
        module_engine,
        "position_snapshots",
        [
            {
                "snapshot_at": start + timedelta(hours=h),
                "symbol": symbol,
                "qty": qty,
                "avg_entry_price": price,
                "payload": "{}",
            }
            for h in (5, 10)
            for symbol, qty, price in (("SELLME", 7, 79), ("HOLD", 5, 30))
        ],
    )
    dbt_ok(["build", "--exclude", "test_type:unit"], module_database)
    yield Scenario(module_engine, dbt_as_of, last_bar, mart_counts_when_empty)


def test_build_passes_on_an_empty_raw_schema(scenario: Scenario) -> None:
    assert scenario.mart_counts_when_empty == {
        "indicators": 0,
        "signals": 0,
        "risk_decisions": 0,
        "approved_orders": 0,
    }


def test_approved_orders_are_the_crossover_buy_and_the_flat_sell(scenario: Scenario) -> None:
    decision_ts = scenario.last_bar
    stamp = decision_ts.strftime("%Y%m%d%H%M")
    # Target weight 0.3 / 3 of the last equity, in 400 USD shares.
    buy_qty = int(Decimal("0.1") * EQUITY / 400)
    assert _approved_orders(scenario.engine) == [
        (
            f"sma_crossover-BUYME-{stamp}-b",
            "sma_crossover",
            "BUYME",
            "buy",
            Decimal(buy_qty),
            "simple",
            "market",
            "day",
            None,
            None,
            False,
            decision_ts,
            scenario.as_of,
            Decimal(400),
            Decimal(0),
            Decimal(buy_qty),
        ),
        (
            f"sma_crossover-SELLME-{stamp}-s",
            "sma_crossover",
            "SELLME",
            "sell",
            Decimal(7),
            "simple",
            "market",
            "day",
            None,
            None,
            False,
            decision_ts,
            scenario.as_of,
            Decimal("65.25"),
            Decimal(7),
            Decimal(0),
        ),
    ]


def test_signals_buy_on_the_cross_and_on_the_first_warm_bar_wanting_a_position(
    scenario: Scenario,
) -> None:
    """Indicators are warm from the 50th bar; HOLD (rising) wants a position from then on,
    BUYME only after its last bar's jump, SELLME never."""
    first_warm_bar = scenario.last_bar - timedelta(hours=HOURS - 50)
    with scenario.engine.connect() as conn:
        decisions = conn.execute(
            text(
                "select symbol, ts, signal from marts.signals"
                " where signal <> 'hold' order by symbol"
            )
        ).all()
        counts = dict(
            conn.execute(text("select symbol, count(*) from marts.signals group by symbol")).all()
        )
    assert [tuple(d) for d in decisions] == [
        ("BUYME", scenario.last_bar, "buy"),
        ("HOLD", first_warm_bar, "buy"),
    ]
    assert counts == {symbol: HOURS - 49 for symbol in ("BUYME", "SELLME", "HOLD")}


def test_positions_and_equity_curve_follow_raw_data(scenario: Scenario) -> None:
    with scenario.engine.connect() as conn:
        positions = conn.execute(
            text("select symbol, qty, avg_cost from marts.positions order by symbol")
        ).all()
        curve = conn.execute(
            text("select equity, peak_equity, drawdown from marts.equity_curve order by 1")
        ).all()
    assert [tuple(p) for p in positions] == [
        ("HOLD", Decimal(5), Decimal(30)),
        ("SELLME", Decimal(7), Decimal(79)),
    ]
    assert [(e, p, pytest.approx(float(d), abs=1e-12)) for e, p, d in curve] == [
        (Decimal(9595), Decimal(10100), 9595 / 10100 - 1),
        (Decimal(10000), Decimal(10000), 0.0),
        (Decimal(10100), Decimal(10100), 0.0),
    ]


def test_approved_orders_contract_is_enforced(scenario: Scenario) -> None:
    with scenario.engine.connect() as conn:
        columns = conn.execute(
            text(
                "select column_name, data_type, is_nullable from information_schema.columns"
                " where table_schema = 'marts' and table_name = 'approved_orders'"
                " order by ordinal_position"
            )
        ).all()
    assert [tuple(c) for c in columns] == CONTRACT


def test_rerun_with_same_as_of_after_later_fills_gives_identical_orders(
    scenario: Scenario, module_database: Connection, dbt_ok: DbtOk
) -> None:
    before = _approved_orders(scenario.engine)
    filled_at = scenario.as_of + timedelta(minutes=1)
    _insert(scenario.engine, "orders", [_order("o-later", "BUYME", 50, filled_at)])
    _insert(scenario.engine, "fills", [_fill("o-later", "BUYME", "buy", 50, 400, filled_at)])

    dbt_ok(
        [
            "build",
            "--select",
            "int_positions_accumulated+ int_fills_attributed+ int_strategy_positions_accumulated+",
            "--exclude",
            "test_type:unit",
        ],
        module_database,
    )

    with scenario.engine.connect() as conn:
        buyme_qty = conn.execute(
            text("select qty from marts.positions where symbol = 'BUYME'")
        ).scalar_one()
    assert buyme_qty == Decimal(50)
    assert _approved_orders(scenario.engine) == before
