"""Corrected bars through dbt: staging exposes the latest version, every version stays queryable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine, text

from config.database import Connection
from ingestion.bars import land_fetched
from ingestion.db import RunRecord
from ingestion.timeframes import parse_timeframe
from ingestion.validate import BARS_SCHEMA

HOUR = parse_timeframe("1Hour")
AT = datetime(2026, 1, 5, 15, tzinfo=UTC)


def land(engine: Engine, close: float) -> None:
    bar = {
        "symbol": "AAPL",
        "timeframe": "1Hour",
        "ts": AT,
        "open": 100.0,
        "high": 102.0,
        "low": 99.0,
        "close": close,
        "volume": 10.0,
        "trade_count": 1,
        "vwap": 100.0,
    }
    frame = pl.DataFrame([bar], schema=BARS_SCHEMA)
    land_fetched(engine, frame, HOUR, RunRecord("bars", "alpaca", {}), datetime.now(UTC))


def test_staging_shows_the_correction_and_the_versions_model_keeps_both(
    module_database: Connection,
    module_engine: Engine,
    dbt_ok: Callable[[list[str], Connection], None],
) -> None:
    land(module_engine, 100.5)
    land(module_engine, 101.5)  # the feed corrected the close
    dbt_ok(["build", "--select", "stg_alpaca__bars", "stg_alpaca__bar_versions"], module_database)
    with module_engine.connect() as conn:
        latest = conn.execute(
            text("select close, version from staging.stg_alpaca__bars where symbol = 'AAPL'")
        ).all()
        versions = conn.execute(
            text(
                "select version, close, is_current, valid_to is null "
                "from staging.stg_alpaca__bar_versions where symbol = 'AAPL' order by version"
            )
        ).all()
        # Just before the correction landed, the first version was the one known.
        known_before_correction = conn.execute(
            text(
                "with t as (select min(valid_to) - interval '1 microsecond' as at "
                "from staging.stg_alpaca__bar_versions) "
                "select close from staging.stg_alpaca__bar_versions, t where symbol = 'AAPL' "
                "and valid_from <= t.at and (valid_to is null or valid_to > t.at)"
            )
        ).all()
    assert [(float(c), v) for c, v in latest] == [(101.5, 2)]
    assert [(v, float(c), cur, open_) for v, c, cur, open_ in versions] == [
        (1, 100.5, False, False),
        (2, 101.5, True, True),
    ]
    assert [float(c) for (c,) in known_before_correction] == [100.5]
