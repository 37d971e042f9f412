"""Backtest runs: what each `trading backtest` was asked to do, so any result can be reproduced."""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create raw.backtest_runs."""
    op.execute(
        """
        create table raw.backtest_runs (
            run_id          uuid        primary key,
            strategy        text        not null,
            spec            jsonb       not null,
            parameters      jsonb       not null,
            timeframe       text        not null,
            symbols         text[]      not null,
            start_at        timestamptz,
            end_at          timestamptz,
            initial_cash    numeric     not null check (initial_cash > 0),
            mode            text        not null check (mode in ('signal', 'portfolio')),
            costs           jsonb       not null,
            code_version    text        not null,
            status          text        not null default 'running'
                check (status in ('running', 'finished', 'failed')),
            error           text,
            started_at      timestamptz not null default clock_timestamp(),
            finished_at     timestamptz
        );
        """
    )


def downgrade() -> None:
    """Drop raw.backtest_runs."""
    op.execute("drop table if exists raw.backtest_runs")
