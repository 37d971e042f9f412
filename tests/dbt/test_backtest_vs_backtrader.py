"""Signal-mode backtests equal backtrader's on the same bars: the same round trips (entry and exit
bars, prices, quantities) and the same final equity to the cent, for the SMA crossover and the RSI
mean reversion, on a real-looking daily series and a synthetic hourly one with gaps.

backtrader decides with its own indicators (SMA, Wilder RSI), never with our signals, and fills
with its own broker (market orders at the next bar's open, percentage slippage, a commission
scheme of its own class), so the test covers our chain from raw bars to the marts."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import backtrader as bt
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from config.database import Connection
from simulator.market import Market, TimeFrame
from strategies.params import record_params
from strategies.spec import load_specs
from tests.dbt.backtests import COSTS, build_run, record_run, rows

pytestmark = pytest.mark.integration

InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]
DbtOk = Callable[[list[str], Connection], None]

CASH = Decimal(100_000)
WARM_BAR = 50  # marts.indicators is warm from a series' 50th bar: the first signal
CENT = Decimal("0.01")
# The cap of the FINRA TAF bites at ~60 shares: the hourly runs check it.
HOURLY_COSTS = {**COSTS, "finra_taf_max": 0.01}
STRATEGIES = ("sma_crossover", "rsi_mean_reversion")
# Build everything the backtest models read (the indicators, the staging of the runs), not them.
SIGNALS = ["build", "--select", "+tag:backtest", "--exclude", "tag:backtest", "test_type:unit"]


@dataclass(frozen=True)
class Scenario:
    """Bars of several symbols on one timeframe, and the costs its runs use."""

    name: str
    timeframe: str
    bars: dict[str, list[dict[str, Any]]]
    costs: Mapping[str, float]

    @property
    def symbols(self) -> list[str]:
        """The scenario's symbols."""
        return sorted(self.bars)


def _daily() -> Scenario:
    """300 sessions of five simulated stocks (the simulator's seeded daily bars, stamped at
    midnight New York as Alpaca's are), overnight gaps included."""
    market = Market()
    first = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    bars: dict[str, list[dict[str, Any]]] = {}
    for symbol in ("AAPL", "AMZN", "META", "NVDA", "TSLA"):
        series = market.bars(symbol, TimeFrame.DAY)
        start = next(i for i, t in enumerate(series.t) if t >= first)
        bars[symbol] = [
            _bar(
                symbol,
                "1Day",
                datetime.fromtimestamp(int(series.t[i]), UTC),
                float(series.o[i]),
                float(series.h[i]),
                float(series.l[i]),
                float(series.c[i]),
            )
            for i in range(start, start + 300)
        ]
    return Scenario("daily", "1Day", bars, COSTS)


def _hourly() -> Scenario:
    """Seven bars a weekday for 12 weeks, with swings both rules trade on; every symbol misses
    some hours, BBB a whole day (a halt: its orders wait for the next day's first bar, at a gapped
    open), and CCC stops trading six bars before the others (its last decision never fills)."""
    bars: dict[str, list[dict[str, Any]]] = {}
    day = date(2025, 9, 1)
    days = [day + timedelta(days=n) for n in range(84) if (day + timedelta(days=n)).weekday() < 5]
    for number, symbol in enumerate(("AAA", "BBB", "CCC")):
        rng = random.Random(100 + number)  # noqa: S311 - test data
        close = 50.0 + 30 * number
        series: list[dict[str, Any]] = []
        halted = days[30]
        for d, session in enumerate(days):
            for hour in range(7):
                ts = datetime(session.year, session.month, session.day, 14 + hour, tzinfo=UTC)
                i = d * 7 + hour
                gap = rng.gauss(0, 0.015) if hour == 0 else 0.0
                open_ = round(close * math.exp(gap), 2)
                close = round(
                    open_ * math.exp(rng.gauss(0, 0.012) + 0.012 * math.sin(i / 11 + number)), 2
                )
                if (symbol == "BBB" and session == halted) or rng.random() < 0.04:
                    continue  # a missing bar: the price moved on while nothing printed
                high = round(max(open_, close) * (1 + abs(rng.gauss(0, 0.003))), 2)
                low = round(min(open_, close) * (1 - abs(rng.gauss(0, 0.003))), 2)
                series.append(_bar(symbol, "1Hour", ts, open_, high, low, close))
        bars[symbol] = series[:-6] if symbol == "CCC" else series
    return Scenario("hourly", "1Hour", bars, HOURLY_COSTS)


def _bar(
    symbol: str, timeframe: str, ts: datetime, o: float, h: float, lo: float, c: float
) -> dict[str, Any]:
    cents = [Decimal(str(round(x, 2))) for x in (o, h, lo, c)]
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "ts": ts,
        "open": cents[0],
        "high": cents[1],
        "low": cents[2],
        "close": cents[3],
        "volume": 10_000,
    }


