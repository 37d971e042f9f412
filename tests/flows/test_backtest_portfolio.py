"""Portfolio mode: one account, the live risk rules replayed decision time by decision time.

The proof that there is one copy of each rule: land the replay's own book (its orders, fills,
bracket legs and account marks) as the broker would have reported it, build the live
marts.risk_decisions at sampled decision times, and require the very decisions the replay made.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from config.database import Connection
from execution.kill_switch import resume
from flows.cli import app
from flows.dbt import run_dbt
from simulator.server import SimulatorHandle
from strategies.params import record_params
from strategies.spec import StrategySpec

pytestmark = pytest.mark.integration

SYMBOLS = ["AAPL", "MSFT", "NVDA"]
# What a decision is: everything the review decides, not when it was computed.
DECIDED = (
    "strategy, symbol, signal, side, qty, order_class, order_type, time_in_force, limit_price,"
    " stop_price, take_profit_price, stop_loss_price, cancel_open_exits, decision_ts, as_of,"
    " reference_price, target_weight, equity, current_qty, target_qty, max_position_value,"
    " open_positions, max_positions, has_open_order, trading_state, is_approved, outcome,"
    " rejection_reasons, reductions, proposed_qty, cooldown_until"
)

# The replay's book as the broker reports it: each round trip's entry order and fill, a
# bracket's two exit legs (one fills, the other is cancelled; both cancelled by a signal's
# exit, at its decision time), the signal's exit order and fill.
LAND_ORDERS = """
with
trips as (
    select trips.*, entries.as_of as entry_as_of, entries.client_order_id as entry_id,
        entries.order_class, entries.time_in_force, entries.take_profit_price,
        entries.stop_loss_price, exits.as_of as exit_as_of, exits.client_order_id as exit_id
    from intermediate.int_backtest_portfolio_round_trips as trips
    inner join marts.backtest_portfolio_decisions as entries
        on entries.run_id = trips.run_id and entries.symbol = trips.symbol
        and entries.decision_ts = trips.entry_decision_ts and entries.side = 'buy'
        and entries.is_approved
    left join marts.backtest_portfolio_decisions as exits
        on exits.run_id = trips.run_id and exits.symbol = trips.symbol
        and exits.decision_ts = trips.exit_decision_ts and exits.side = 'sell'
        and exits.is_approved
    where trips.run_id = :run_id
),
orders as (
    select 'entry-' || entry_id as id, entry_id as client_order_id, symbol, 'buy' as side,
        'market' as order_type, time_in_force, quantity as qty, quantity as filled_qty,
        entry_price as filled_avg_price, cast(null as numeric) as limit_price,
        cast(null as numeric) as stop_price, 'filled' as status, entry_as_of as created_at,
        entry_at as updated_at, entry_at as filled_at, cast(null as timestamptz) as canceled_at,
        order_class, cast(null as text) as parent_order_id
    from trips
    union all
    select 'exit-' || exit_id, exit_id, symbol, 'sell', 'market', 'day', quantity, quantity,
        exit_price, null, null, 'filled', exit_as_of, exit_at, exit_at, null, 'simple', null
    from trips
    where exit_reason = 'signal'
    union all
    select leg || '-' || entry_id, leg || '-' || entry_id, symbol, 'sell',
        case leg when 'tp' then 'limit' else 'stop' end, time_in_force, quantity,
        case when filled then quantity else 0 end,
        case when filled then exit_price end,
        case leg when 'tp' then take_profit_price end,
        case leg when 'sl' then stop_loss_price end,
        case when filled then 'filled' when ended_at is null then 'held' else 'canceled' end,
        entry_as_of, coalesce(ended_at, entry_as_of),
        case when filled then exit_at end,
        case when not filled then ended_at end,
        'simple', 'entry-' || entry_id
    from (
        select trips.*, legs.leg,
            trips.exit_reason = case legs.leg when 'tp' then 'take_profit' else 'stop_loss' end
                as filled,
            case when trips.exit_reason = 'signal' then trips.exit_as_of else trips.exit_at end
                as ended_at
        from trips
        cross join (values ('tp'), ('sl')) as legs (leg)
        where trips.order_class = 'bracket'
    ) as legs
),
landed as (
    insert into raw.orders (id, client_order_id, symbol, side, order_type, time_in_force, qty,
        filled_qty, filled_avg_price, limit_price, stop_price, status, created_at, submitted_at,
        updated_at, filled_at, canceled_at, payload, order_class, parent_order_id, source)
    select id, client_order_id, symbol, side, order_type, time_in_force, qty, filled_qty,
        filled_avg_price, limit_price, stop_price, status, created_at, created_at, updated_at,
        filled_at, canceled_at, '{}', order_class, parent_order_id, 'simulator'
    from orders
    returning *
)
insert into raw.fills (id, order_id, symbol, side, qty, price, transaction_time, fill_type,
    payload, source)
select 'fill-' || id, id, symbol, side, filled_qty, filled_avg_price, filled_at, 'fill', '{}',
    'simulator'
