"""The manual kill switch: every `trading halt` and `trading resume`, with its time and reason."""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create raw.trading_state_events."""
    op.execute(
        """
        create table raw.trading_state_events (
            id              bigint      generated always as identity primary key,
            recorded_at     timestamptz not null default clock_timestamp(),
            action          text        not null check (action in ('halt', 'resume')),
            reason          text        not null check (length(btrim(reason)) > 0),
            actor           text        not null,
            cancel_orders   boolean     not null default false,
            close_positions boolean     not null default false
        );
        """
    )


def downgrade() -> None:
    """Drop raw.trading_state_events."""
    op.execute("drop table if exists raw.trading_state_events")
