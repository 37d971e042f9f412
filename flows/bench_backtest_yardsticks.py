"""The yardsticks of `trading bench backtest`: the same RSI rules in vectorbt and in backtrader.

Both trade rsi_mean_reversion as its signal model does: in below `oversold`, out above
`exit_above`, holding in between; a decision on a bar fills at the symbol's next bar's open;
each symbol its own book with the strategy's target weight of its cash, whole shares, the
settings' slippage. vectorbt and backtrader are dev dependencies (`make setup` installs them).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from flows.bench_backtest import STRATEGY, Step

if TYPE_CHECKING:
    from flows.bench_backtest import Bench

CASH = 100_000.0
SHIPPED_POINT = (30.0, 55.0)
# vectorbt simulates a block of grid points at once: points × symbols columns, at most this many.
VECTORBT_COLUMNS = 5_000
INDICATORS = (
    "select symbol, ts, open, close, case when is_warm then rsi_14 end as rsi_14"
    " from marts.indicators where timeframe = '1Hour' order by symbol, ts"
)


def _wide(frame: pl.DataFrame, column: str) -> np.ndarray:
    """bars × symbols, row k holding each symbol's k-th bar (NaN past a symbol's last): the next
    row is the next bar of the symbol, whatever hours it skipped."""
    wide = frame.pivot(on="symbol", index="k", values=column, sort_columns=True).sort("k")
    # C order: numba compiles vectorbt's kernels per array layout, once.
    return np.ascontiguousarray(wide.drop("k").to_numpy(), dtype=float)


def _next_bar(signal: np.ndarray, price: np.ndarray) -> np.ndarray:
    """A decision on row k acted on at row k + 1; one on a symbol's last bar never fills."""
    shifted = np.zeros_like(signal)
    shifted[1:] = signal[:-1]
    return shifted & ~np.isnan(price)


def vectorbt_grid(bench: Bench, our_trades: int | None) -> Step:
    """(c): the grid in vectorbt, over every symbol, on our RSI (marts.indicators' rsi_14, Wilder,
    read before the clock starts, as the grid build reads it too)."""
    name = f"(c) vectorbt, the same {len(bench.grid)}-point grid, every symbol"
    try:
        import vectorbt as vbt
    except ImportError as error:
        return Step("c", name, f"failed: vectorbt is not installed ({error}); run make setup")
    frame = pl.read_database(INDICATORS, bench.engine).with_columns(
        pl.int_range(pl.len()).over("symbol").alias("k")
    )
    opens, closes, rsi = (_wide(frame, c) for c in ("open", "close", "rsi_14"))
    symbols = closes.shape[1]
    spec = bench.spec(STRATEGY)
    index = _hours(closes.shape[0])
    trades_at_shipped: list[int] = []

    def simulate(points: list[tuple[float, float]], rows: int | None = None) -> Any:
        with np.errstate(invalid="ignore"):
            entries = np.hstack([rsi[:rows] < oversold for oversold, _ in points])
            exits = np.hstack([rsi[:rows] > exit_above for _, exit_above in points])
        price = np.tile(opens[:rows], len(points))
        portfolio = vbt.Portfolio.from_signals(
            close=np.tile(closes[:rows], len(points)),
            entries=_next_bar(entries, price),
            exits=_next_bar(exits, price),
            price=price,
            size=spec.limits.target_weight,
            size_type="percent",
            size_granularity=1,
            slippage=bench.settings.backtest_slippage_bps / 10_000,
            fees=bench.settings.backtest_commission_bps / 10_000,
            init_cash=CASH,
            freq="1h",
            wrapper_kwargs={"index": index[: len(price)]},
        )
        portfolio.total_return()
        portfolio.sharpe_ratio()
        return portfolio.trades.count().to_numpy()

    per_block = min(len(bench.grid), max(1, VECTORBT_COLUMNS // symbols))
    # Compile vectorbt's numba kernels before the clock starts (a once-per-process cost).
    simulate(bench.grid[:per_block], rows=100)

    def work() -> tuple[int, str]:
        for first in range(0, len(bench.grid), per_block):
            points = bench.grid[first : first + per_block]
            counts = simulate(points)
            if SHIPPED_POINT in points:
                at = points.index(SHIPPED_POINT)
                trades_at_shipped.append(int(counts[at * symbols : (at + 1) * symbols].sum()))
        note = f"our rsi_14 read first; {per_block} points x {symbols} symbols per simulation"
        if trades_at_shipped and our_trades is not None:
            note += f"; at (30, 55) {trades_at_shipped[0]:,} round trips, (a) {our_trades:,}"
        return frame.height * len(bench.grid), note

    return bench.measure("c", name, work)


def _hours(rows: int) -> Any:
    """An hourly index for vectorbt's annualised metrics (rows are bar numbers, not times)."""
    import pandas as pd

    return pd.date_range("2024-01-02", periods=rows, freq="h")


def _rules(weight: float, oversold: float, exit_above: float) -> Any:
    """The backtrader strategy: its own RSI (Wilder's), market orders at the next open,
    floor(weight × equity / close) shares."""
    import backtrader as bt

    class Rules(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.rsi = bt.ind.RSI(self.data.close, period=14, safediv=True)
            self.wanted = False

        def next(self) -> None:
            # marts.indicators is warm from a series' 50th bar: the first signal.
            if len(self.data) < 50:
                return
            wanted = self.wanted
            if self.rsi[0] < oversold:
                self.wanted = True
            elif self.rsi[0] > exit_above:
                self.wanted = False
            if self.wanted and not wanted:
                size = math.floor(weight * self.broker.getvalue() / self.data.close[0])
                if size >= 1:
                    self.buy(size=size)
            elif wanted and not self.wanted and self.position:
                self.close()

    return Rules


def backtrader_subset(bench: Bench, symbols: int) -> Step:
    """(d): backtrader at the shipped point on the first `symbols` symbols; bar-evaluations per
    second extrapolate per bar (it runs one symbol and one point at a time)."""
    chosen = bench.symbols[:symbols]
    name = f"(d) backtrader, {len(chosen)} symbols x 1 point, per bar"
    try:
        import backtrader as bt
    except ImportError as error:
        return Step("d", name, f"failed: backtrader is not installed ({error}); run make setup")
    spec = bench.spec(STRATEGY)
    rules = _rules(
        spec.limits.target_weight, spec.parameters["oversold"], spec.parameters["exit_above"]
    )
    subset = bench.frame.filter(pl.col("symbol").is_in(chosen))
    frames = [
        part.select(
            pl.col("ts").dt.replace_time_zone(None).alias("datetime"),
            "open",
            "high",
            "low",
            "close",
            "volume",
        )
        .to_pandas()
        .set_index("datetime")
        for part in subset.partition_by("symbol", maintain_order=True)
    ]

    def work() -> tuple[int, str]:
        started = time.perf_counter()
        for data in frames:
            cerebro = bt.Cerebro(stdstats=False)
            cerebro.adddata(bt.feeds.PandasData(dataname=data, openinterest=None))
            cerebro.broker.setcash(CASH)
            cerebro.broker.set_slippage_perc(
                bench.settings.backtest_slippage_bps / 10_000, slip_open=True
            )
            cerebro.addstrategy(rules)
            cerebro.run()
        per_bar = (time.perf_counter() - started) / subset.height * 1e6
        return subset.height, f"{per_bar:.1f} us a bar"

    return bench.measure("d", name, work)
