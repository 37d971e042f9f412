"""Positions, daily portfolio and strategy performance from raw fills, bars and snapshots:
P&L by hand, attribution by client_order_id prefix, metrics equal to empyrical's."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import empyrical
import numpy as np
import pytest
from scipy import stats
from sqlalchemy import Engine, text

from config.database import Connection

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]
InsertBars = Callable[[Engine, Sequence[Mapping[str, Any]]], None]

TOLERANCE = 1e-9
DAYS = [date(2026, 1, d) for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16)]
# Last close of each day (the 20:00 UTC hourly bar); earlier hours step up to it.
DAY_CLOSES = {
    "AAA": [101, 108, 118, 112, 104, 95, 92, 97, 99, 94],
    "BBB": [50, 51, 53, 56, 55, 58, 61, 59, 60, 62],
}
STARTING_EQUITY = Decimal(100_000)
# (strategy prefix of client_order_id, symbol, day index, side, qty, price)
TRADES = [
    ("alpha", "AAA", 0, "buy", 10, 100),
    ("alpha", "AAA", 1, "sell", 4, 110),
    ("alpha", "AAA", 2, "buy", 6, 120),
    ("alpha", "AAA", 4, "sell", 12, 105),
    ("alpha", "AAA", 6, "buy", 5, 91),
    ("beta", "BBB", 1, "buy", 20, 50),
    ("beta", "BBB", 3, "sell", 20, 55),
    ("beta", "BBB", 5, "buy", 10, 60),
    ("manual", "BBB", 2, "buy", 3, 52),
]


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    sql = (
        f"insert into raw.{table} ({', '.join(columns)})"
        f" values ({', '.join(':' + c for c in columns)})"
    )
    with engine.begin() as conn:
        conn.execute(text(sql), rows)


def _bars() -> list[dict[str, Any]]:
    """Hourly bars 14:00-20:00 UTC per day, plus bogus daily bars (close 1) for AAA that the
    finest-timeframe rule must ignore."""
    rows = []
    for symbol, closes in DAY_CLOSES.items():
        for day, close in zip(DAYS, closes, strict=True):
            for hour in range(14, 21):
                price = Decimal(close) - Decimal("0.1") * (20 - hour)
                rows.append(
                    {
                        "symbol": symbol,
                        "timeframe": "1Hour",
                        "ts": _utc(day, hour),
                        "open": price,
                        "high": price,
                        "low": price,
                        "close": price,
                        "volume": 100,
                    }
                )
    rows += [
        {
            "symbol": "AAA",
            "timeframe": "1Day",
            "ts": _utc(day, 5),
            "open": 1,
            "high": 1,
            "low": 1,
            "close": 1,
            "volume": 100,
        }
        for day in DAYS
    ]
    return rows


def _account_snapshots() -> list[dict[str, Any]]:
    """Two snapshots a day (10:05 and 15:05 New York); equity is a seeded random walk."""
    rng = random.Random(4)  # noqa: S311 - test data
    equity = STARTING_EQUITY
    rows = []
    for day in DAYS:
        for hour in (15, 20):
            rows.append(
                {
                    "snapshot_at": _utc(day, hour, 5),
                    "account_id": "acct",
                    "status": "ACTIVE",
                    "cash": equity - 1000,
                    "equity": equity,
                    "payload": "{}",
                }
            )
            equity = (equity * Decimal(1 + rng.gauss(0.0005, 0.01))).quantize(Decimal("0.01"))
    return rows


def _trades() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    orders, fills = [], []
    for n, (prefix, symbol, day_index, side, qty, price) in enumerate(TRADES):
        at = _utc(DAYS[day_index], 16, n)
        order_id = f"o{n}"
        orders.append(
            {
                "id": order_id,
                "client_order_id": f"{prefix}-{symbol}-{at:%Y%m%d%H%M}",
                "symbol": symbol,
                "side": side,
                "order_type": "market",
                "time_in_force": "day",
                "qty": qty,
                "filled_qty": qty,
                "filled_avg_price": price,
                "status": "filled",
                "created_at": at,
                "submitted_at": at,
                "updated_at": at,
                "filled_at": at,
                "payload": "{}",
            }
        )
        fills.append(
            {
                "id": f"f{n}",
                "order_id": order_id,
                "symbol": symbol,
                "side": side,
                "qty": qty,
                "price": price,
                "transaction_time": at,
                "fill_type": "fill",
                "payload": "{}",
            }
        )
    return orders, fills


@dataclass(frozen=True)
class Built:
    """The module's database after the performance marts were built."""

    engine: Engine

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql))]


