"""Backtest trials: the parameter sets a run evaluates (one for a backtest, a grid for a sweep),
and the kinds of run (a walk-forward's folds are runs too, under their walk-forward)."""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# The backtest marts dbt built before trials existed (keyed without `trial`): their runs are
# trial 1, and their primary keys gain `trial`, so no stored result is lost. The intermediate
# tables are scratch (only running runs' rows): dbt creates them again.
_MARTS_KEYS = {
    "backtest_trades": "run_id, trial, symbol, trade_number",
    "backtest_equity": "run_id, trial, book, ts",
    "backtest_performance": "run_id, trial",
}
_SCRATCH = (
    "int_backtest_bars_selected",
    "int_backtest_round_trips_decided",
    "int_backtest_round_trips_simulated",
)


def _add_trial(table: str, keys: str) -> str:
    # Fixed table names from this module, not input.
    return f"""
        do $$
        declare pkey text;
        begin
            if to_regclass('marts.{table}') is not null and not exists (
                select from information_schema.columns
                where table_schema = 'marts' and table_name = '{table}' and column_name = 'trial'
            ) then
                alter table marts.{table} add column trial integer not null default 1;
                alter table marts.{table} alter column trial drop default;
                select conname into pkey from pg_constraint
                where conrelid = 'marts.{table}'::regclass and contype = 'p';
                if pkey is not null then
                    execute format('alter table marts.{table} drop constraint %I', pkey);
                end if;
                alter table marts.{table} add primary key ({keys});
            end if;
        end $$;
        """  # noqa: S608


def upgrade() -> None:
    """Create raw.backtest_trials; give raw.backtest_runs a kind, a parent and a fold."""
    for table in _SCRATCH:
        op.execute(f"drop table if exists intermediate.{table}")
    for table, keys in _MARTS_KEYS.items():
        op.execute(_add_trial(table, keys))
    # Bracket legs add exit reasons: the old check (signal, open) would refuse them.
    op.execute(
        """
        do $$
        declare name text;
        begin
            if to_regclass('marts.backtest_trades') is not null then
                for name in
                    select conname from pg_constraint
                    where conrelid = 'marts.backtest_trades'::regclass and contype = 'c'
                        and pg_get_constraintdef(oid) like '%exit_reason%'
                loop
                    execute format('alter table marts.backtest_trades drop constraint %I', name);
                end loop;
            end if;
        end $$;
        """
    )
    op.execute(
        """
        alter table raw.backtest_runs
            add column kind text not null default 'backtest'
                check (kind in ('backtest', 'sweep', 'walkforward')),
            add column objective text,
            add column parent_run_id uuid references raw.backtest_runs (run_id),
            add column fold integer check (fold >= 1);

        create table raw.backtest_trials (
            run_id      uuid    not null references raw.backtest_runs (run_id) on delete cascade,
            trial       integer not null check (trial >= 1),
            parameters  jsonb   not null,
            primary key (run_id, trial)
        );

        -- Every run recorded before trials existed evaluated its spec's parameters: trial 1.
        insert into raw.backtest_trials (run_id, trial, parameters)
        select run_id, 1, parameters from raw.backtest_runs;
        """
    )


def downgrade() -> None:
    """Drop raw.backtest_trials and the new columns."""
    op.execute(
        """
        drop table if exists raw.backtest_trials;
        alter table raw.backtest_runs
            drop column if exists fold,
            drop column if exists parent_run_id,
            drop column if exists objective,
            drop column if exists kind;
        """
    )
