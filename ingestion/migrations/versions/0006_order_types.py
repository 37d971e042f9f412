"""Order types beyond market: the prices and order class of each intent, and the broker's
bracket legs with the order they belong to (so a leg's fill is attributed to its strategy)."""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add order class and stop/bracket prices to intents and orders; legs name their parent."""
    op.execute(
        """
        alter table raw.order_submissions
            add column decision_id       text,
            add column order_class       text not null default 'simple'
                check (order_class in ('simple', 'bracket')),
            add column stop_price        numeric,
            add column take_profit_price numeric,
            add column stop_loss_price   numeric;

        alter table raw.orders
            add column order_class     text,
            add column stop_price      numeric,
            add column parent_order_id text;

        create index orders_parent_order_id on raw.orders (parent_order_id)
            where parent_order_id is not null;
        """
    )


def downgrade() -> None:
    """Drop the columns again."""
    op.execute(
        """
        drop index if exists raw.orders_parent_order_id;
        alter table raw.orders
            drop column parent_order_id,
            drop column stop_price,
            drop column order_class;
        alter table raw.order_submissions
            drop column stop_loss_price,
            drop column take_profit_price,
            drop column stop_price,
            drop column order_class,
            drop column decision_id;
        """
    )
