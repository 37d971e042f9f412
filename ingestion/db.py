"""Write to the raw schema: COPY in streamed chunks, and versioned landing of bars.

Landing a batch of bars (one timeframe) inside the caller's transaction, `plan_landing` then
`write_landing`:
1. take the timeframe's advisory lock, so two landers never race on the same keys;
2. read back, with one COPY TO, the bars already held in the batch's symbols and time range;
3. classify in polars: new keys, corrected bars (any value differs) and unchanged bars;
4. flag suspect closes (a jump from the previous close beyond the configured fraction);
5. COPY new bars straight into raw.bars; move each corrected bar's old version to
   raw.bars_history and update it in place with version + 1. Unchanged bars cost no write.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from psycopg import sql
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
VALUES = ["open", "high", "low", "close", "volume", "trade_count", "vwap"]
WRITTEN = [*BAR_COLUMNS, "version", "is_suspect", "suspect_reason"]
COPY_CHUNK_ROWS = 100_000

# Built from the fixed column lists above, never from input.
_KEPT = [*WRITTEN, "ingested_at"]
MOVE_TO_HISTORY = f"""
insert into raw.bars_history ({", ".join(_KEPT)}, superseded_at)
select {", ".join(f"b.{c}" for c in _KEPT)}, now() from raw.bars as b
join incoming_bars as i using (symbol, timeframe, ts)
"""  # noqa: S608
APPLY_CORRECTIONS = f"""
update raw.bars as b
set {", ".join(f"{c} = i.{c}" for c in [*VALUES, "source", "is_suspect", "suspect_reason"])},
    version = b.version + 1,
    ingested_at = now()
from incoming_bars as i
where (b.symbol, b.timeframe, b.ts) = (i.symbol, i.timeframe, i.ts)
"""  # noqa: S608


@dataclass
class RunRecord:
    """What one ingestion run asked for and what became of it (a row of raw.ingestion_runs).

    fetched = landed (new bars) + corrected (new versions) + unchanged + quarantined.
    """

    kind: str
    source: str
    params: dict[str, Any]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    fetched: int = 0
    landed: int = 0
    corrected: int = 0
    unchanged: int = 0
    quarantined: int = 0
    suspect: int = 0
    newest: datetime | None = None
    id: int | None = None


COUNTS = ("fetched", "landed", "corrected", "unchanged", "quarantined", "suspect")


def totals(runs: list[RunRecord]) -> RunRecord:
    """The counts of several runs added up (for summaries of a multi-batch backfill)."""
    total = RunRecord("bars", "total", {})
    for run in runs:
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(run, name))
    return total


def copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY a polars frame into `table` (columns by name), streamed in CSV chunks.

    Writing the next chunk while the server parses the last one keeps both cores busy.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(
        sql.SQL(table), sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    )
    with cursor.copy(statement) as copy:
        for chunk in frame.iter_slices(COPY_CHUNK_ROWS):
            buffer = io.BytesIO()
            chunk.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
            copy.write(buffer.getbuffer())


def _read_copy(conn: Connection, query: sql.Composable, schema: dict[str, Any]) -> pl.DataFrame:
    """Run `copy (query) to stdout` and parse the CSV into a frame with `schema`."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with cursor.copy(sql.SQL("copy ({}) to stdout (format csv)").format(query)) as copy:
        for data in copy:
            buffer.write(data)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)


_EPOCH_US = sql.SQL("(extract(epoch from ts) * 1000000)::bigint")
_HELD_SCHEMA: dict[str, Any] = {
    "symbol": pl.String,
    "ts_us": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "trade_count": pl.Int64,
    "vwap": pl.Float64,
}


def _as_ts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("ts_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts")
    ).drop("ts_us")


def _held_bars(
    conn: Connection, timeframe: str, symbols: list[str], first: datetime, last: datetime
) -> pl.DataFrame:
    """The bars already held for `symbols` between `first` and `last` (inclusive)."""
    query = sql.SQL(
        "select symbol, {}, open, high, low, close, volume, trade_count, vwap from raw.bars "
        "where timeframe = {} and symbol = any({}) and ts between {} and {}"
    ).format(
        _EPOCH_US,
        sql.Literal(timeframe),
        sql.Literal(symbols),
        sql.Literal(first),
        sql.Literal(last),
    )
    return _as_ts(_read_copy(conn, query, _HELD_SCHEMA))


