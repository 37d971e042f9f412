"""Every raw table of broker data says where its rows came from: `source` 'alpaca' or 'simulator'.

raw.bars, the quarantine tables, raw.ingestion_runs and raw.ingestion_state had a `source`
already; orders, fills, account and position snapshots, calendar, assets and order submissions
get one here (null: the writer did not say, which the demo guard treats as unknown).

Rows held before this migration were all labelled 'alpaca', the simulator's included. They are
relabelled 'simulator' only when the database shows it never met a real account: it holds at
least one account snapshot and every one is of the simulator's account (PA3SIM000001, frozen
here as `simulator.broker.ACCOUNT_NUMBER` was when this migration was written). Otherwise every
row keeps or gets 'alpaca', the safe side: the demo refuses such a database. Bars follow the
account although a data host may differ from the trading host; pointing only the data URL at
real Alpaca while trading with the simulator's synthetic prices is not a setup this supports.
A downgrade leaves 'simulator' in the tables that had a source: a 'simulator' watermark is
then not found and bars are fetched again from the start, which lands nothing twice.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_COLUMNS = (
    "orders",
    "fills",
    "account_snapshots",
    "position_snapshots",
    "calendar",
    "assets",
    "order_submissions",
)
ALREADY_LABELLED = (
    "bars",
    "bars_history",
    "quarantine_bars",
    "quarantine_records",
    "ingestion_runs",
    "ingestion_state",
)


# 'simulator' when every account snapshot held is the simulator's account (and there is one).
HELD_SOURCE = """
(select case
    when count(*) > 0
        and bool_and(payload ->> 'account_number' = 'PA3SIM000001')
    then 'simulator' else 'alpaca'
end from raw.account_snapshots)
"""


def upgrade() -> None:
    """Add `source` where it is missing and label the rows already held."""
    for table in NEW_COLUMNS:
        op.execute(
            f"alter table raw.{table} add column source text "
            f"constraint {table}_source_known check (source in ('alpaca', 'simulator'))"
        )
        op.execute(f"update raw.{table} set source = {HELD_SOURCE}")  # noqa: S608
    for table in ALREADY_LABELLED:
        op.execute(
            f"update raw.{table} set source = 'simulator' "  # noqa: S608
            f"where source = 'alpaca' and {HELD_SOURCE} = 'simulator'"
        )


def downgrade() -> None:
    """Drop the new columns; the tables that had a source keep their labels (see the module)."""
    for table in NEW_COLUMNS:
        op.execute(f"alter table raw.{table} drop column source")
