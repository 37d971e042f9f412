"""Run dbt in-process against a given database connection (no Prefect here)."""

from __future__ import annotations

import os
from pathlib import Path

from dbt.cli.main import dbtRunner, dbtRunnerResult
from loguru import logger

from config.database import Connection

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


# libpq variables (PGTARGETSESSIONATTRS, ...) exported for an earlier connection of this process:
# a later connection without that option must not inherit it.
_exported_libpq: set[str] = set()


def export_dbt_env(connection: Connection) -> None:
    """Point `dbt_project/profiles.yml` (which reads env_var() only) at this connection."""
    env = connection.dbt_env()
    for name in _exported_libpq - env.keys():
        os.environ.pop(name, None)
    _exported_libpq.clear()
    _exported_libpq.update(name for name in env if name.startswith("PG"))
    os.environ.update(env)
    for name in connection.dbt_ignored_options():
        logger.bind(option=name).warning(
            "DATABASE_URL option {} does not reach dbt: dbt-postgres has no field for it "
            "and libpq no environment variable",
            name,
        )


def dbt_args(args: list[str]) -> list[str]:
    """Add the project and profiles directories unless the caller gave them."""
    extra: list[str] = []
    if "--project-dir" not in args:
        extra += ["--project-dir", str(DBT_PROJECT_DIR)]
    if "--profiles-dir" not in args:
        extra += ["--profiles-dir", str(DBT_PROJECT_DIR)]
    return [*args, *extra] if args else args


def run_dbt(args: list[str], connection: Connection) -> dbtRunnerResult:
    """Invoke dbt (e.g. `["build"]`) on this connection and return its result."""
    export_dbt_env(connection)
    return dbtRunner().invoke(dbt_args(args))
