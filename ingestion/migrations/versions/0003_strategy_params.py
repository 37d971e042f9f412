"""Strategy parameters with their history: one row per strategy and effective-from time."""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create raw.strategy_params."""
    op.execute(
        """
        create table raw.strategy_params (
            strategy        text        not null,
            effective_from  timestamptz not null,
            spec            jsonb       not null,
            spec_file       text        not null,
            loaded_at       timestamptz not null default now(),
            primary key (strategy, effective_from)
        )
        """
    )


def downgrade() -> None:
    """Drop raw.strategy_params."""
    op.execute("drop table if exists raw.strategy_params")
