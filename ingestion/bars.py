"""Land Alpaca bars in raw.bars: fetch pages through alpaca-py, validate, quarantine, version.

A backfill is a series of batches (a group of symbols over the whole range). Each batch is one
transaction with its run record, its data-quality results and its watermarks, so a failed run
leaves the watermarks where the last committed batch put them and a rerun resumes from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, text

from config.alpaca import source_of
from ingestion import quality
from ingestion.db import (
    RunRecord,
    advance_watermarks,
    plan_landing,
    quarantine_bars,
    record_run,
    write_landing,
)
from ingestion.events import EventStream
from ingestion.reference import landed_symbols
from ingestion.timeframes import Timeframe
from ingestion.validate import BARS_SCHEMA, check_bars

SOURCE = "alpaca"
PAGE_LIMIT = 10_000
BATCH_SYMBOLS = 100


class UnknownSymbolError(ValueError):
    """A requested symbol is not an asset the broker knows."""


class PagingError(RuntimeError):
    """The API's paging went wrong (a repeated page token): stop rather than loop."""


class AlpacaBar(BaseModel):
    """One bar as /v2/stocks/bars sends it; numbers stay loose so bad values reach the rules."""

    model_config = ConfigDict(extra="allow")

    t: datetime
    o: float | None
    h: float | None
    l: float | None  # noqa: E741 (Alpaca's field name)
    c: float | None
    v: float | None
    n: int | None = None
    vw: float | None = None


class BarsPage(BaseModel):
    """One page of /v2/stocks/bars: raw bar records per symbol and the next page token."""

    bars: dict[str, list[dict[str, Any]]] | None = Field(default_factory=dict)
    next_page_token: str | None = None


@dataclass
class Options:
    """How a batch is landed: the suspect-jump limit, the known assets, where events go, and
    progress callbacks (bars fetched per page, symbols done per batch)."""

    max_close_jump: float = 0.20
    known: set[str] | None = None
    events: EventStream | None = None
    on_page: Callable[[int], None] | None = None
    on_batch: Callable[[int], None] | None = None


@dataclass
class Batch:
    """A fetched batch: valid-shaped bars and the records that failed their pydantic model."""

    bars: pl.DataFrame
    malformed: list[dict[str, Any]] = field(default_factory=list)


def known_symbols(client: TradingClient) -> set[str]:
    """Every asset symbol the broker lists."""
    return {asset.symbol for asset in client.get_all_assets()}  # type: ignore[union-attr]


def check_symbols(symbols: list[str], known: set[str]) -> None:
    """Refuse symbols the broker does not list, naming them."""
    unknown = sorted(set(symbols) - known)
    if unknown:
        raise UnknownSymbolError(f"unknown symbol(s): {', '.join(unknown)} (not an Alpaca asset)")


def fetch_pages(
    client: StockHistoricalDataClient,
    symbols: list[str],
    timeframe: Timeframe,
    start: datetime,
    end: datetime | None,
    feed: str | None = None,
) -> Iterator[BarsPage]:
    """Every page of one multi-symbol bars request, followed to the end.

    The end is a missing, null or empty token (alpaca-py itself would loop on ""); a token seen
    twice raises PagingError.
    """
    params: dict[str, Any] = {
        "symbols": ",".join(symbols),
        "timeframe": timeframe.name,
        "start": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "limit": PAGE_LIMIT,
        "adjustment": "raw",
        "sort": "asc",
    }
    if end is not None:
        params["end"] = end.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if feed:
        params["feed"] = feed
    seen: set[str] = set()
    while True:
        page = BarsPage.model_validate(client.get("/stocks/bars", params))
        yield page
        token = page.next_page_token
        if not token:
            return
        if token in seen:
            raise PagingError(f"next_page_token {token!r} came back twice; stopped paging")
        seen.add(token)
        params["page_token"] = token


Records = list[dict[str, Any]]


def _rows(page: BarsPage, timeframe: Timeframe) -> tuple[Records, Records]:
    """Split a page's records into BARS_SCHEMA rows and malformed records (with a reason)."""
    rows: Records = []
    malformed: Records = []
    for symbol, records in (page.bars or {}).items():
        for record in records:
            try:
                bar = AlpacaBar.model_validate(record)
            except ValidationError as error:
                problem = error.errors()[0]
                where = ".".join(str(p) for p in problem["loc"])
                malformed.append(
                    {
                        "symbol": symbol,
                        "timeframe": timeframe.name,
                        "ts": None,
                        "reason": f"malformed bar: {where}: {problem['msg']} "
                        f"(value {problem.get('input')!r})",
                        **{f"payload_{k}": v for k, v in record.items()},
                    }
                )
                continue
            rows.append(
                {
                    "symbol": symbol,
                    "timeframe": timeframe.name,
                    "ts": bar.t,
                    "open": bar.o,
                    "high": bar.h,
                    "low": bar.l,
                    "close": bar.c,
                    "volume": bar.v,
                    "trade_count": bar.n,
                    "vwap": bar.vw,
                }
            )
    return rows, malformed


def fetch_batch(
    client: StockHistoricalDataClient,
    symbols: list[str],
    timeframe: Timeframe,
    start: datetime,
    end: datetime | None,
    feed: str | None = None,
    on_page: Callable[[int], None] | None = None,
) -> Batch:
    """Fetch every page for `symbols` into one frame; `on_page(bars)` reports progress."""
    rows: list[dict[str, Any]] = []
    malformed: list[dict[str, Any]] = []
    for page in fetch_pages(client, symbols, timeframe, start, end, feed):
        good, bad = _rows(page, timeframe)
        rows += good
        malformed += bad
        if on_page:
            on_page(len(good) + len(bad))
    return Batch(pl.DataFrame(rows, schema=BARS_SCHEMA), malformed)


