"""DATABASE_URL's options reach every connection (engines and dbt), JIT off; no password shown."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from config.database import Connection, make_engine, parse_url
from flows.dbt import run_dbt

SETTINGS_SQL = (
    "select current_setting('application_name') as application_name, "
    "current_setting('statement_timeout') as statement_timeout, current_setting('jit') as jit"
)


def test_query_options_survive_parsing_and_round_trip() -> None:
    connection = parse_url(
        "postgresql://trader:pw@db.example.com:6543/trading"
        "?sslmode=require&connect_timeout=5&options=-c%20statement_timeout%3D30s"
    )
    assert connection.options["sslmode"] == "require"
    assert connection.options["connect_timeout"] == "5"
    assert connection.options["options"] == "-c statement_timeout=30s -c jit=off"
    assert parse_url(connection.url) == connection
    assert parse_url(connection.sqlalchemy_url) == connection
    assert connection.with_dbname("other").options == connection.options


def test_url_options_are_read_as_libpq_reads_them() -> None:
    # Unencoded spaces and `=` as people type them; `+` is not a space in libpq's URLs.
    connection = parse_url(
        "postgresql://u@h/db?options=-c statement_timeout=5s&application_name=a+b"
    )
    assert connection.options["options"] == "-c statement_timeout=5s -c jit=off"
    assert connection.options["application_name"] == "a+b"


def test_a_socket_directory_stays_the_host() -> None:
    connection = parse_url("postgresql://postgres:@/postgres?host=/run/pg&port=5433")
    assert (connection.host, connection.port, connection.dbname) == ("/run/pg", 5433, "postgres")
    assert "host" not in connection.options
    assert parse_url(connection.url) == connection
    encoded = parse_url("postgresql://postgres@%2Frun%2FPG:5433/postgres")
    assert (encoded.host, encoded.port) == ("/run/PG", 5433)


def test_an_ipv6_host_round_trips() -> None:
    connection = parse_url("postgresql://u@[::1]:5433/db")
    assert (connection.host, connection.port) == ("::1", 5433)
    assert parse_url(connection.url) == connection


def test_jit_is_off_unless_the_url_sets_it() -> None:
    assert parse_url("postgresql://u@h/db").options["options"] == "-c jit=off"
    assert parse_url("postgresql://u@h/db?options=-c%20jit%3Don").options["options"] == "-c jit=on"
    assert parse_url("postgresql://u@h/db?options=--jit%3Don").options["options"] == "--jit=on"


def test_unknown_option_is_refused_naming_it_and_the_closest_known() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL option 'sslmdoe'.*'sslmode'"):
        parse_url("postgresql://u:hunter22@h/db?sslmdoe=require")


def test_password_never_shows_in_repr_or_errors() -> None:
    connection = parse_url("postgresql://u:hunter22@h/db?sslpassword=keyphrase99")
    assert connection.password == "hunter22"
    for shown in (repr(connection), str(connection), connection.redacted_url):
        assert "hunter22" not in shown
        assert "keyphrase99" not in shown
    for bad in (
        "postgresql://u:hunter22@h:port/db",
        "postgresql://u:hunter22@h/db?port=x",
        "postgresql://u:hunter22/x@h/db",  # an unencoded / in the password
    ):
        with pytest.raises(ValueError, match="DATABASE_URL") as error:
            parse_url(bad)
        assert "hunter22" not in str(error.value)


def test_a_password_with_url_characters_survives() -> None:
    connection = parse_url("postgresql://u:p%40ss%3Aw%2Frd@h/db")
    assert connection.password == "p@ss:w/rd"
    assert parse_url(connection.url).password == "p@ss:w/rd"


def test_dbt_gets_profile_fields_and_libpq_variables_for_the_rest() -> None:
    connection = parse_url(
        "postgresql://u@h/db?sslmode=require&application_name=gate&target_session_attrs=read-write"
        "&keepalives_interval=5&options=-c%20statement_timeout%3D30s"
    )
    env = connection.dbt_env()
    assert env["TRADING_DB_SSLMODE"] == "require"
    assert env["TRADING_DB_APPLICATION_NAME"] == "gate"
    assert env["TRADING_DB_CONNECT_TIMEOUT"] == ""  # unset: the profile keeps dbt's default
    assert env["PGTARGETSESSIONATTRS"] == "read-write"
    assert env["PGOPTIONS"] == "-c statement_timeout=30s -c jit=off"
    assert connection.dbt_ignored_options() == ["keepalives_interval"]


def _with_options(connection: Connection, query: str) -> Connection:
    """The same database through a URL that adds these query options (a later one wins, as
    in libpq: `connection.url` already holds `options`)."""
    return parse_url(f"{connection.url}&{query}" if query else connection.url)


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """run_dbt exports the connection into os.environ; put it back for the next test."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.mark.integration
def test_engine_connections_carry_the_url_options(fresh_database: Connection) -> None:
    connection = _with_options(
        fresh_database,
        "application_name=engine%20probe&sslmode=disable&options=-c%20statement_timeout%3D4321",
    )
    engine = make_engine(connection)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(SETTINGS_SQL)).one()
            dsn = conn.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    finally:
        engine.dispose()
    assert tuple(row) == ("engine probe", "4321ms", "off")
    assert "sslmode=disable" in dsn


def _dbt_settings(connection: Connection) -> dict[str, Any]:
    """The settings of a connection dbt opens, read with `dbt show` (as a build's models run)."""
    result = run_dbt(["show", "--quiet", "--inline", SETTINGS_SQL], connection)
    assert result.success, result.exception
    table = result.result.results[0].agate_table  # type: ignore[union-attr]
    return dict(zip(table.column_names, table.rows[0], strict=True))


@pytest.mark.integration
@pytest.mark.usefixtures("restored_environ")
def test_dbt_connections_carry_the_url_options_and_run_without_jit(
    fresh_database: Connection,
) -> None:
    tuned = _with_options(
        fresh_database,
        "application_name=dbt%20probe&options=-c%20statement_timeout%3D4321",
    )
    assert _dbt_settings(tuned) == {
        "application_name": "dbt probe",
        "statement_timeout": "4321ms",
        "jit": "off",
    }
    # Without options, dbt's defaults again: nothing left over from the previous connection.
    plain = _with_options(fresh_database, "")
    assert _dbt_settings(plain) == {
        "application_name": "dbt",
        "statement_timeout": "0",
        "jit": "off",
    }
