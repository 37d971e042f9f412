"""Create or upgrade the raw schema through the versioned Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from config.database import Connection, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the raw schema to `revision`; running it again changes nothing."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def scratch_database(server: Connection, name: str) -> Iterator[Connection]:
    """Create database `name` on `server` (replacing a leftover), migrated; dropped on exit."""
    admin = make_engine(server.with_dbname("postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}"'))
    connection = server.with_dbname(name)
    engine = make_engine(connection)
    migrate(engine)
    engine.dispose()
    try:
        yield connection
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