def _prior_closes(
    conn: Connection, timeframe: str, symbols: list[str], before: datetime
) -> pl.DataFrame:
    """Each symbol's last held close before `before` (the reference for the first new bar)."""
    query = sql.SQL(
        "select s.symbol, {}, b.close from unnest({}::text[]) as s (symbol) "
        "cross join lateral (select ts, close from raw.bars where symbol = s.symbol "
        "and timeframe = {} and ts < {} order by ts desc limit 1) as b"
    ).format(_EPOCH_US, sql.Literal(symbols), sql.Literal(timeframe), sql.Literal(before))
    schema = {"symbol": pl.String, "ts_us": pl.Int64, "close": pl.Float64}
    return _as_ts(_read_copy(conn, query, schema))


def _flag_suspects(
    bars: pl.DataFrame, held: pl.DataFrame, prior: pl.DataFrame, max_jump: float
) -> pl.DataFrame:
    """Mark bars whose close moves more than `max_jump` (a fraction) from the previous close.

    The previous close comes from the timeline the batch creates: held bars, overridden by the
    batch's own, plus the last held bar before the batch.
    """
    key = ["symbol", "ts"]
    timeline = (
        pl.concat(
            [
                prior.select("symbol", "ts", "close"),
                held.join(bars, on=key, how="anti").select("symbol", "ts", "close"),
                bars.select("symbol", "ts", "close"),
            ]
        )
        .sort(key)
        .with_columns(pl.col("close").shift(1).over("symbol").alias("previous_close"))
        .select(*key, "previous_close")
    )
    jump = (pl.col("close") / pl.col("previous_close") - 1).abs()
    suspect = jump > max_jump
    return (
        bars.join(timeline, on=key, how="left")
        .with_columns(suspect.fill_null(value=False).alias("is_suspect"))
        .with_columns(
            pl.when(pl.col("is_suspect"))
            .then(
                pl.format(
                    "close {} moved {}% from the previous close {} (limit {}%)",
                    pl.col("close"),
                    (jump * 100).round(1),
                    pl.col("previous_close"),
                    pl.lit(round(max_jump * 100, 1)),
                )
            )
            .alias("suspect_reason")
        )
        .drop("previous_close")
    )


@dataclass(frozen=True)
class Plan:
    """A batch sorted into new bars and corrected bars (suspects flagged), ready to write."""

    new: pl.DataFrame
    corrected: pl.DataFrame
    unchanged: int
    newest: dict[str, datetime]


def plan_landing(conn: Connection, bars: pl.DataFrame, source: str, max_jump: float) -> Plan:
    """Lock the batch's timeframe, read what is held and sort the batch; nothing is written."""
    if bars.is_empty():
        return _nothing_to_write(bars, 0)
    timeframes = bars["timeframe"].unique().to_list()
    if len(timeframes) != 1:
        raise ValueError(f"timeframe: one per batch, got {sorted(timeframes)}")
    timeframe = str(timeframes[0])
    conn.execute(
        text("select pg_advisory_xact_lock(hashtext('raw.bars'), hashtext(:tf))"),
        {"tf": timeframe},
    )
    symbols = sorted(bars["symbol"].unique().to_list())
    first, last = bars["ts"].min(), bars["ts"].max()
    held = _held_bars(conn, timeframe, symbols, first, last)  # type: ignore[arg-type]
    prior = _prior_closes(conn, timeframe, symbols, first)  # type: ignore[arg-type]

    compared = bars.join(held, on=["symbol", "ts"], how="left", suffix="_held")
    is_new = pl.col("open_held").is_null()
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_held")) for c in VALUES])
    compared = compared.with_columns(
        pl.when(is_new)
        .then(pl.lit("new"))
        .when(differs)
        .then(pl.lit("corrected"))
        .otherwise(pl.lit("unchanged"))
        .alias("change")
    )
    changes = compared.filter(pl.col("change") != "unchanged").select(*bars.columns, "change")
    if changes.is_empty():
        return _nothing_to_write(bars, bars.height)
    flagged = _flag_suspects(changes, held, prior, max_jump).with_columns(
        pl.lit(source).alias("source"), pl.lit(1).alias("version")
    )
    new = flagged.filter(pl.col("change") == "new").select(WRITTEN)
    corrected = flagged.filter(pl.col("change") == "corrected").select(WRITTEN)
    return Plan(
        new=new,
        corrected=corrected,
        unchanged=bars.height - new.height - corrected.height,
        newest=_newest(bars),
    )


