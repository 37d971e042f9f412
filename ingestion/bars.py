"""Land Alpaca bars in raw.bars: fetch through alpaca-py, validate, quarantine, upsert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.trading.client import TradingClient
from loguru import logger
from sqlalchemy import Engine, text

from ingestion.db import RunRecord, land_bars, quarantine_bars, record_run
from ingestion.timeframes import Timeframe
from ingestion.validate import BARS_SCHEMA, check_bars

SOURCE = "alpaca"


class UnknownSymbolError(ValueError):
    """A requested symbol is not an asset the broker knows."""


def known_symbols(client: TradingClient) -> set[str]:
    """Every asset symbol the broker lists."""
    return {asset.symbol for asset in client.get_all_assets()}  # type: ignore[union-attr]


def check_symbols(symbols: list[str], known: set[str]) -> None:
    """Refuse symbols the broker does not list, naming them."""
    unknown = sorted(set(symbols) - known)
    if unknown:
        raise UnknownSymbolError(f"unknown symbol(s): {', '.join(unknown)} (not an Alpaca asset)")


def fetch_bars(
    client: StockHistoricalDataClient,
    symbols: list[str],
    timeframe: Timeframe,
    start: datetime,
    end: datetime | None,
    feed: str | None = None,
) -> pl.DataFrame:
    """Fetch bars for many symbols in one paged request (the SDK follows next_page_token)."""
    request = StockBarsRequest(
        symbol_or_symbols=symbols, timeframe=timeframe.to_alpaca(), start=start, end=end, feed=feed
    )
    barset = client.get_stock_bars(request)
    rows = [
        {
            "symbol": symbol,
            "timeframe": timeframe.name,
            "ts": bar.timestamp,
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume,
            "trade_count": None if bar.trade_count is None else int(bar.trade_count),
            "vwap": bar.vwap,
        }
        for symbol, bars in barset.data.items()  # type: ignore[union-attr]
        for bar in bars
    ]
    return pl.DataFrame(rows, schema=BARS_SCHEMA)


def land_fetched(
    engine: Engine, bars: pl.DataFrame, timeframe: Timeframe, run: RunRecord, now: datetime
) -> RunRecord:
    """Validate and land one fetched batch with its run record, all in one transaction."""
    checked = check_bars(bars, timeframe, now)
    run.fetched = bars.height
    try:
        with engine.begin() as conn:
            inserted, changed, unchanged = land_bars(conn, checked.valid, run.source)
            run.landed, run.unchanged = inserted + changed, unchanged
            run.quarantined = quarantine_bars(conn, checked.rejected, run.source)
            record_run(conn, run, "succeeded")
    except Exception as error:
        with engine.begin() as conn:
            record_run(conn, run, "failed", error=str(error))
        raise
    logger.bind(**run.params, landed=run.landed, quarantined=run.quarantined).info("bars landed")
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
) -> RunRecord:
    """Land every bar of `symbols` between start and end; re-running lands nothing twice."""
    check_symbols(symbols, known_symbols(trading))
    run = RunRecord(
        kind="bars",
        source=SOURCE,
        params={"symbols": symbols, "timeframe": timeframe.name, "start": start, "end": end},
    )
    try:
        bars = fetch_bars(data, symbols, timeframe, start, end, feed)
    except Exception as error:
        with engine.begin() as conn:
            record_run(conn, run, "failed", error=str(error))
        raise
    return land_fetched(engine, bars, timeframe, run, datetime.now(UTC))


def watermarks(engine: Engine, timeframe: Timeframe) -> dict[str, datetime]:
    """The newest bar start per symbol already landed for this timeframe."""
    with engine.connect() as conn:
        rows: list[tuple[str, datetime]] = conn.execute(  # type: ignore[assignment]
            text("select symbol, max(ts) from raw.bars where timeframe = :tf group by symbol"),
            {"tf": timeframe.name},
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
) -> RunRecord:
    """Fetch from the oldest watermark minus a look-back (catching late bars) up to `until`."""
    marks = watermarks(engine, timeframe)
    starts = [marks[s] - lookback if s in marks else default_start for s in symbols]
    return backfill(data, trading, engine, symbols, timeframe, min(starts), until)
