"""The performance statistics macros through their real SQL: Φ and Φ⁻¹ equal scipy's, and the
probabilistic and deflated Sharpe ratios, moments, drawdown durations and trade statistics equal
the papers' formulas computed independently here over random series, trial sets and trades."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import empyrical
import numpy as np
import pytest
from scipy import special, stats
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from config.database import Connection
from flows.dbt import run_dbt

pytestmark = pytest.mark.integration

DbtOk = Callable[[list[str], Connection], None]

TOLERANCE = 1e-9
NORMAL_TOLERANCE = 1e-12
STARTING_EQUITY = 100_000.0
FIRST_DAY = date(2025, 1, 2)


@dataclass(frozen=True)
class Sql:
    """The module's database with the project's UDFs, and dbt to render macros against it."""

    connection: Connection
    engine: Engine
    as_of: datetime

    def render(self, sql: str) -> str:
        """The SQL dbt compiles from `sql` (Jinja calling the project's macros)."""
        result = run_dbt(
            [
                "compile",
                "--quiet",
                "--inline",
                sql,
                "--vars",
                json.dumps({"as_of": self.as_of.isoformat()}),
            ],
            self.connection,
        )
        assert result.success, result.exception
        return str(result.result.results[0].node.compiled_code)  # type: ignore[union-attr]

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = list(rows[0])
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"insert into {table} ({', '.join(columns)})"
                    f" values ({', '.join(':' + c for c in columns)})"
                ),
                list(rows),
            )


@pytest.fixture(scope="module")
def sql(
    module_database: Connection, module_engine: Engine, dbt_ok: DbtOk, dbt_as_of: datetime
) -> Iterator[Sql]:
    """Run one model so on-run-start creates the UDFs; add the tables the tests fill."""
    dbt_ok(["run", "--select", "stg_alpaca__calendar"], module_database)
    with module_engine.begin() as conn:
        conn.execute(
            text(
                "create table public.return_series (series_id int, market_date date,"
                " equity double precision, previous_equity double precision,"
                " daily_return double precision, is_in_market boolean)"
            )
        )
        conn.execute(
            text(
                "create table public.trades (book int, trade_number int, pl numeric,"
                " primary key (book, trade_number))"
            )
        )
    yield Sql(module_database, module_engine, dbt_as_of)


def _insert_series(sql: Sql, series: dict[int, np.ndarray]) -> None:
    rows = []
    for series_id, returns in series.items():
        equity = STARTING_EQUITY * np.cumprod(1 + returns)
        previous = np.concatenate([[STARTING_EQUITY], equity[:-1]])
        for i, r in enumerate(returns):
            rows.append(
                {
                    "series_id": series_id,
                    "market_date": FIRST_DAY + timedelta(days=i),
                    "equity": float(equity[i]),
                    "previous_equity": float(previous[i]),
                    "daily_return": float(r),
                    "is_in_market": True,
                }
            )
    sql.insert("public.return_series", rows)


SERIES_METRICS = """
with series as (
    select * from public.return_series where series_id between {low} and {high}
),
{{{{ series_performance('series', ['series_id']) }}}}
metrics as (select * from series_metrics)
select * from metrics order by series_id
"""


def _series_metrics(sql: Sql, low: int, high: int) -> dict[int, dict[str, Any]]:
    query = sql.render(SERIES_METRICS.format(low=low, high=high))
    return {row["series_id"]: row for row in sql.rows(query)}


# --- the reference: the papers' formulas, with scipy ------------------------------------------


def _sharpe(returns: np.ndarray) -> float:
    """Per-period Sharpe ratio, sample standard deviation (as empyrical's, not annualised)."""
    return float(np.mean(returns) / np.std(returns, ddof=1))


def _psr(sharpe: float, n: int, skew: float, kurt: float, benchmark: float = 0.0) -> float:
    """Bailey & López de Prado (2012), eq. for PSR(SR*), kurtosis Pearson's (not excess)."""
    return float(
        stats.norm.cdf(
            (sharpe - benchmark)
            * math.sqrt(n - 1)
            / math.sqrt(1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2)
        )
    )


def _psr_of(returns: np.ndarray, benchmark: float = 0.0) -> float:
    return _psr(
        _sharpe(returns),
        len(returns),
        float(stats.skew(returns)),
        float(stats.kurtosis(returns, fisher=False)),
        benchmark,
    )


