"""The raw schema: bars, quarantine, ingestion runs, order submissions, orders, fills, snapshots."""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = """
create table raw.bars (
    symbol          text        not null,
    timeframe       text        not null,
    ts              timestamptz not null,
    open            numeric     not null,
    high            numeric     not null,
    low             numeric     not null,
    close           numeric     not null,
    volume          numeric     not null,
    trade_count     bigint,
    vwap            numeric,
    source          text        not null,
    ingested_at     timestamptz not null default now(),
    primary key (symbol, timeframe, ts)
);

create table raw.quarantine_bars (
    id              bigserial   primary key,
    symbol          text,
    timeframe       text,
    ts              timestamptz,
    source          text        not null,
    reason          text        not null,
    payload         jsonb       not null,
    quarantined_at  timestamptz not null default now()
);
create unique index quarantine_bars_once on raw.quarantine_bars (source, reason, md5(payload::text));

create table raw.ingestion_runs (
    id              bigserial   primary key,
    kind            text        not null,
    source          text        not null,
    params          jsonb       not null default '{}'::jsonb,
    status          text        not null,
    fetched         integer     not null default 0,
    landed          integer     not null default 0,
    unchanged       integer     not null default 0,
    quarantined     integer     not null default 0,
    error           text,
    started_at      timestamptz not null,
    finished_at     timestamptz
);

create table raw.order_submissions (
    client_order_id text        primary key,
    strategy        text        not null,
    symbol          text        not null,
    side            text        not null check (side in ('buy', 'sell')),
    qty             numeric     not null check (qty > 0),
    order_type      text        not null,
    time_in_force   text        not null,
    limit_price     numeric,
    decision_ts     timestamptz not null,
    trading_mode    text        not null check (trading_mode in ('paper', 'live')),
    status          text        not null
        check (status in ('pending', 'submitted', 'rejected', 'unknown')),
    broker_order_id text,
    reason          text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

create table raw.orders (
    id               text        primary key,
    client_order_id  text        not null,
    symbol           text        not null,
    side             text        not null,
    order_type       text        not null,
    time_in_force    text        not null,
    qty              numeric,
    notional         numeric,
    filled_qty       numeric     not null,
    filled_avg_price numeric,
    limit_price      numeric,
    status           text        not null,
    created_at       timestamptz not null,
    submitted_at     timestamptz not null,
    updated_at       timestamptz not null,
    filled_at        timestamptz,
    canceled_at      timestamptz,
    expired_at       timestamptz,
    payload          jsonb       not null,
    synced_at        timestamptz not null default now()
);
create index orders_client_order_id on raw.orders (client_order_id);

create table raw.fills (
    id               text        primary key,
    order_id         text        not null,
    symbol           text        not null,
    side             text        not null,
    qty              numeric     not null,
    price            numeric     not null,
    transaction_time timestamptz not null,
    fill_type        text        not null,
    cum_qty          numeric,
    leaves_qty       numeric,
    order_status     text,
    payload          jsonb       not null,
    ingested_at      timestamptz not null default now()
);

create table raw.account_snapshots (
    snapshot_at       timestamptz primary key,
    account_id        text        not null,
    status            text        not null,
    cash              numeric     not null,
    equity            numeric     not null,
    buying_power      numeric,
    long_market_value numeric,
    last_equity       numeric,
    payload           jsonb       not null,
    ingested_at       timestamptz not null default now()
);

create table raw.position_snapshots (
    snapshot_at       timestamptz not null,
    symbol            text        not null,
    qty               numeric     not null,
    avg_entry_price   numeric     not null,
    market_value      numeric,
    cost_basis        numeric,
    unrealized_pl     numeric,
    current_price     numeric,
    payload           jsonb       not null,
    ingested_at       timestamptz not null default now(),
    primary key (snapshot_at, symbol)
);
"""

READER_ROLE = """
do $$
begin
    if not exists (select from pg_roles where rolname = 'trading_reader') then
        create role trading_reader nologin;
    end if;
end
$$;
"""


def upgrade() -> None:
    """Create the raw tables and the read-only role the dashboard uses."""
    op.execute(TABLES)
    op.execute(READER_ROLE)


def downgrade() -> None:
    """Drop the raw tables."""
    for table in (
        "position_snapshots",
        "account_snapshots",
        "fills",
        "orders",
        "order_submissions",
        "ingestion_runs",
        "quarantine_bars",
        "bars",
    ):
        op.execute(f"drop table if exists raw.{table}")