@dataclass
class Landed:
    """A scenario landed in the module's database, its signals built."""

    scenario: Scenario
    engine: Engine
    connection: Connection
    dbt_ok: DbtOk
    weights: dict[str, Decimal] = field(default_factory=dict)

    def run(
        self, strategy: str, start_at: datetime | None = None, end_at: datetime | None = None
    ) -> str:
        """Record and build one backtest run; return its run_id."""
        run_id = record_run(
            self.engine,
            strategy,
            self.scenario.timeframe,
            self.scenario.symbols,
            start_at=start_at,
            end_at=end_at,
            initial_cash=CASH,
            costs=self.scenario.costs,
        )
        build_run(self.dbt_ok, self.connection, run_id)
        return run_id


@pytest.fixture(scope="module", params=["daily", "hourly"])
def landed(
    request: pytest.FixtureRequest,
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: DbtOk,
    insert_bars: InsertBars,
) -> Iterator[Landed]:
    """The scenario's bars landed (replacing the other scenario's) and the shipped specs recorded
    on its symbols and timeframe; the signals rebuilt from scratch."""
    scenario = _daily() if request.param == "daily" else _hourly()
    with module_engine.begin() as conn:
        conn.execute(text("truncate raw.bars, raw.strategy_params"))
    insert_bars(module_engine, [bar for bars in scenario.bars.values() for bar in bars])
    specs = [
        spec.model_copy(update={"universe": scenario.symbols, "timeframe": scenario.timeframe})
        for spec in load_specs()
    ]
    first_bar = min(bar["ts"] for bars in scenario.bars.values() for bar in bars)
    record_params(module_engine, specs, first_bar)
    dbt_ok([*SIGNALS, "--full-refresh"], module_database)
    weights = {
        spec.name: Decimal(str(spec.limits.capital_budget)) / spec.limits.max_positions
        for spec in specs
    }
    yield Landed(scenario, module_engine, module_database, dbt_ok, weights)


# --- backtrader -----------------------------------------------------------------------------


class Fees(bt.CommInfoBase):  # type: ignore[misc]
    """Commission per share and in basis points; on sells the SEC fee and the capped FINRA TAF."""

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("per_share", 0.0),
        ("bps", 0.0),
        ("sec_per_million", 0.0),
        ("taf_per_share", 0.0),
        ("taf_max", 0.0),
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        shares = abs(size)
        value = shares * price
        fee = shares * self.p.per_share + value * self.p.bps / 10_000
        if size < 0:
            fee += value * self.p.sec_per_million / 1_000_000
            fee += min(shares * self.p.taf_per_share, self.p.taf_max)
        return float(fee)


class Rules(bt.Strategy):  # type: ignore[misc]
    """The shipped rules with backtrader's indicators, traded the way docs/backtesting.md says:
    enter when the rule starts wanting the symbol (or wants it on the window's first bar), with
    floor(weight × equity / close) shares; sell everything when it stops wanting it."""

    params = (
        ("rule", "sma_crossover"),
        ("weight", Decimal("0.1")),
        ("oversold", 30.0),
        ("exit_above", 55.0),
        ("start", None),
    )

    def __init__(self) -> None:
        if self.p.rule == "sma_crossover":
            self.fast = bt.ind.SMA(self.data.close, period=20)
            self.slow = bt.ind.SMA(self.data.close, period=50)
        else:
            self.rsi = bt.ind.RSI(self.data.close, period=14, safediv=True)
        self.wanted = False
        self.in_window = False
        self.fills: list[tuple[datetime, float, float]] = []

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            at = bt.num2date(order.executed.dt).replace(tzinfo=UTC)
            self.fills.append((at, order.executed.size, order.executed.price))

    def _wants(self) -> bool:
        if self.p.rule == "sma_crossover":
            return bool(self.fast[0] > self.slow[0])
        if self.rsi[0] < self.p.oversold:
            return True
        if self.rsi[0] > self.p.exit_above:
            return False
        return bool(self.wanted)

    def next(self) -> None:
        if len(self.data) < WARM_BAR:
            return
        wants = self._wants()
        now = self.data.datetime.datetime(0).replace(tzinfo=UTC)
        if self.p.start is not None and now < self.p.start:
            self.wanted = wants  # the rule's state runs on; nothing is traded before the window
            return
        wanted = self.wanted if self.in_window else False
        self.in_window = True
        self.wanted = wants
        if wants and not wanted:
            equity = Decimal(self.broker.getvalue())
            close = Decimal(str(self.data.close[0]))
            size = int((self.p.weight * equity / close).to_integral_value(ROUND_FLOOR))
            if size >= 1:
                self.buy(size=size)
        elif wanted and not wants and self.position:
            self.close()


@dataclass(frozen=True)
class Book:
    """One symbol's backtrader result."""

    trades: list[tuple[Any, ...]]
    value: Decimal