def _expected_maximum_sharpe(trials: int, variance: float) -> float:
    """Bailey & López de Prado (2014): SR0 = √V((1 − γ)Z⁻¹(1 − 1/N) + γZ⁻¹(1 − 1/(Ne)))."""
    gamma = np.euler_gamma
    return math.sqrt(variance) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / trials)
        + gamma * stats.norm.ppf(1 - 1 / (trials * math.e))
    )


def _underwater(returns: np.ndarray) -> tuple[int, float]:
    """Longest run of closes below the running peak (the start a peak), and the share of days."""
    index = np.cumprod(1 + returns)
    below = index < np.maximum.accumulate(np.maximum(index, 1.0))
    longest = run = 0
    for is_below in below:
        run = run + 1 if is_below else 0
        longest = max(longest, run)
    return longest, float(np.mean(below))


def _random_series(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0004, 0.011, n)
    if kind == "skewed":
        return np.exp(rng.normal(-0.004, 0.09, n)) - 1
    if kind == "fat_tailed":
        return rng.standard_t(3, n) * 0.008 + 0.001
    if kind == "winning":
        return rng.normal(0.01, 0.004, n)
    return rng.normal(-0.01, 0.004, n)


# --- Φ and Φ⁻¹ --------------------------------------------------------------------------------


def test_normal_cdf_equals_scipy_to_1e_12_into_the_far_tails(sql: Sql) -> None:
    rng = np.random.default_rng(11)
    xs = np.concatenate(
        [
            np.linspace(-38, 9, 4701),
            rng.normal(0, 4, 2000),
            # the branch edges of Cody's approximation and of the 0 / 1 cut-offs
            [0.0, -0.0, 1e-300, -1e-17, 0.67448975, 0.67448976, -5.656854249492380],
            [-5.656854249492381, -37.5193, -37.5192, 8.2923, 8.2925, 40.0, -1e10],
        ]
    )
    rows = sql.rows(
        "select x, udf.normal_cdf(x) as phi from unnest(cast(:xs as double precision[])) as x",
        xs=[float(x) for x in xs],
    )
    x = np.array([row["x"] for row in rows])
    phi = np.array([row["phi"] for row in rows])
    want = special.ndtr(x)
    assert np.max(np.abs(phi - want)) <= NORMAL_TOLERANCE
    tail = want > 1e-300
    assert np.max(np.abs(phi[tail] - want[tail]) / want[tail]) <= NORMAL_TOLERANCE
    assert sql.rows(
        "select udf.normal_cdf('-Infinity') as low, udf.normal_cdf('Infinity') as high,"
        " udf.normal_cdf(0) as middle"
    ) == [{"low": 0.0, "high": 1.0, "middle": 0.5}]


def test_normal_quantile_equals_scipy_to_1e_12_into_the_far_tails(sql: Sql) -> None:
    rng = np.random.default_rng(12)
    ps = np.concatenate(
        [
            np.linspace(0, 1, 5001),
            10.0 ** -np.arange(1, 320, 0.5),
            1 - 10.0 ** -np.arange(1, 16, 0.25),
            rng.uniform(size=2000),
            # AS 241's branch edges: |p − ½| = 0.425 and min(p, 1 − p) = e^−25
            [0.075, 0.0749999999, 0.925, 0.9250000001, math.exp(-25), math.exp(-25) * 1.001],
            [5e-324, 1e-12, 1 - 1e-12],
        ]
    )
    rows = sql.rows(
        "select p, udf.normal_quantile(p) as z from unnest(cast(:ps as double precision[])) as p",
        ps=[float(p) for p in ps],
    )
    p = np.array([row["p"] for row in rows])
    z = np.array([row["z"] for row in rows])
    want = special.ndtri(p)
    finite = np.isfinite(want)
    assert np.array_equal(z[~finite], want[~finite])
    assert sorted(set(want[~finite])) == [-math.inf, math.inf]
    assert np.max(np.abs(z[finite] - want[finite])) <= NORMAL_TOLERANCE
    away = finite & (np.abs(want) > 1e-3)
    assert np.max(np.abs(z[away] - want[away]) / np.abs(want[away])) <= NORMAL_TOLERANCE


