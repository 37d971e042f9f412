"""Bar versions and watermarks, data-quality results, calendar, assets, quarantined records."""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- Keys compare byte-wise: "C" collation makes the primary-key index several times cheaper to
-- maintain than a linguistic one, and symbols are ASCII anyway.
alter table raw.bars
    alter column symbol type text collate "C",
    alter column timeframe type text collate "C",
    add column version integer not null default 1,
    add column is_suspect boolean not null default false,
    add column suspect_reason text;

-- Earlier versions of corrected bars: what Alpaca said, from ingested_at until superseded_at.
create table raw.bars_history (
    like raw.bars,
    superseded_at timestamptz not null,
    primary key (symbol, timeframe, ts, version)
);

create table raw.ingestion_state (
    symbol          text collate "C" not null,
    timeframe       text collate "C" not null,
    source          text        not null,
    watermark       timestamptz not null,
    last_run_id     bigint      not null,
    updated_at      timestamptz not null default now(),
    primary key (symbol, timeframe, source)
);

alter table raw.ingestion_runs
    add column corrected integer not null default 0,
    add column duration_seconds double precision;

create table raw.data_quality_runs (
    id              bigserial   primary key,
    run_id          bigint      not null references raw.ingestion_runs (id),
    suite           text        not null,
    expectation     text        not null,
    columns         text        not null,
    success         boolean     not null,
    element_count   bigint,
    unexpected_count bigint,
    details         jsonb       not null default '{}'::jsonb,
    checked_at      timestamptz not null default now()
);
create index data_quality_runs_run on raw.data_quality_runs (run_id);

create table raw.quarantine_records (
    id              bigserial   primary key,
    kind            text        not null,
    record_key      text,
    source          text        not null,
    reason          text        not null,
    payload         jsonb       not null,
    quarantined_at  timestamptz not null default now()
);
create unique index quarantine_records_once
    on raw.quarantine_records (kind, source, reason, md5(payload::text));

create table raw.calendar (
    session_date    date        primary key,
    open_at         timestamptz not null,
    close_at        timestamptz not null,
    payload         jsonb       not null,
    ingested_at     timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    check (close_at > open_at)
);

create table raw.assets (
    id              text        primary key,
    symbol          text collate "C" not null unique,
    name            text,
    exchange        text        not null,
    asset_class     text        not null,
    status          text        not null,
    tradable        boolean     not null,
    marginable      boolean     not null,
    shortable       boolean     not null,
    easy_to_borrow  boolean     not null,
    fractionable    boolean     not null,
    payload         jsonb       not null,
    ingested_at     timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
"""

DOWNGRADE = """
drop table if exists raw.assets;
drop table if exists raw.calendar;
drop table if exists raw.quarantine_records;
drop table if exists raw.data_quality_runs;
alter table raw.ingestion_runs drop column corrected, drop column duration_seconds;
drop table if exists raw.ingestion_state;
drop table if exists raw.bars_history;
alter table raw.bars drop column version, drop column is_suspect, drop column suspect_reason;
"""


def upgrade() -> None:
    """Add bar versions, watermarks, data-quality results, calendar, assets and quarantine."""
    op.execute(UPGRADE)


def downgrade() -> None:
    """Remove what upgrade added."""
    op.execute(DOWNGRADE)
