"""Ingestion for people at the keyboard: a progress bar, a summary table, `ingest status`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine, text

from config.settings import Settings
from ingestion.bars import Options
from ingestion.db import COUNTS, RunRecord, totals
from ingestion.events import EventStream


def landing_options(settings: Settings) -> Options:
    """Landing options from settings: the suspect-jump limit and, with REDIS_URL, the events."""
    return Options(
        max_close_jump=settings.ingest_max_close_jump_pct / 100,
        events=EventStream(settings.redis_url) if settings.redis_url else None,
    )


@contextmanager
def bars_progress(console: Console, options: Options, symbols: int) -> Iterator[None]:
    """Show bars fetched and their rate while a backfill runs (on a terminal only)."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars {task.fields[bars]:,}"),
        TextColumn("{task.fields[rate]:,.0f} bars/s"),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    task = progress.add_task("symbols", total=symbols, bars=0, rate=0.0)
    began = datetime.now().astimezone()

    def on_page(bars: int) -> None:
        done = progress.tasks[0].fields["bars"] + bars
        seconds = (datetime.now().astimezone() - began).total_seconds() or 1e-9
        progress.update(task, bars=done, rate=done / seconds)

    def on_batch(done: int) -> None:
        progress.advance(task, done)

    options.on_page, options.on_batch = on_page, on_batch
    with progress:
        yield
    options.on_page = options.on_batch = None


def summary_table(title: str, runs: list[RunRecord]) -> Table:
    """One row per landed batch and a total: fetched, landed, corrected, unchanged, quarantined."""
    table = Table(title=title)
    for column in (
        "batch",
        "fetched",
        "landed",
        "corrected",
        "unchanged",
        "quarantined",
        "suspect",
    ):
        table.add_column(column, justify="left" if column == "batch" else "right")
    for run in runs:
        symbols = run.params.get("symbols") or [run.kind]
        label = f"{symbols[0]}…{symbols[-1]} ({len(symbols)})" if len(symbols) > 1 else symbols[0]
        table.add_row(label, *_counts(run))
    if len(runs) > 1:
        table.add_row("[bold]total", *_counts(totals(runs)))
    return table


def _counts(run: RunRecord) -> list[str]:
    return [f"{getattr(run, name):,}" for name in COUNTS]


def status_tables(engine: Engine, now: datetime) -> list[Table]:
    """Watermarks per timeframe, the last runs, quarantine counts by reason, failed expectations."""
    with engine.connect() as conn:
        marks = conn.execute(
            text(
                "select timeframe, source, count(*), min(watermark), max(watermark) "
                "from raw.ingestion_state group by timeframe, source order by timeframe, source"
            )
        ).all()
        runs = conn.execute(
            text(
                "select id, kind, status, fetched, landed, corrected, unchanged, "
                "quarantined, round(duration_seconds::numeric, 2), finished_at, error "
                "from raw.ingestion_runs order by id desc limit 10"
            )
        ).all()
        quarantine = conn.execute(
            text(
                "select 'bars', split_part(reason, ':', 1), count(*), max(quarantined_at) "
                "from raw.quarantine_bars group by 2 union all "
                "select kind, split_part(reason, ':', 1), count(*), max(quarantined_at) "
                "from raw.quarantine_records group by 1, 2 order by 3 desc"
            )
        ).all()
        failing = conn.execute(
            text(
                "select expectation, columns, count(*), sum(unexpected_count), max(checked_at) "
                "from raw.data_quality_runs where not success "
                "and checked_at > now() - interval '7 days' "
                "group by expectation, columns order by 3 desc"
            )
        ).all()
    watermarks = Table(title="watermarks (newest landed bar)")
    for column in ("timeframe", "source", "symbols", "oldest watermark", "newest", "behind"):
        watermarks.add_column(column)
    for timeframe, source, symbols, oldest, newest in marks:
        behind = _age(now - oldest)  # type: ignore[operator]
        watermarks.add_row(
            str(timeframe), str(source), str(symbols), _utc(oldest), _utc(newest), behind
        )
    last = Table(title="last runs")
    last.add_column("id")
    last.add_column("kind")
    last.add_column("status", min_width=9)
    for column in ("fetched", "landed", "corrected", "unchanged", "quarantined", "seconds"):
        last.add_column(column, justify="right")
    last.add_column("finished (UTC)", min_width=16)
    last.add_column("error")
    for *counts, finished, error in runs:
        cells = ["" if v is None else str(v) for v in counts]
        last.add_row(*cells, _utc(finished), str(error or ""))
    held = Table(title="quarantine")
    for column in ("kind", "reason", "rows", "latest"):
        held.add_column(column)
    for kind, reason, rows, latest in quarantine:
        held.add_row(str(kind), str(reason), str(rows), _utc(latest))
    quality = Table(title="failed expectations (last 7 days)")
    for column in ("expectation", "columns", "runs", "rows", "latest"):
        quality.add_column(column)
    for expectation, columns, runs_failed, rows, latest in failing:
        quality.add_row(str(expectation), str(columns), str(runs_failed), str(rows), _utc(latest))
    return [watermarks, last, held, quality]


def _utc(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else ""


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"