@pytest.mark.parametrize("p", ["1.5", "-0.25", "NaN"])
def test_normal_quantile_refuses_a_p_outside_0_1_naming_it(sql: Sql, p: str) -> None:
    with pytest.raises(DBAPIError, match=rf"normal_quantile: p must be .* got {p}"):
        sql.rows(f"select udf.normal_quantile('{p}')")


# --- series moments and the probabilistic Sharpe ratio --------------------------------------


def test_probabilistic_sharpe_and_moments_equal_the_paper_over_random_series(sql: Sql) -> None:
    """Per-day Sharpe (n − 1), population skewness and Pearson kurtosis (scipy's defaults),
    PSR against 0, Calmar as empyrical, the longest underwater stretch, over 25 series of
    2 to 1,000 days: normal, skewed, fat-tailed, strongly winning and losing (PSR near 1 and
    0, Φ's tails)."""
    rng = np.random.default_rng(7)
    kinds = ["normal", "skewed", "fat_tailed", "winning", "losing"]
    lengths = [2, 3, 20, 252, 1000]
    series = {
        100 + i: _random_series(rng, kind, n)
        for i, (kind, n) in enumerate((k, n) for k in kinds for n in lengths)
    }
    _insert_series(sql, series)
    metrics = _series_metrics(sql, 100, 199)
    assert sorted(metrics) == sorted(series)
    psrs = []
    for series_id, returns in series.items():
        row = metrics[series_id]
        name = (series_id, len(returns))
        sharpe = _sharpe(returns)
        skew = float(stats.skew(returns))
        kurt = float(stats.kurtosis(returns, fisher=False))
        assert row["observation_count"] == len(returns), name
        assert row["daily_sharpe_ratio"] == pytest.approx(sharpe, rel=1e-12, abs=TOLERANCE), name
        assert row["sharpe_ratio"] == pytest.approx(sharpe * math.sqrt(252), abs=TOLERANCE)
        assert abs(row["skewness"] - skew) <= TOLERANCE * max(1.0, abs(skew)), name
        assert abs(row["kurtosis"] - kurt) <= TOLERANCE * max(1.0, kurt), name
        psr = _psr(sharpe, len(returns), skew, kurt)
        assert abs(row["probabilistic_sharpe_ratio"] - psr) <= TOLERANCE, (name, psr)
        psrs.append(psr)
        calmar = empyrical.calmar_ratio(returns)
        if math.isnan(calmar):
            assert row["calmar_ratio"] is None, name
        else:
            assert abs(row["calmar_ratio"] - calmar) <= TOLERANCE * max(1.0, abs(calmar)), name
        longest, share = _underwater(returns)
        assert row["max_drawdown_duration_days"] == longest, name
        assert row["time_underwater"] == pytest.approx(share, abs=1e-12), name
    # The sample spans the whole range, so Φ's tails and centre were both exercised.
    assert min(psrs) < 1e-6
    assert max(psrs) > 1 - 1e-6
    assert any(0.05 < p < 0.95 for p in psrs)


def test_constant_series_have_no_moments_and_no_probabilistic_sharpe(sql: Sql) -> None:
    """All-zero returns (a strategy that never traded), a constant gain, and one day: Sharpe,
    skewness, kurtosis and PSR are undefined (null), never underwater."""
    _insert_series(
        sql,
        {
            200: np.zeros(30),
            201: np.full(30, 0.001),
            202: np.array([0.02]),
            203: np.array([-0.01, 0.01]),
        },
    )
    metrics = _series_metrics(sql, 200, 299)
    for series_id in (200, 201, 202):
        row = metrics[series_id]
        assert (row["skewness"], row["kurtosis"], row["probabilistic_sharpe_ratio"]) == (
            None,
            None,
            None,
        ), series_id
    assert metrics[200]["daily_sharpe_ratio"] is None
    assert metrics[202]["daily_sharpe_ratio"] is None
    assert metrics[202]["observation_count"] == 1
    for series_id in (200, 201, 202):
        assert metrics[series_id]["max_drawdown_duration_days"] == 0
        assert metrics[series_id]["time_underwater"] == 0
        assert metrics[series_id]["calmar_ratio"] is None
    # Two days: skewness 0, kurtosis 1 (the two-point distribution), PSR = Φ(SR √1 / 1).
    two_days = metrics[203]
    assert (two_days["skewness"], two_days["kurtosis"]) == (
        pytest.approx(0, abs=1e-12),
        pytest.approx(1, abs=1e-12),
    )
    expected = float(stats.norm.cdf(_sharpe(np.array([-0.01, 0.01]))))
    assert two_days["probabilistic_sharpe_ratio"] == pytest.approx(expected, abs=TOLERANCE)
    assert (two_days["max_drawdown_duration_days"], two_days["time_underwater"]) == (2, 1.0)


