"""Shadow strategies: a `mode: shadow` spec beside the shipped ones, through real `trading run`
cycles against the simulator. It never sends an order, its decisions are recorded every cycle
and kept, and the live strategies decide exactly as they do without it."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

import flows.pipeline
import strategies.spec
from config.database import Connection, make_engine
from flows.cli import app
from flows.dbt import DBT_PROJECT_DIR, run_dbt
from flows.prefect_server import prefect_api
from ingestion.migrate import scratch_database
from simulator.server import running_simulator
from strategies.spec import SPECS_DIR, dbt_vars, load_specs
from tests.flows.conftest import NOW, SECRET

pytestmark = pytest.mark.integration

SHADOW = "trend_shadow"
CYCLES = 3
# The SMA crossover's rules with a budget of the whole account and the strongest signals (the
# gap that makes strength 1 is tiny): had its paper positions counted, the account's limits
# would have refused live buys.
SHADOW_SPEC = f"""\
name: {SHADOW}
description: A candidate trend follower, on paper beside the live strategies.
mode: shadow
timeframe: 1Hour
universe: [AAPL, MSFT, AMZN, GOOGL, META, NVDA, TSLA, JPM, V, XOM]
parameters:
  full_strength_gap: 0.0001
limits:
  capital_budget: 1.0
  max_positions: 10