def _nothing_to_write(bars: pl.DataFrame, unchanged: int) -> Plan:
    empty = pl.DataFrame(
        schema={
            c: bars.schema.get(c, pl.Boolean if c == "is_suspect" else pl.String) for c in WRITTEN
        }
    )
    return Plan(empty, empty, unchanged, _newest(bars))


def _newest(bars: pl.DataFrame) -> dict[str, datetime]:
    """The newest bar start per symbol of a batch."""
    newest = bars.group_by("symbol").agg(pl.col("ts").max())
    return dict(zip(newest["symbol"].to_list(), newest["ts"].to_list(), strict=True))


def write_landing(conn: Connection, plan: Plan) -> None:
    """COPY new bars into raw.bars; corrected bars keep their old version in raw.bars_history."""
    if not plan.new.is_empty():
        suspects = bool(plan.new["is_suspect"].any())
        # New bars are version 1 and, unless flagged, not suspect: the column defaults.
        copy_frame(conn, "raw.bars", plan.new if suspects else plan.new.select(BAR_COLUMNS))
    if not plan.corrected.is_empty():
        conn.execute(
            text(
                "create temporary table if not exists incoming_bars "
                "(like raw.bars including defaults) on commit delete rows"
            )
        )
        copy_frame(conn, "incoming_bars", plan.corrected)
        conn.execute(text(MOVE_TO_HISTORY))
        conn.execute(text(APPLY_CORRECTIONS))
        conn.execute(text("truncate incoming_bars"))


def advance_watermarks(
    conn: Connection, timeframe: str, source: str, newest: dict[str, datetime], run_id: int
) -> None:
    """Move each symbol's watermark (raw.ingestion_state) forward, never back, to its newest bar."""
    if not newest:
        return
    conn.execute(
        text(
            "insert into raw.ingestion_state (symbol, timeframe, source, watermark, last_run_id) "
            "values (:symbol, :timeframe, :source, :watermark, :run_id) "
            "on conflict (symbol, timeframe, source) do update set "
            "watermark = greatest(raw.ingestion_state.watermark, excluded.watermark), "
            "last_run_id = excluded.last_run_id, updated_at = now()"
        ),
        [
            {
                "symbol": symbol,
                "timeframe": timeframe,
                "source": source,
                "watermark": watermark,
                "run_id": run_id,
            }
            for symbol, watermark in newest.items()
        ],
    )


def jsonable(value: Any) -> Any:
    """NaN and infinities are not JSON; keep them as their text (inside lists too)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def quarantine_bars(conn: Connection, rejected: pl.DataFrame, source: str) -> int:
    """Keep every rejected bar, with its reason and original values, in raw.quarantine_bars.

    Returns how many were rejected, each now held: identical rejected rows of one batch are each
    kept, the second and later with their `occurrence` in the payload; a row already held from an
    earlier run is not stored twice.
    """
    if rejected.is_empty():
        return 0
    seen: Counter[tuple[str, str]] = Counter()
    rows = []
    for row in rejected.to_dicts():
        values = {k: jsonable(v) for k, v in row.items() if k != "reason"}
        identity = (row["reason"], json.dumps(values, default=str))
        seen[identity] += 1
        occurrence = seen[identity]
        if occurrence > 1:
            values["occurrence"] = occurrence
        rows.append(
            {
                "symbol": row.get("symbol"),
                "timeframe": row.get("timeframe"),
                "ts": row.get("ts"),
                "source": source,
                "reason": row["reason"],
                "payload": json.dumps(values, default=str),
            }
        )
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
    """Write the run's record (duration up to now); returns its id."""
    run.id = int(
        conn.execute(
            text(
                "insert into raw.ingestion_runs (kind, source, params, status, fetched, landed, "
                "corrected, unchanged, quarantined, error, started_at, finished_at, "
                "duration_seconds) values (:kind, :source, cast(:params as jsonb), :status, "
                ":fetched, :landed, :corrected, :unchanged, :quarantined, :error, :started_at, "
                "clock_timestamp(), extract(epoch from clock_timestamp() - :started_at)) "
                "returning id"
            ),
            {
                "kind": run.kind,
                "source": run.source,
                "params": json.dumps(run.params, default=str),
                "status": status,
                "fetched": run.fetched,
                "landed": run.landed,
                "corrected": run.corrected,
                "unchanged": run.unchanged,
                "quarantined": run.quarantined,
                "error": error,
                "started_at": run.started_at,
            },
        ).scalar_one()
    )
    return run.id