@pytest.fixture(scope="module")
def built(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, insert_bars: InsertBars
) -> Iterator[Built]:
    """Land bars, account and position snapshots, two strategies' orders and fills (alpha known
    from its spec, beta from its submissions) and a manual trade; build the three marts."""
    insert_bars(module_engine, _bars())
    orders, fills = _trades()
    _insert(module_engine, "orders", orders)
    _insert(module_engine, "fills", fills)
    _insert(
        module_engine,
        "strategy_params",
        [
            {
                "strategy": "alpha",
                "effective_from": _utc(DAYS[0], 0),
                "spec": json.dumps(
                    {
                        "timeframe": "1Hour",
                        "universe": ["AAA"],
                        "limits": {"capital_budget": 0.5, "max_positions": 1},
                    }
                ),
                "spec_file": "alpha.yaml",
            }
        ],
    )
    beta_buy = next(o for o in orders if o["client_order_id"].startswith("beta-"))
    _insert(
        module_engine,
        "order_submissions",
        [
            {
                "client_order_id": beta_buy["client_order_id"],
                "strategy": "beta",
                "symbol": "BBB",
                "side": "buy",
                "qty": beta_buy["qty"],
                "order_type": "market",
                "time_in_force": "day",
                "decision_ts": beta_buy["created_at"],
                "trading_mode": "paper",
                "status": "submitted",
            }
        ],
    )
    _insert(module_engine, "account_snapshots", _account_snapshots())
    long_and_short_at = _utc(DAYS[3], 20, 5)
    _insert(
        module_engine,
        "position_snapshots",
        [
            {
                "snapshot_at": long_and_short_at,
                "symbol": symbol,
                "qty": qty,
                "avg_entry_price": 1,
                "market_value": value,
                "payload": "{}",
            }
            for symbol, qty, value in (("AAA", 10, 1000), ("BBB", -5, -300))
        ],
    )
    dbt_ok(
        [
            "build",
            "--select",
            "+strategy_performance +positions",
            "--exclude",
            "test_type:unit",
        ],
        module_database,
    )
    yield Built(module_engine)


def _close(symbol: str, day_index: int) -> Decimal:
    return Decimal(DAY_CLOSES[symbol][day_index])


def test_positions_follow_average_cost_per_strategy_marked_to_the_last_hourly_close(
    built: Built,
) -> None:
    """alpha: buy 10 @ 100, sell 4 @ 110 (+40), buy 6 @ 120 (cost 110), sell 12 @ 105 (−60),
    buy 5 @ 91; beta: a +100 round trip then 10 @ 60; the manual buy is 'external'. Marks are
    the last 1Hour close (94 and 62), not the AAA daily bars' 1."""
    rows = built.rows(
        "select strategy, symbol, qty, avg_cost, realized_pl, last_price, market_value,"
        " unrealized_pl, total_pl, is_open, fill_count, priced_at"
        " from marts.positions order by strategy, symbol"
    )
    last_priced_at = _utc(DAYS[-1], 21)
    assert [tuple(r.values()) for r in rows] == [
        ("alpha", "AAA", 5, 91, -20, 94, 470, 15, -5, True, 5, last_priced_at),
        ("beta", "BBB", 10, 60, 100, 62, 620, 20, 120, True, 3, last_priced_at),
        ("external", "BBB", 3, 52, 0, 62, 186, 30, 30, True, 1, last_priced_at),
    ]


