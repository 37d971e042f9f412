"""Versioned migrations of the raw schema (Alembic)."""