# --- the deflated Sharpe ratio --------------------------------------------------------------

DEFLATED = """
with series as (
    select
        series_id / 10000 as sweep_id,
        series_id % 10000 as trial_id,
        market_date,
        equity,
        previous_equity,
        daily_return,
        is_in_market
    from public.return_series
    where series_id >= 1000000
),
{{ series_performance('series', ['sweep_id', 'trial_id']) }}
sweeps as (
    select
        sweep_id,
        count(*) as trial_count,
        var_samp(daily_sharpe_ratio) as sharpe_variance
    from series_metrics
    group by sweep_id
),
best_trials as (
    select distinct on (sweep_id) *
    from series_metrics
    order by sweep_id, daily_sharpe_ratio desc
)
select
    best_trials.sweep_id,
    best_trials.trial_id,
    sweeps.trial_count,
    sweeps.sharpe_variance,
    best_trials.probabilistic_sharpe_ratio,
    {{ expected_maximum_sharpe_ratio('sweeps.trial_count', 'sweeps.sharpe_variance') }}
        as expected_maximum_sharpe_ratio,
    {{ deflated_sharpe_ratio(
        'best_trials.daily_sharpe_ratio',
        'best_trials.observation_count',
        'best_trials.skewness',
        'best_trials.kurtosis',
        'sweeps.trial_count',
        'sweeps.sharpe_variance'
    ) }} as deflated_sharpe_ratio
from best_trials
inner join sweeps
    on best_trials.sweep_id = sweeps.sweep_id
order by best_trials.sweep_id
"""


def test_deflated_sharpe_equals_the_paper_over_random_trial_sets(sql: Sql) -> None:
    """Sweeps of 1 to 300 trials of 40 to 500 days: SR0 from the trials' sample variance of
    per-day Sharpe ratios, DSR = PSR of the best trial against SR0. One trial is no
    selection: SR0 = 0 and DSR = its PSR (the formula's Φ⁻¹(0) would be −∞). Identical
    trials (variance 0) deflate nothing either."""
    rng = np.random.default_rng(2014)
    sweeps: dict[int, list[np.ndarray]] = {}
    for sweep, (trial_count, days) in enumerate(
        [(1, 250), (2, 60), (5, 500), (20, 120), (100, 40), (300, 60), (8, 252)], start=100
    ):
        kinds = ["normal", "skewed", "fat_tailed"]
        sweeps[sweep] = [_random_series(rng, kinds[t % 3], days) for t in range(trial_count)]
    repeated = rng.normal(0.001, 0.01, 100)
    sweeps[107] = [repeated] * 4
    _insert_series(
        sql,
        {
            sweep * 10000 + trial: returns
            for sweep, trials in sweeps.items()
            for trial, returns in enumerate(trials)
        },
    )
    rows = {row["sweep_id"]: row for row in sql.rows(sql.render(DEFLATED))}
    assert sorted(rows) == sorted(sweeps)
    for sweep, trials in sweeps.items():
        row = rows[sweep]
        sharpes = [_sharpe(r) for r in trials]
        best = trials[int(np.argmax(sharpes))]
        assert row["trial_count"] == len(trials)
        if len(trials) == 1:
            assert row["sharpe_variance"] is None
            assert stats.norm.ppf(1 - 1 / len(trials)) == -math.inf
            sr0 = 0.0
        else:
            variance = float(np.var(sharpes, ddof=1))
            assert row["sharpe_variance"] == pytest.approx(variance, rel=1e-9, abs=1e-18)
            sr0 = _expected_maximum_sharpe(len(trials), variance)
        assert abs(row["expected_maximum_sharpe_ratio"] - sr0) <= TOLERANCE, sweep
        dsr = _psr_of(best, sr0)
        assert abs(row["deflated_sharpe_ratio"] - dsr) <= TOLERANCE, (sweep, dsr)
        assert row["deflated_sharpe_ratio"] <= row["probabilistic_sharpe_ratio"] + TOLERANCE
    assert rows[100]["deflated_sharpe_ratio"] == rows[100]["probabilistic_sharpe_ratio"]
    assert rows[107]["deflated_sharpe_ratio"] == pytest.approx(
        rows[107]["probabilistic_sharpe_ratio"], abs=TOLERANCE
    )
    # Many trials deflate: the best of 300 noise trials is far less convincing than its PSR.
    assert rows[105]["deflated_sharpe_ratio"] < rows[105]["probabilistic_sharpe_ratio"] - 0.2


