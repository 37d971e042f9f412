"""Write to the raw schema: COPY into a temporary table, then one set-based upsert."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, text

BAR_COLUMNS = [
    "symbol",
    "timeframe",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trade_count",
    "vwap",
    "source",
]
_VALUES = ["open", "high", "low", "close", "volume", "trade_count", "vwap"]

# Built from the fixed column lists above, never from input.
UPSERT_BARS = f"""
with upserted as (
    insert into raw.bars ({", ".join(BAR_COLUMNS)}, ingested_at)
    select {", ".join(BAR_COLUMNS)}, now() from incoming_bars
    on conflict (symbol, timeframe, ts) do update
        set {", ".join(f"{c} = excluded.{c}" for c in [*_VALUES, "source"])},
            ingested_at = excluded.ingested_at
        where ({", ".join(f"raw.bars.{c}" for c in _VALUES)})
            is distinct from ({", ".join(f"excluded.{c}" for c in _VALUES)})
    returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) filter (where not inserted) from upserted
"""  # noqa: S608


@dataclass
class RunRecord:
    """What one ingestion run asked for and what became of it (a row of raw.ingestion_runs)."""

    kind: str
    source: str
    params: dict[str, Any]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    fetched: int = 0
    landed: int = 0
    unchanged: int = 0
    quarantined: int = 0


def copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY a polars frame into `table` (columns by name) through psycopg."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    columns = ", ".join(frame.columns)
    with cursor.copy(f"copy {table} ({columns}) from stdin (format csv)") as copy:
        copy.write(buffer.getvalue())


def land_bars(conn: Connection, bars: pl.DataFrame, source: str) -> tuple[int, int, int]:
    """Upsert valid bars; returns (inserted, changed, unchanged). Re-landing adds nothing."""
    if bars.is_empty():
        return 0, 0, 0
    conn.execute(
        text(
            "create temporary table if not exists incoming_bars "
            "(like raw.bars including defaults) on commit delete rows"
        )
    )
    frame = bars.with_columns(pl.lit(source).alias("source")).select(BAR_COLUMNS)
    copy_frame(conn, "incoming_bars", frame)
    counts = conn.execute(text(UPSERT_BARS)).one()
    inserted, changed = int(counts[0]), int(counts[1])
    conn.execute(text("truncate incoming_bars"))
    return inserted, changed, bars.height - inserted - changed


def _jsonable(value: Any) -> Any:
    """NaN and infinities are not JSON; keep them as their text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def quarantine_bars(conn: Connection, rejected: pl.DataFrame, source: str) -> int:
    """Keep every rejected bar, with its reason and original values, in raw.quarantine_bars.

    Returns how many were rejected; one already held from an earlier run is not stored twice.
    """
    if rejected.is_empty():
        return 0
    rows = [
        {
            "symbol": row.get("symbol"),
            "timeframe": row.get("timeframe"),
            "ts": row.get("ts"),
            "source": source,
            "reason": row["reason"],
            "payload": json.dumps(
                {k: _jsonable(v) for k, v in row.items() if k != "reason"}, default=str
            ),
        }
        for row in rejected.to_dicts()
    ]
    conn.execute(
        text(
            "insert into raw.quarantine_bars (symbol, timeframe, ts, source, reason, payload) "
            "values (:symbol, :timeframe, :ts, :source, :reason, cast(:payload as jsonb)) "
            "on conflict (source, reason, md5(payload::text)) do nothing"
        ),
        rows,
    )
    return len(rows)


def record_run(conn: Connection, run: RunRecord, status: str, error: str | None = None) -> int:
    """Write the run's record; returns its id."""
    return int(
        conn.execute(
            text(
                "insert into raw.ingestion_runs (kind, source, params, status, fetched, landed, "
                "unchanged, quarantined, error, started_at, finished_at) values (:kind, :source, "
                "cast(:params as jsonb), :status, :fetched, :landed, :unchanged, :quarantined, "
                ":error, :started_at, now()) returning id"
            ),
            {
                "kind": run.kind,
                "source": run.source,
                "params": json.dumps(run.params, default=str),
                "status": status,
                "fetched": run.fetched,
                "landed": run.landed,
                "unchanged": run.unchanged,
                "quarantined": run.quarantined,
                "error": error,
                "started_at": run.started_at,
            },
        ).scalar_one()
    )
