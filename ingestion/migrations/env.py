"""Alembic environment: runs the raw-schema migrations on the connection it is handed."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
connection.execute(text("create schema if not exists raw"))
context.configure(
    connection=connection, version_table="alembic_version", version_table_schema="raw"
)
with context.begin_transaction():
    context.run_migrations()