"""
PAPER_MARTS = "shadow_fills shadow_equity shadow_performance"


@dataclass(frozen=True)
class Setup:
    """Where one set of cycles ran: a copy of the dbt project and a specs directory."""

    project: Path
    specs: Path

    @property
    def models(self) -> Path:
        return self.project / "models" / "intermediate" / "strategies"


@dataclass
class Cycles:
    """What the cycles of one setup left, read after each cycle and at the end."""

    live_decisions: list[list[dict[str, Any]]]
    shadow_decisions: list[list[dict[str, Any]]]
    shadow_in_risk_decisions: list[list[dict[str, Any]]]
    sent: list[tuple[str, str, str, Decimal]]
    posts: int
    submitted: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    equity: list[dict[str, Any]]
    performance: list[dict[str, Any]]
    bars: dict[tuple[str, Any], dict[str, Any]]
    after_full_refresh: list[dict[str, Any]]


def _rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(text(sql)).mappings()]


def _run_cycles(server: Connection, setup: Setup, home: Path) -> Cycles:
    """CYCLES hourly `trading run`s on a fresh simulator and database with the setup's specs."""
    name = f"test_shadow_{uuid.uuid4().hex[:10]}"
    with (
        running_simulator(start=NOW, speed=0.0) as sim,
        scratch_database(server, name) as database,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(strategies.spec.load_specs, "__defaults__", (setup.specs, setup.models))
        patch.setattr(flows.pipeline, "DBT_PROJECT_DIR", setup.project)
        env = {
            "DATABASE_URL": database.url,
            "ALPACA_API_KEY": "PKTEST",
            "ALPACA_SECRET_KEY": SECRET,
            "ALPACA_TRADING_URL": sim.url,
            "ALPACA_DATA_URL": sim.url,
            "TRADING_HOME": str(home),
            "REDIS_URL": "",
            "COLUMNS": "250",
            "ALPACA_RATE_LIMIT_PER_MINUTE": "100000",
        }
        engine = make_engine(database)
        try:
            cycles = Cycles([], [], [], [], 0, [], [], [], [], {}, [])
            # One Prefect server for the cycles, as `trading serve` keeps one.
            with prefect_api():
                for hour in range(CYCLES):
                    sim.simulator.set_time(NOW + timedelta(hours=hour))
                    result = CliRunner().invoke(app, ["run", "--force"], env=env)
                    assert result.exit_code == 0, result.output
                    cycles.live_decisions.append(
                        _rows(
                            engine,
                            "select * from marts.risk_decisions where mode = 'live'"
                            " order by client_order_id",
                        )
                    )
                    cycles.shadow_decisions.append(
                        _rows(engine, "select * from marts.shadow_decisions order by as_of, symbol")
                    )
                    cycles.shadow_in_risk_decisions.append(
                        _rows(engine, "select * from marts.risk_decisions where mode = 'shadow'")
                    )
            orders = sim.simulator.broker.list_orders(status="all", limit=500, nested=True)
            cycles.sent = sorted(
                (o.client_order_id, o.symbol, o.side, o.qty or Decimal(0)) for o in orders
            )
            cycles.posts = sim.simulator.requests.counts().get("POST /v2/orders", 0)
            cycles.submitted = _rows(
                engine,
                "select client_order_id, strategy, symbol, side, qty, order_type, decision_ts,"
                " status from raw.order_submissions order by client_order_id",
            )
            # The last cycle's decision time again, with --full-refresh: the record must stand.
            variables = {
                **dbt_vars(load_specs(setup.specs, setup.models)),
                "as_of": (NOW + timedelta(hours=CYCLES - 1)).isoformat(),
            }
            built = run_dbt(
                [
                    "build",
                    "--select",
                    f"shadow_decisions {PAPER_MARTS}",
                    "--exclude",
                    "test_type:unit",
                    "--full-refresh",
                    "--project-dir",
                    str(setup.project),
                    "--vars",
                    json.dumps(variables),
                ],
                database,
            )
            assert built.success, built.exception
            cycles.after_full_refresh = _rows(
                engine, "select * from marts.shadow_decisions order by as_of, symbol"
            )
            cycles.fills = _rows(
                engine, "select * from marts.shadow_fills order by symbol, fill_number"
            )
            cycles.equity = _rows(engine, "select * from marts.shadow_equity order by ts")
            cycles.performance = _rows(engine, "select * from marts.shadow_performance")
            cycles.bars = {
                (row["symbol"], row["ts"]): row
                for row in _rows(
                    engine,
                    "select symbol, ts, open, close from raw.bars where timeframe = '1Hour'",
                )
            }
        finally:
            engine.dispose()
    return cycles


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt project with the shadow strategy's signal model: the SMA crossover's SQL."""
    root = tmp_path_factory.mktemp("shadow_project") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, root, ignore=shutil.ignore_patterns("target", "logs"))
    models = root / "models" / "intermediate" / "strategies"
    shutil.copy(models / "int_sma_crossover__signals.sql", models / f"int_{SHADOW}__signals.sql")
    return root


def _specs(directory: Path, shadow: bool) -> Path:
    shutil.copytree(SPECS_DIR, directory)
    if shadow:
        (directory / f"{SHADOW}.yaml").write_text(SHADOW_SPEC)
    return directory


@pytest.fixture(scope="module")
def without_shadow(
    project: Path, postgres_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cycles]:
    root = tmp_path_factory.mktemp("without_shadow")
    yield _run_cycles(postgres_server, Setup(project, _specs(root / "specs", False)), root)


@pytest.fixture(scope="module")
def with_shadow(
    project: Path, postgres_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cycles]:
    root = tmp_path_factory.mktemp("with_shadow")
    yield _run_cycles(postgres_server, Setup(project, _specs(root / "specs", True)), root)


def test_no_order_of_the_shadow_strategy_reaches_the_simulator(with_shadow: Cycles) -> None:
    approved_on_paper = [
        row for cycle in with_shadow.shadow_decisions[-1:] for row in cycle if row["is_approved"]
    ]
    assert approved_on_paper, "the shadow strategy approved nothing: the test proves nothing"
    assert with_shadow.sent, "the live strategies sent nothing: the test proves nothing"
    assert [order for order in with_shadow.sent if order[0].startswith(SHADOW)] == []
    assert with_shadow.posts == len(with_shadow.sent) == len(with_shadow.submitted)


def test_the_live_strategies_decide_and_trade_as_without_the_shadow_one(
    with_shadow: Cycles, without_shadow: Cycles
) -> None:
    assert with_shadow.live_decisions == without_shadow.live_decisions
    assert with_shadow.sent == without_shadow.sent
    assert with_shadow.submitted == without_shadow.submitted
    assert any(with_shadow.live_decisions), "no live decision: the test proves nothing"


def test_had_the_shadow_book_counted_the_account_limits_would_have_refused_live_buys(
    with_shadow: Cycles,
) -> None:
    """The comparison above could fail: in the cycle of the shadow strategy's first paper buys,
    those and the live buys sent add up to more than the account's gross exposure limit (the
    seed policy's 1 × equity), and the paper buys are the strongest, so they would rank first."""
    for recorded in with_shadow.shadow_decisions:
        now = max(row["as_of"] for row in recorded)
        paper = [
            r for r in recorded if r["as_of"] == now and r["is_approved"] and r["side"] == "buy"
        ]
        if paper:
            break
    else:
        pytest.fail("the shadow strategy never bought")
    deciding_bar = paper[0]["decision_ts"]
    live = [
        order
        for order in with_shadow.submitted
        if order["decision_ts"] == deciding_bar and order["side"] == "buy"
    ]
    assert live, "no live buy in that cycle"
    paper_value = sum(row["qty"] * row["reference_price"] for row in paper)
    live_value = sum(
        order["qty"] * with_shadow.bars[(order["symbol"], deciding_bar)]["close"] for order in live
    )
    assert paper_value + live_value > paper[0]["equity"]
    strengths = {
        row["client_order_id"]: row["strength"]
        for cycle in with_shadow.live_decisions
        for row in cycle
    }
    assert min(row["strength"] for row in paper) > max(
        strengths[order["client_order_id"]] for order in live
    )


def test_every_cycle_records_the_shadow_decisions_and_keeps_them_through_a_full_refresh(
    with_shadow: Cycles,
) -> None:
    recorded = with_shadow.shadow_decisions
    times = [sorted({row["as_of"] for row in cycle}) for cycle in recorded]
    assert times == [[NOW + timedelta(hours=h) for h in range(n + 1)] for n in range(CYCLES)]
    for earlier, later in zip(recorded, recorded[1:], strict=False):
        kept = [row for row in later if row["as_of"] in {r["as_of"] for r in earlier}]
        assert kept == earlier
    last = recorded[-1]
    assert with_shadow.after_full_refresh == last
    assert {row["strategy"] for row in last} == {SHADOW}
    universe = {"AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "V", "XOM"}
    for cycle_time in times[-1]:
        assert {row["symbol"] for row in last if row["as_of"] == cycle_time} == universe


def test_the_cycles_risk_decisions_show_the_shadow_orders_of_that_cycle(
    with_shadow: Cycles,
) -> None:
    for cycle, shown in zip(
        with_shadow.shadow_decisions, with_shadow.shadow_in_risk_decisions, strict=True
    ):
        now = max(row["as_of"] for row in cycle)
        wanted = {row["client_order_id"] for row in cycle if row["as_of"] == now and row["side"]}
        assert {row["client_order_id"] for row in shown} == wanted


def test_the_paper_book_fills_at_the_next_bars_open_and_decides_on_its_own_positions(
    with_shadow: Cycles,
) -> None:
    decisions = with_shadow.shadow_decisions[-1]
    bought = [row for row in decisions if row["is_approved"] and row["side"] == "buy"]
    assert bought
    by_decision = {fill["decision_id"]: fill for fill in with_shadow.fills}
    for row in bought:
        fill_ts = row["decision_at"]
        bar = with_shadow.bars.get((row["symbol"], fill_ts))
        fill = by_decision.get(row["decision_id"])
        if bar is None:
            assert fill is None
            continue
        assert fill is not None
        assert (fill["filled_at"], fill["price"], fill["qty"]) == (fill_ts, bar["open"], row["qty"])
    first_buys = [row for row in bought if row["as_of"] < NOW + timedelta(hours=CYCLES - 1)]
    assert first_buys, "no paper buy before the last cycle"
    last_time = NOW + timedelta(hours=CYCLES - 1)
    for row in first_buys:
        then = [r for r in decisions if r["as_of"] == last_time and r["symbol"] == row["symbol"]]
        assert then and then[0]["current_qty"] == row["qty"]


def test_the_paper_equity_is_cash_plus_positions_at_the_close(with_shadow: Cycles) -> None:
    equity = with_shadow.equity
    assert equity
    start = equity[0]["starting_equity"]
    cash = start - sum(f["signed_qty"] * f["price"] for f in with_shadow.fills)
    held: dict[str, Decimal] = {}
    for fill in with_shadow.fills:
        held[fill["symbol"]] = fill["position_qty"]
    last = equity[-1]
    value = sum(
        qty * with_shadow.bars[(symbol, last["ts"])]["close"] for symbol, qty in held.items()
    )
    assert last["cash"] == cash
    assert last["equity"] == cash + value
    (performance,) = with_shadow.performance
    assert performance["strategy"] == SHADOW
    assert performance["decision_time_count"] == CYCLES
    assert performance["ending_equity"] == last["equity"]
