"""Where raw rows came from, and the demo's guard: it lands only among the simulator's own rows.

Every raw table of broker or market data has a `source` column: 'simulator' for rows landed from
our simulator, 'alpaca' for real Alpaca (or any host that is not the simulator: see
`config.alpaca.source_of`), `file:<name>` for imported bars, null where the writer did not say.
The demo lands synthetic bars, orders and fills, so it may use a database only while that holds
no row from anywhere but the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Engine, text

from config.alpaca import SIMULATOR

# Broker and market data tables as migration 0007 left them. One of them without a `source`
# column (a schema not yet migrated) holds rows of unknown source. Any other raw table with a
# `source` column is checked too; raw tables without one (strategy parameters, halt and resume
# events, data-quality results) hold no broker or market data.
BROKER_TABLES = (
    "bars",
    "bars_history",
    "quarantine_bars",
    "quarantine_records",
    "ingestion_runs",
    "ingestion_state",
    "orders",
    "fills",
    "account_snapshots",
    "position_snapshots",
    "calendar",
    "assets",
    "order_submissions",
)

RAW_TABLES = text(
    "select c.relname as name, exists (select from pg_attribute as a where a.attrelid = c.oid "
    "and a.attname = 'source' and a.attnum > 0 and not a.attisdropped) as has_source "
    "from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
    "where n.nspname = 'raw' and c.relkind in ('r', 'p') order by c.relname"
)


class DemoDatabaseError(ValueError):
    """The database holds rows not landed from the simulator: the demo must not land there."""


@dataclass(frozen=True)
class HeldRows:
    """How many rows of one raw table came from one source (None: the rows do not say)."""

    table: str
    source: str | None
    rows: int

    def __str__(self) -> str:
        origin = "of unknown source" if self.source is None else f"from {self.source!r}"
        return f"raw.{self.table}: {self.rows} row{'' if self.rows == 1 else 's'} {origin}"


def _count(conn: Connection, table: str, has_source: bool) -> list[HeldRows]:
    """The rows of `table` not from the simulator, by source."""
    name = conn.dialect.identifier_preparer.quote_identifier(table)
    if not has_source:
        rows = int(conn.execute(text(f"select count(*) from raw.{name}")).scalar_one())  # noqa: S608 (a name from pg_class, quoted)
        return [HeldRows(table, None, rows)] if rows else []
    counts = conn.execute(
        text(
            f"select source, count(*) from raw.{name} "  # noqa: S608 (a name from pg_class, quoted)
            "where source is distinct from :simulator group by source order by source nulls first"
        ),
        {"simulator": SIMULATOR},
    )
    return [HeldRows(table, cast(str | None, source), cast(int, rows)) for source, rows in counts]


def rows_not_from_simulator(engine: Engine) -> list[HeldRows]:
    """Every raw row of broker or market data that the simulator did not send, counted by table
    and source; empty for a database without the raw schema, with no rows, or only simulator's."""
    with engine.connect() as conn:
        tables: list[tuple[str, bool]] = [
            (name, has_source)
            for name, has_source in cast(list[tuple[str, bool]], conn.execute(RAW_TABLES).all())
            if has_source or name in BROKER_TABLES
        ]
        return [held for name, has_source in tables for held in _count(conn, name, has_source)]


def ensure_demo_database(engine: Engine) -> None:
    """Raise DemoDatabaseError, naming the tables, row counts and sources, unless the database
    is empty or holds nothing but simulator data (the only databases the demo may land in)."""
    held = rows_not_from_simulator(engine)
    if held:
        where = engine.url.render_as_string(hide_password=True)
        raise DemoDatabaseError(
            f"{where} holds rows not landed from the simulator ("
            + "; ".join(str(h) for h in held)
            + "): the demo lands synthetic bars, orders and fills only in an empty database "
            "or one holding nothing but simulator data"
        )
