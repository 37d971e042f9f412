"""Fixtures for the dbt tests: a migrated database shared by one module, and a dbt runner."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from config.database import Connection, make_engine
from flows.dbt import run_dbt
from ingestion.migrate import scratch_database

# Every invocation passes the same vars: a change of vars makes dbt re-parse the whole project.
DBT_AS_OF = datetime(2026, 1, 7, 6, 5, tzinfo=UTC)

BAR_COLUMNS = ("symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "source")


@pytest.fixture(scope="module")
def module_database(postgres_server: Connection) -> Iterator[Connection]:
    """A new migrated database shared by every test of one module (dbt builds are slow).

    Its name is the same for every module of this process: dbt re-parses the whole project
    when the profile (which includes the database name) changes."""
    with scratch_database(postgres_server, f"test_dbt_{os.getpid()}") as connection:
        yield connection


@pytest.fixture(scope="module")
def module_engine(module_database: Connection) -> Iterator[Engine]:
    """A SQLAlchemy engine on the module's database."""
    engine = make_engine(module_database)
    yield engine
    engine.dispose()


def _dbt_ok(args: list[str], connection: Connection) -> None:
    if "--vars" not in args:
        args = [*args, "--vars", json.dumps({"as_of": DBT_AS_OF.isoformat()})]
    result = run_dbt(args, connection)
    if result.success:
        return
    if result.exception is not None:
        pytest.fail(f"dbt {' '.join(args)} raised: {result.exception}")
    failures = [
        f"{r.node.unique_id}: {r.status}: {r.message}"
        for r in result.result.results  # type: ignore[union-attr]
        if str(r.status) not in ("success", "pass", "skipped", "no-op")
    ]
    pytest.fail(f"dbt {' '.join(args)} failed:\n" + "\n".join(failures))


def _insert_bars(engine: Engine, bars: Sequence[Mapping[str, Any]]) -> None:
    columns = ", ".join(BAR_COLUMNS)
    values = ", ".join(f":{c}" for c in BAR_COLUMNS)
    with engine.begin() as conn:
        conn.execute(
            text(f"insert into raw.bars ({columns}) values ({values})"),
            [{"source": "test", **bar} for bar in bars],
        )


@pytest.fixture(scope="session")
def dbt_as_of() -> datetime:
    """The `as_of` var every dbt invocation of these tests passes."""
    return DBT_AS_OF


@pytest.fixture(scope="session")
def dbt_ok() -> Callable[[list[str], Connection], None]:
    """Run dbt at `dbt_as_of`; fail the test with every failing node's message unless all
    nodes succeeded."""
    return _dbt_ok


@pytest.fixture(scope="session")
def insert_bars() -> Callable[[Engine, Sequence[Mapping[str, Any]]], None]:
    """Land bars in raw.bars as ingestion would."""
    return _insert_bars
