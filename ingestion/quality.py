"""The Great Expectations suite run over every fetched batch of bars.

The polars rules in `validate.py` decide row by row what lands and what goes to quarantine; this
suite is the batch-level record of the same contract, written to raw.data_quality_runs with each
expectation's result, so an analyst can see how clean each batch was and when that changed.
Great Expectations takes seconds to import: it is imported on first use and its context kept.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import polars as pl
from sqlalchemy import Connection, text

from ingestion.db import jsonable
from ingestion.timeframes import Timeframe
from ingestion.validate import MARKET_TZ, PRICES

SUITE = "bars"


@dataclass(frozen=True)
class Outcome:
    """One expectation's result over one batch."""

    expectation: str
    columns: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    details: dict[str, Any]


@cache
def _batch_definition() -> Any:
    """An ephemeral GX context with a pandas whole-dataframe batch definition, made once."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # no per-context chatter
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("landing").add_dataframe_asset("bars")
    return asset.add_batch_definition_whole_dataframe("batch")


_lock = threading.Lock()


def warm() -> None:
    """Import Great Expectations and build the context now rather than inside a landing."""
    with _lock:
        _batch_definition()


def _suite(now: datetime, known: set[str] | None) -> Any:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations: list[Any] = []
    for price in PRICES:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(column=price),
            # Infinities fail the upper bound; NaN counts as missing above.
            gxe.ExpectColumnValuesToBeBetween(
                column=price, min_value=0, strict_min=True, max_value=1e12
            ),
        ]
    for a, b in (("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")):
        expectations.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=a, column_B=b, or_equal=True)
        )
    expectations += [
        gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0),
        gxe.ExpectColumnValuesToBeInSet(column="grid_offset_seconds", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="seconds_after_now", max_value=0),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["symbol", "timeframe", "ts"]),
    ]
    if known is not None:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column="symbol", value_set=sorted(known))
        )
    return gx.ExpectationSuite(name=SUITE, expectations=expectations)


def _derived(bars: pl.DataFrame, timeframe: Timeframe, now: datetime) -> pl.DataFrame:
    """Add the columns the grid and future checks read: offset from the grid, seconds past now."""
    if timeframe.is_intraday:
        offset = pl.col("ts").dt.epoch("s") % int(timeframe.length.total_seconds())
    else:
        local = pl.col("ts").dt.convert_time_zone(MARKET_TZ)
        offset = local.dt.hour().cast(pl.Int64) * 3600 + local.dt.minute() * 60 + local.dt.second()
    return bars.with_columns(
        offset.alias("grid_offset_seconds"),
        (pl.col("ts").dt.epoch("s") - int(now.timestamp())).alias("seconds_after_now"),
    )


def run_suite(
    bars: pl.DataFrame, timeframe: Timeframe, now: datetime, known: set[str] | None = None
) -> list[Outcome]:
    """Validate a batch (BARS_SCHEMA columns) and return each expectation's outcome."""
    with _lock:
        definition = _batch_definition()
    frame = _derived(bars, timeframe, now).to_pandas()
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(_suite(now, known), result_format="SUMMARY")
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        kwargs = config.kwargs
        columns = kwargs.get("column") or ",".join(
            kwargs.get("column_list") or [kwargs.get("column_A", ""), kwargs.get("column_B", "")]
        )
        summary = item.result or {}
        outcomes.append(
            Outcome(
                expectation=config.type,
                columns=columns,
                success=bool(item.success),
                element_count=summary.get("element_count"),
                unexpected_count=summary.get("unexpected_count"),
                details={
                    "partial_unexpected_list": [
                        jsonable(value) for value in summary.get("partial_unexpected_list", [])[:5]
                    ],
                    "exception": item.exception_info.get("exception_message")
                    if item.exception_info.get("raised_exception")
                    else None,
                },
            )
        )
    return outcomes


class SuiteThread(threading.Thread):
    """The suite over one batch, run in a thread while the database takes the writes."""

    def __init__(
        self, bars: pl.DataFrame, timeframe: Timeframe, now: datetime, known: set[str] | None
    ) -> None:
        super().__init__(name="gx-suite", daemon=True)
        self.bars, self.timeframe, self.now, self.known = bars, timeframe, now, known
        self.outcomes: list[Outcome] = []
        self.error: Exception | None = None

    def run(self) -> None:
        """Validate; an error is kept for `result()` to raise on the caller's thread."""
        try:
            if not self.bars.is_empty():
                self.outcomes = run_suite(self.bars, self.timeframe, self.now, self.known)
        except Exception as error:
            self.error = error

    def result(self) -> list[Outcome]:
        """Wait for the suite; its outcomes, or its error raised here."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.outcomes


def record_outcomes(conn: Connection, run_id: int, outcomes: list[Outcome]) -> None:
    """Write each expectation's result for run `run_id` to raw.data_quality_runs."""
    if not outcomes:
        return
    conn.execute(
        text(
            "insert into raw.data_quality_runs (run_id, suite, expectation, columns, success, "
            "element_count, unexpected_count, details) values (:run_id, :suite, :expectation, "
            ":columns, :success, :element_count, :unexpected_count, cast(:details as jsonb))"
        ),
        [
            {
                "run_id": run_id,
                "suite": SUITE,
                "expectation": o.expectation,
                "columns": o.columns,
                "success": o.success,
                "element_count": o.element_count,
                "unexpected_count": o.unexpected_count,
                "details": json.dumps(o.details, default=str),
            }
            for o in outcomes
        ],
    )
