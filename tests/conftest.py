"""Shared fixtures: a fresh database on a real PostgreSQL server for every test that asks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from config.database import Connection, make_engine, parse_url, resolve_connection
from config.settings import Settings
from ingestion.migrate import scratch_database


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read the developer's own `.env`: an empty file stands in for it (a test of
    the `.env` itself removes TRADING_ENV_FILE or names its own file)."""
    empty = Path(config.rootpath) / ".trading" / "tests.env"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    os.environ["TRADING_ENV_FILE"] = str(empty)
    # Under pytest-xdist each worker gets its own dbt target and log directories and Prefect
    # home: two dbt runs must not share a partial parse or a manifest, nor two Prefect servers
    # one SQLite file. Databases are already one per test.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        scratch = Path(config.rootpath) / ".trading" / "workers" / worker
        os.environ["DBT_TARGET_PATH"] = str(scratch / "dbt-target")
        os.environ["DBT_LOG_PATH"] = str(scratch / "dbt-logs")
        home = os.environ.get("PREFECT_HOME")
        os.environ["PREFECT_HOME"] = f"{home}-{worker}" if home else str(scratch / "prefect")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Connection:
    """The server tests create databases on: TEST_DATABASE_URL, else an embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        server = parse_url(url)
    else:
        home = tmp_path_factory.mktemp("embedded")
        server = resolve_connection(Settings(database_url=None, trading_home=home)).with_dbname(
            "postgres"
        )
    _make_reader_role(server)
    return server


def _make_reader_role(server: Connection) -> None:
    """Create the dashboard's role before any test migrates a database.

    A role belongs to the whole server, not to one database: the raw migration creates it if it
    is missing, and two pytest-xdist workers migrating their first databases at once on a new
    server would both find it missing and one would fail on the other's. Made here, tolerating
    a worker that got there first, every migration finds it.
    """
    engine = make_engine(server).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                "do $$ begin create role trading_reader nologin;"
                " exception when duplicate_object or unique_violation then null; end $$"
            )
        )
    engine.dispose()


@pytest.fixture
def fresh_database(postgres_server: Connection) -> Iterator[Connection]:
    """A new, empty database with the raw schema migrated; dropped afterwards."""
    with scratch_database(postgres_server, f"test_{uuid.uuid4().hex[:12]}") as connection:
        yield connection


@pytest.fixture
def engine(fresh_database: Connection) -> Iterator[Engine]:
    """A SQLAlchemy engine on the fresh database."""
    eng = make_engine(fresh_database)
    yield eng
    eng.dispose()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build Settings pointing at a database and (optionally) a simulator URL."""

    def build(connection: Connection, alpaca_url: str | None = None) -> Settings:
        return Settings(
            database_url=connection.sqlalchemy_url.replace("postgresql+psycopg", "postgresql"),
            alpaca_api_key="PKTEST",  # type: ignore[arg-type]
            alpaca_secret_key="SECRET",  # type: ignore[arg-type]
            alpaca_trading_url=alpaca_url,
            alpaca_data_url=alpaca_url,
            trading_home=tmp_path / "home",
            # The simulator is local; tests of the limiter itself set their own limits.
            alpaca_rate_limit_per_minute=100_000,
        )

    return build