def _backtrader(
    landed: Landed, strategy: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Book]:
    costs = landed.scenario.costs
    params = next(s for s in load_specs() if s.name == strategy).parameters
    books = {}
    for symbol, bars in landed.scenario.bars.items():
        window = [b for b in bars if end is None or b["ts"] < end]
        frame = pd.DataFrame(
            {
                "open": [float(b["open"]) for b in window],
                "high": [float(b["high"]) for b in window],
                "low": [float(b["low"]) for b in window],
                "close": [float(b["close"]) for b in window],
                "volume": [float(b["volume"]) for b in window],
            },
            index=pd.DatetimeIndex([b["ts"].replace(tzinfo=None) for b in window]),
        )
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
        cerebro.broker.setcash(float(CASH))
        cerebro.broker.set_checksubmit(False)
        cerebro.broker.set_slippage_perc(
            costs["slippage_bps"] / 10_000,
            slip_open=True,
            slip_limit=True,
            slip_match=True,
            slip_out=True,
        )
        cerebro.broker.addcommissioninfo(
            Fees(
                per_share=costs["commission_per_share"],
                bps=costs["commission_bps"],
                sec_per_million=costs["sec_fee_per_million"],
                taf_per_share=costs["finra_taf_per_share"],
                taf_max=costs["finra_taf_max"],
            )
        )
        cerebro.addstrategy(
            Rules,
            rule=strategy,
            weight=landed.weights[strategy],
            start=start,
            **{k: float(v) for k, v in params.items() if k in ("oversold", "exit_above")},
        )
        (result,) = cerebro.run()
        books[symbol] = Book(_round_trips(symbol, result.fills), Decimal(cerebro.broker.getvalue()))
    return books


def _round_trips(symbol: str, fills: list[tuple[datetime, float, float]]) -> list[tuple[Any, ...]]:
    """(symbol, entry_at, entry_price, exit_at, exit_price, quantity) per round trip; an open
    one has no exit."""
    trips = []
    for i in range(0, len(fills), 2):
        (entry_at, size, entry_price), rest = fills[i], fills[i + 1 : i + 2]
        assert size > 0, fills
        exit_at, exit_price = (rest[0][0], _price(rest[0][2])) if rest else (None, None)
        trips.append((symbol, entry_at, _price(entry_price), exit_at, exit_price, int(size)))
    return trips


def _price(value: float | Decimal) -> Decimal:
    """A fill price to the micro-dollar: backtrader's floats and our numerics agree to that."""
    return Decimal(value).quantize(Decimal("0.000001"))


# --- ours -----------------------------------------------------------------------------------


def _our_trades(landed: Landed, run_id: str) -> list[tuple[Any, ...]]:
    return [
        (
            r["symbol"],
            r["entry_at"],
            _price(r["entry_price"]),
            None if r["exit_reason"] == "open" else r["exit_at"],
            None if r["exit_reason"] == "open" else _price(r["exit_price"]),
            int(r["quantity"]),
        )
        for r in rows(
            landed.engine,
            "select * from marts.backtest_trades where run_id = :run_id"
            " order by symbol, trade_number",
            run_id=run_id,
        )
    ]


def _our_books(landed: Landed, run_id: str) -> dict[str, Decimal]:
    """Each book's equity at its last bar, and the run's total ('total')."""
    return {
        r["book"]: r["equity"]
        for r in rows(
            landed.engine,
            "select distinct on (book) book, equity from marts.backtest_equity"
            " where run_id = :run_id order by book, ts desc",
            run_id=run_id,
        )
    }


def _assert_same(landed: Landed, run_id: str, books: dict[str, Book]) -> None:
    theirs = [trade for symbol in sorted(books) for trade in books[symbol].trades]
    assert _our_trades(landed, run_id) == theirs
    ours = _our_books(landed, run_id)
    for symbol, book in books.items():
        assert abs(ours[symbol] - book.value) < CENT / 2, symbol
    total = sum(book.value for book in books.values()) / len(books)
    assert abs(ours["total"] - total) < CENT / 2
    (performance,) = rows(
        landed.engine,
        "select final_equity from marts.backtest_performance where run_id = :run_id",
        run_id=run_id,
    )
    assert performance["final_equity"] == ours["total"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_round_trips_and_final_equity_equal_backtraders(landed: Landed, strategy: str) -> None:
    """Over all landed history: every round trip identical, every book's and the run's final
    equity within half a cent. The runs trade enough to mean something: closed round trips in
    several symbols, and sells that pay the fees."""
    run_id = landed.run(strategy)
    books = _backtrader(landed, strategy)
    _assert_same(landed, run_id, books)
    closed = [t for book in books.values() for t in book.trades if t[3] is not None]
    assert len(closed) >= 4
    assert len({t[0] for t in closed}) >= 2


def test_a_window_trades_only_inside_it_with_indicators_warmed_before_it(landed: Landed) -> None:
    """A window in the middle of the history: the rule's state and indicators come from the
    bars before it, an entry wanted on its first bar is taken there, and the last bar's
    decision does not fill (its next bar is outside)."""
    stamps = sorted({bar["ts"] for bars in landed.scenario.bars.values() for bar in bars})
    start, end = stamps[len(stamps) // 3], stamps[len(stamps) * 5 // 6]
    run_id = landed.run("rsi_mean_reversion", start, end)
    books = _backtrader(landed, "rsi_mean_reversion", start, end)
    _assert_same(landed, run_id, books)
    trades = [t for book in books.values() for t in book.trades]
    assert trades and all(start < t[1] < end for t in trades)
