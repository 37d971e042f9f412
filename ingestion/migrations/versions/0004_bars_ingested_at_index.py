"""An index on raw.bars.ingested_at: dbt's incremental indicators find newly landed bars by it."""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index raw.bars by landing time."""
    op.execute("create index bars_ingested_at on raw.bars (ingested_at)")


def downgrade() -> None:
    """Drop the landing-time index."""
    op.execute("drop index if exists raw.bars_ingested_at")