def test_strategy_equity_is_capital_plus_realized_and_unrealized_pl(built: Built) -> None:
    """alpha on day 2: +40 realized, 6 held at cost 100 marked at 108; on day 5: flat at −20."""
    equity = {
        row["market_date"]: row["equity"]
        for row in built.rows(
            "select market_date, equity from intermediate.int_strategy_returns_computed"
            " where strategy = 'alpha'"
        )
    }
    assert min(equity) == DAYS[0]
    assert equity[DAYS[0]] == STARTING_EQUITY + 10 * (_close("AAA", 0) - 100)
    assert equity[DAYS[1]] == STARTING_EQUITY + 40 + 6 * (_close("AAA", 1) - 100)
    assert equity[DAYS[4]] == STARTING_EQUITY - 20


def test_portfolio_daily_takes_each_days_last_snapshot_and_broker_exposure(built: Built) -> None:
    snapshots = _account_snapshots()
    days = built.rows("select * from marts.portfolio_daily order by market_date")
    assert [d["market_date"] for d in days] == DAYS
    closes = [s["equity"] for s in snapshots[1::2]]
    assert [d["equity"] for d in days] == closes
    assert days[0]["previous_equity"] == STARTING_EQUITY
    assert [d["previous_equity"] for d in days[1:]] == closes[:-1]
    assert days[3]["gross_exposure"] == 1300
    assert days[3]["net_exposure"] == 700
    assert days[3]["position_count"] == 2
    assert days[2]["gross_exposure"] == 0
    assert [d["fill_count"] for d in days] == [1, 2, 2, 1, 1, 1, 1, 0, 0, 0]


def _expected(value: float) -> float | None:
    """empyrical's nan / ±inf is a null in the mart."""
    return None if math.isnan(value) or math.isinf(value) else value


def _assert_close(actual: float | None, expected: float, name: str) -> None:
    want = _expected(expected)
    if want is None:
        assert actual is None, name
    else:
        assert actual is not None, name
        assert abs(actual - want) <= TOLERANCE, (name, actual, want)


def _daily_returns(built: Built) -> dict[str, tuple[list[date], np.ndarray]]:
    rows = built.rows(
        "select strategy, market_date, daily_return from intermediate.int_strategy_returns_computed"
        " union all select 'portfolio', market_date, daily_return from marts.portfolio_daily"
        " order by 1, 2"
    )
    series: dict[str, tuple[list[date], list[float]]] = {}
    for row in rows:
        dates, values = series.setdefault(row["strategy"], ([], []))
        dates.append(row["market_date"])
        values.append(float(row["daily_return"]))
    return {name: (dates, np.array(values)) for name, (dates, values) in series.items()}


def test_performance_metrics_equal_empyrical_on_the_same_daily_returns(built: Built) -> None:
    performance = {
        row["strategy"]: row for row in built.rows("select * from marts.strategy_performance")
    }
    series = _daily_returns(built)
    assert sorted(performance) == ["alpha", "beta", "external", "portfolio"]
    assert sorted(series) == sorted(performance)
    for name, (dates, returns) in series.items():
        row = performance[name]
        assert row["day_count"] == len(returns)
        assert (row["start_date"], row["end_date"]) == (dates[0], dates[-1])
        _assert_close(row["total_return"], empyrical.cum_returns_final(returns), name)
        _assert_close(row["cagr"], empyrical.cagr(returns), name)
        _assert_close(row["annual_volatility"], empyrical.annual_volatility(returns), name)
        _assert_close(row["sharpe_ratio"], empyrical.sharpe_ratio(returns), name)
        _assert_close(row["sortino_ratio"], empyrical.sortino_ratio(returns), name)
        _assert_close(row["max_drawdown"], empyrical.max_drawdown(returns), name)
        _assert_close(row["calmar_ratio"], empyrical.calmar_ratio(returns), name)
    for name in ("portfolio", "alpha", "beta"):
        assert performance[name]["sortino_ratio"] is not None
        assert performance[name]["max_drawdown"] < 0