from landed
where status = 'filled'
"""

# The account at every bar end (the replay's marks: backtest_equity's total), its previous
# day's last mark as last_equity, and its positions at the latest close known then.
LAND_ACCOUNT = """
with marks as (
    select marked_at, equity, cash,
        coalesce(
            (select earlier.equity from marts.backtest_equity as earlier
             where earlier.run_id = total.run_id and earlier.book = 'total'
                and earlier.marked_at < cast(cast(total.marked_at at time zone 'America/New_York'
                    as date) as timestamp) at time zone 'America/New_York'
             order by earlier.marked_at desc limit 1),
            (select initial_cash from raw.backtest_runs where run_id = :run_id)
        ) as last_equity
    from marts.backtest_equity as total
    where run_id = :run_id and book = 'total'
),
snapshots as (
    insert into raw.account_snapshots (snapshot_at, account_id, status, cash, equity,
        last_equity, payload, source)
    select marked_at, 'replay', 'ACTIVE', cash, equity, last_equity, '{}', 'simulator'
    from marks
    returning snapshot_at
)
insert into raw.position_snapshots (snapshot_at, symbol, qty, avg_entry_price, market_value,
    current_price, payload, source)
select snapshots.snapshot_at, trips.symbol, trips.quantity, trips.entry_price,
    trips.quantity * closes.close, closes.close, '{}', 'simulator'
from snapshots
inner join intermediate.int_backtest_portfolio_round_trips as trips
    on trips.run_id = :run_id and trips.entry_at < snapshots.snapshot_at
    and (trips.exit_at is null or trips.exit_at >= snapshots.snapshot_at)
cross join lateral (
    select bars.close from intermediate.int_backtest_bars_selected as bars
    where bars.run_id = :run_id and bars.symbol = trips.symbol
        and bars.bar_end_at <= snapshots.snapshot_at
    order by bars.ts desc limit 1
) as closes
"""


def _backtest(runner: CliRunner, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["backtest", *args, "--mode", "portfolio", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def _decisions(engine: Engine, relation: str, where: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"select {DECIDED} from {relation} where {where} order by strategy, symbol"),
            params,
        ).all()
    return [tuple(row) for row in rows]


def _sampled(engine: Engine, run_id: str) -> list[datetime]:
    """The first decision time of each kind of decision the replay made, and its last one."""
    with engine.connect() as conn:
        return [
            at
            for (at,) in conn.execute(
                text(
                    "select distinct first_at from ("
                    " select min(as_of) as first_at from marts.backtest_portfolio_decisions"
                    " where run_id = :r"
                    " group by side, outcome, rejection_reason, cancel_open_exits"
                    " union all select max(as_of) from marts.backtest_portfolio_decisions"
                    " where run_id = :r"
                    ") as kinds order by first_at limit 9"
                ),
                {"r": run_id},
            )
        ]


def test_portfolio_decisions_equal_the_live_review_at_the_same_book(
    env: dict[str, str], sim: SimulatorHandle, engine: Engine, fresh_database: Connection
) -> None:
    runner = CliRunner()
    landed = runner.invoke(
        app, ["backfill", "--symbols", ",".join(SYMBOLS), "--start", "2024-01-15"], env=env
    )
    assert landed.exit_code == 0, landed.output
    summary = _backtest(
        runner, env, "--strategy", "bollinger_breakout", "--symbols", ",".join(SYMBOLS)
    )
    run_id = summary["run_id"]
    sampled = _sampled(engine, run_id)
    with engine.connect() as conn:
        kinds = conn.execute(
            text(
                "select array_agg(distinct coalesce(rejection_reason, outcome))"
                " from marts.backtest_portfolio_decisions where run_id = :r"
            ),
            {"r": run_id},
        ).scalar_one()
    # The window exercises the account's rules, the bracket legs and the book's own orders.
    assert {"approved", "max_positions", "exited_by_bracket"} <= set(kinds), kinds
    assert summary["trades"] > 0 and len(sampled) >= 4

    # The live side: the same spec (its universe the backtested symbols), the replay's book
    # landed as the broker's, the operator's resume acknowledging what reconciliation says
    # about a book that never met a broker (its marks are the replay's, not a broker's).
    spec = yaml.safe_load(Path("strategies/specs/bollinger_breakout.yaml").read_text())
    record_params(
        engine,
        [StrategySpec.model_validate(spec | {"universe": SYMBOLS})],
        datetime.fromisoformat("2000-01-01T00:00:00+00:00"),
    )
    with engine.begin() as conn:
        conn.execute(text(LAND_ORDERS), {"run_id": run_id})
        conn.execute(text(LAND_ACCOUNT), {"run_id": run_id})
    resume(engine, "the replay's book is landed as the broker's")

    for number, as_of in enumerate(sampled):
        select = (
            "+risk_decisions" if number == 0 else "trading_state shadow_decisions risk_decisions"
        )
        result = run_dbt(
            [
                "run",
                "--select",
                *select.split(),
                "--vars",
                json.dumps({"as_of": as_of.isoformat()}),
            ],
            fresh_database,
        )
        assert result.success, f"live build at {as_of}: {result.exception}"
        live = _decisions(engine, "marts.risk_decisions", "mode = 'live'")
        replayed = _decisions(
            engine,
            "marts.backtest_portfolio_decisions",
            "run_id = :r and as_of = :t",
            r=run_id,
            t=as_of,
        )
        assert live == replayed, f"at {as_of}"


def test_portfolio_mode_refuses_an_order_type_its_broker_does_not_fill(
    env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    spec = yaml.safe_load(Path("strategies/specs/rsi_mean_reversion.yaml").read_text())
    spec["order"] = {"type": "limit", "limit_offset": 0.01, "time_in_force": "day"}
    spec_file = tmp_path / "limit_entry.yaml"
    spec_file.write_text(yaml.safe_dump(spec))

    result = CliRunner().invoke(
        app, ["backtest", "--spec", str(spec_file), "--mode", "portfolio"], env=env
    )

    assert result.exit_code == 2, result.output
    assert "--mode portfolio fills market and bracket orders" in result.output
    assert "order.type 'limit'" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from raw.backtest_runs")).scalar_one() == 0