def land_fetched(
    engine: Engine,
    bars: pl.DataFrame,
    timeframe: Timeframe,
    run: RunRecord,
    now: datetime,
    options: Options | None = None,
    malformed: list[dict[str, Any]] | None = None,
) -> RunRecord:
    """Validate and land one batch with its run record, quality results and watermarks, at once.

    The Great Expectations suite covers what this run lands (new and corrected bars) and what it
    rejects; a bar that comes back unchanged was checked when it first landed. It runs in a
    thread while the database takes the writes.
    """
    options = options or Options()
    checked = check_bars(bars, timeframe, now, options.known)
    rejected = checked.rejected
    if malformed:
        rejected = pl.concat([rejected, pl.DataFrame(malformed)], how="diagonal_relaxed")
    run.fetched = bars.height + len(malformed or [])
    suite: quality.SuiteThread | None = None
    try:
        with engine.begin() as conn:
            plan = plan_landing(conn, checked.valid, run.source, options.max_close_jump)
            checking = pl.concat(
                [
                    frame.select(list(BARS_SCHEMA))
                    for frame in (plan.new, plan.corrected, checked.rejected)
                ]
            )
            suite = quality.SuiteThread(checking, timeframe, now, options.known)
            suite.start()
            write_landing(conn, plan)
            run.landed, run.corrected = plan.new.height, plan.corrected.height
            run.unchanged = plan.unchanged
            run.suspect = sum(int(f["is_suspect"].sum()) for f in (plan.new, plan.corrected))
            run.quarantined = quarantine_bars(conn, rejected, run.source)
            run.newest = max(plan.newest.values(), default=None)
            outcomes = suite.result()
            run_id = record_run(conn, run, "succeeded")
            quality.record_outcomes(conn, run_id, outcomes)
            advance_watermarks(conn, timeframe.name, run.source, plan.newest, run_id)
    except Exception as error:
        if suite is not None and suite.is_alive():
            suite.join()
        with engine.begin() as conn:
            record_run(conn, run, "failed", error=str(error))
        raise
    logger.bind(
        **{k: str(v) for k, v in run.params.items()},
        landed=run.landed,
        corrected=run.corrected,
        quarantined=run.quarantined,
    ).info("bars landed")
    if options.events is not None:
        options.events.publish(
            "bars_landed",
            run_id=str(run.id),
            source=run.source,
            timeframe=timeframe.name,
            fetched=run.fetched,
            landed=run.landed,
            corrected=run.corrected,
            unchanged=run.unchanged,
            quarantined=run.quarantined,
            newest_bar=run.newest.isoformat() if run.newest else "",
        )
    return run


def backfill(
    data: StockHistoricalDataClient,
    trading: TradingClient,
    engine: Engine,
    symbols: list[str],
    timeframe: Timeframe,
    start: datetime,
    end: datetime | None = None,
    feed: str | None = None,
    options: Options | None = None,
) -> list[RunRecord]:
    """Land every bar of `symbols` between start and end, BATCH_SYMBOLS symbols per batch.

    Re-running lands nothing twice; a corrected bar lands as a new version.
    """
    options = options or Options()
    known = landed_symbols(engine)
    if not known.issuperset(symbols):  # never synced, or a listing newer than the last sync
        known = known_symbols(trading)
    check_symbols(symbols, known)
    options.known = known
    runs = []
    for i in range(0, len(symbols), BATCH_SYMBOLS):
        group = symbols[i : i + BATCH_SYMBOLS]
        run = RunRecord(
            kind="bars",
            source=source_of(data),
            params={"symbols": group, "timeframe": timeframe.name, "start": start, "end": end},
        )
        try:
            batch = fetch_batch(data, group, timeframe, start, end, feed, options.on_page)
        except Exception as error:
            with engine.begin() as conn:
                record_run(conn, run, "failed", error=f"fetch failed: {error}")
            raise
        now = datetime.now(UTC)
        runs.append(land_fetched(engine, batch.bars, timeframe, run, now, options, batch.malformed))
        if options.on_batch:
            options.on_batch(len(group))
    return runs


def watermarks(engine: Engine, timeframe: Timeframe, source: str = SOURCE) -> dict[str, datetime]:
    """The newest landed bar start per symbol for this timeframe (raw.ingestion_state)."""
    with engine.connect() as conn:
        rows: list[tuple[str, datetime]] = conn.execute(  # type: ignore[assignment]
            text(
                "select symbol, watermark from raw.ingestion_state "
                "where timeframe = :tf and source = :source"
            ),
            {"tf": timeframe.name, "source": source},
        ).all()
    return {str(symbol): ts for symbol, ts in rows}


def load_new_bars(
    data: StockHistoricalDataClient,
    trading: TradingClient,
    engine: Engine,
    symbols: list[str],
    timeframe: Timeframe,
    default_start: datetime,
    until: datetime | None = None,
    lookback: timedelta = timedelta(hours=3),
    options: Options | None = None,
) -> list[RunRecord]:
    """Fetch each symbol from its watermark minus `lookback` (catching corrected bars).

    Symbols with no watermark yet start at `default_start`; the two groups are fetched apart
    so that a new symbol does not make the others refetch their history.
    """
    marks = watermarks(engine, timeframe, source_of(data))  # the simulator's are its own
    tracked = [s for s in symbols if s in marks]
    fresh = [s for s in symbols if s not in marks]
    runs = []
    if tracked:
        start = min(marks[s] for s in tracked) - lookback
        runs += backfill(data, trading, engine, tracked, timeframe, start, until, options=options)
    if fresh:
        runs += backfill(
            data, trading, engine, fresh, timeframe, default_start, until, options=options
        )
    return runs