def test_max_drawdown_runs_from_the_last_peak_to_the_trough(built: Built) -> None:
    """Dates checked against the cumulative index of the same returns (start = 1 before day 1)."""
    performance = {
        row["strategy"]: row for row in built.rows("select * from marts.strategy_performance")
    }
    for name, (dates, returns) in _daily_returns(built).items():
        index = np.cumprod(1 + returns)
        peaks = np.maximum.accumulate(np.maximum(index, 1.0))
        trough = int(np.argmin(index / peaks - 1))
        at_peak = [i for i in range(trough + 1) if index[i] >= peaks[i]]
        start = dates[at_peak[-1]] if at_peak else dates[0]
        row = performance[name]
        if row["max_drawdown"] < 0:
            assert (row["max_drawdown_start_date"], row["max_drawdown_end_date"]) == (
                start,
                dates[trough],
            ), name


def test_sharpe_moments_and_underwater_time_follow_the_daily_returns(built: Built) -> None:
    """Per-day Sharpe, population skewness, Pearson kurtosis (scipy's defaults), the
    probabilistic Sharpe ratio against 0 (Bailey & López de Prado 2012), the longest stretch
    below the running peak and the share of days below it."""
    performance = {
        row["strategy"]: row for row in built.rows("select * from marts.strategy_performance")
    }
    for name, (_, returns) in _daily_returns(built).items():
        row = performance[name]
        if np.all(returns == returns[0]):
            assert (row["skewness"], row["probabilistic_sharpe_ratio"]) == (None, None), name
            continue
        sharpe = float(np.mean(returns) / np.std(returns, ddof=1))
        skew = float(stats.skew(returns))
        kurt = float(stats.kurtosis(returns, fisher=False))
        psr = stats.norm.cdf(
            sharpe
            * math.sqrt(len(returns) - 1)
            / math.sqrt(1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2)
        )
        _assert_close(row["daily_sharpe_ratio"], sharpe, name)
        _assert_close(row["skewness"], skew, name)
        _assert_close(row["kurtosis"], kurt, name)
        _assert_close(row["probabilistic_sharpe_ratio"], float(psr), name)
        index = np.cumprod(1 + returns)
        below = index < np.maximum.accumulate(np.maximum(index, 1.0))
        runs = "".join("1" if b else "0" for b in below).split("0")
        assert row["max_drawdown_duration_days"] == max(len(run) for run in runs), name
        _assert_close(row["time_underwater"], float(np.mean(below)), name)
    assert performance["portfolio"]["max_drawdown_duration_days"] > 0


def test_trades_are_closed_round_trips(built: Built) -> None:
    """alpha closed one round trip at −20 (its second is open), beta one at +100; the
    portfolio counts both (expectancy 40, one loss in a row); the external buy is still open.
    Time in market: alpha was out only on day 6 (flat, no fill)."""
    performance = {
        row["strategy"]: row
        for row in built.rows(
            "select strategy, trade_count, win_rate, profit_factor, time_in_market, expectancy,"
            " average_win, average_loss, max_consecutive_losses from marts.strategy_performance"
        )
    }
    assert performance["alpha"]["trade_count"] == 1
    assert performance["alpha"]["win_rate"] == 0
    assert performance["alpha"]["profit_factor"] == 0
    assert performance["alpha"]["time_in_market"] == pytest.approx(9 / 10, abs=1e-12)
    assert performance["beta"]["trade_count"] == 1
    assert performance["beta"]["win_rate"] == 1
    assert performance["beta"]["profit_factor"] is None
    assert performance["portfolio"]["trade_count"] == 2
    assert performance["portfolio"]["win_rate"] == 0.5
    assert performance["portfolio"]["profit_factor"] == 5
    assert performance["external"]["trade_count"] == 0
    assert performance["external"]["win_rate"] is None
    trade_statistics = {
        name: (
            row["expectancy"],
            row["average_win"],
            row["average_loss"],
            row["max_consecutive_losses"],
        )
        for name, row in performance.items()
    }
    assert trade_statistics == {
        "alpha": (-20, None, -20, 1),
        "beta": (100, 100, None, 0),
        "portfolio": (40, 100, -20, 1),
        "external": (None, None, None, 0),
    }