def test_expected_maximum_sharpe_is_null_without_a_usable_variance(sql: Sql) -> None:
    rows = sql.rows(
        sql.render(
            "select n, v, {{ expected_maximum_sharpe_ratio('n', 'v') }} as sr0"
            " from (values (0, 0.01), (3, null), (3, -0.01), (1, null), (1, 5.0), (3, 0.0))"
            " as trials (n, v) order by n, v nulls first"
        )
    )
    assert [(row["n"], row["sr0"]) for row in rows] == [
        (0, None),
        (1, 0.0),
        (1, 0.0),
        (3, None),
        (3, None),
        (3, 0.0),
    ]


# --- trade statistics -----------------------------------------------------------------------

TRADE_STATISTICS = """
with trades as (select book, trade_number, pl from public.trades),
statistics as (
    {{{{ round_trip_statistics('trades', ['book'], 'pl'{order}) }}}}
)
select * from statistics order by book
"""


def _longest_losing_run(pls: list[Decimal]) -> int:
    longest = run = 0
    for pl in pls:
        run = run + 1 if pl < 0 else 0
        longest = max(longest, run)
    return longest


def test_trade_statistics_equal_a_direct_computation_in_trade_order(sql: Sql) -> None:
    """Expectancy, average win and loss, and the longest losing run in trade_number order
    (a trade at 0 ends a run), over random books inserted out of order."""
    rng = np.random.default_rng(3)
    books: dict[int, list[Decimal]] = {
        book: [
            Decimal(str(round(float(x), 2))) if rng.uniform() > 0.08 else Decimal(0)
            for x in rng.normal(drift, 50, size)
        ]
        for book, (drift, size) in enumerate(
            [(5, 200), (-20, 150), (0, 1), (40, 30), (-60, 12)], start=1
        )
    }
    rows = [
        {"book": book, "trade_number": number, "pl": pl}
        for book, pls in books.items()
        for number, pl in enumerate(pls, start=1)
    ]
    sql.insert("public.trades", [rows[i] for i in rng.permutation(len(rows))])
    statistics = {
        row["book"]: row
        for row in sql.rows(sql.render(TRADE_STATISTICS.format(order=", order_by='trade_number'")))
    }
    for book, pls in books.items():
        row = statistics[book]
        wins = [pl for pl in pls if pl > 0]
        losses = [pl for pl in pls if pl < 0]
        assert row["trade_count"] == len(pls)
        assert float(row["expectancy"]) == pytest.approx(float(sum(pls)) / len(pls), abs=1e-9)
        if wins:
            assert float(row["average_win"]) == pytest.approx(
                float(sum(wins)) / len(wins), abs=1e-9
            )
        else:
            assert row["average_win"] is None
        if losses:
            assert float(row["average_loss"]) == pytest.approx(
                float(sum(losses)) / len(losses), abs=1e-9
            )
        else:
            assert row["average_loss"] is None
        assert row["max_consecutive_losses"] == _longest_losing_run(pls), book
    assert statistics[2]["max_consecutive_losses"] > 3
    # The order matters: sorted by P&L, every loss would be one run.
    assert statistics[1]["max_consecutive_losses"] < sum(1 for pl in books[1] if pl < 0)
    unordered = sql.rows(sql.render(TRADE_STATISTICS.format(order="")))
    assert [row["max_consecutive_losses"] for row in unordered] == [None] * len(books)
    assert [row["expectancy"] for row in unordered] == [
        statistics[book]["expectancy"] for book in sorted(books)
    ]
