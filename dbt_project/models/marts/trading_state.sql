{#-
    Two clocks: as_of is the broker's (bars, snapshots, fills are stamped with it; a simulator
    may replay a past day), known_at the database's (manual events, runs and landings are
    stamped with it). Each comparison stays on one clock.
-#}
{%- set known_at = var('known_at', none) -%}

with

decision_time as (
    select
        {{ as_of_timestamp() }} as as_of,
        {% if known_at -%}
            cast('{{ known_at | string | replace("'", "''") }}' as timestamptz)
        {%- else -%}
            now()
        {%- endif %} as known_at
),

state_events as (
    select
        event_id,
        recorded_at,
        action,
        reason
    from {{ ref('stg_trading__state_events') }}
),

ingestion_runs as (
    select
        run_id,
        kind,
        status,
        error,
        started_at
    from {{ ref('stg_trading__ingestion_runs') }}
),

account_snapshots as (
    select
        snapshot_at,
        equity,
        last_equity
    from {{ ref('stg_alpaca__account_snapshots') }}
),

reconciliation as (
    select
        check_name,
        subject,
        detected_at,
        landed_at,
        detail
    from {{ ref('reconciliation') }}
    where is_mismatch
),

risk_policy as (
    select
        effective_from,
        max_drawdown,
        max_daily_loss
    from {{ ref('risk_policy') }}
),

policy_as_of as (
    select risk_policy.*
    from risk_policy
    cross join decision_time
    where risk_policy.effective_from <= decision_time.as_of
    order by risk_policy.effective_from desc
    limit 1
),

latest_event as (
    select state_events.*
    from state_events
    cross join decision_time
    where state_events.recorded_at <= decision_time.known_at
    order by state_events.event_id desc
    limit 1
),

last_resume as (
    select max(state_events.recorded_at) as resumed_at
    from state_events
    cross join decision_time
    where state_events.action = 'resume' and state_events.recorded_at <= decision_time.known_at
),

{#- A mismatch without a landing time counts as landed now: never acknowledged by mistake. -#}
landed_mismatches as (
    select
        reconciliation.*,
        coalesce(reconciliation.landed_at, decision_time.known_at) as landed_by
    from reconciliation
    cross join decision_time
    where reconciliation.detected_at <= decision_time.as_of
),

unacknowledged_mismatches as (
    select landed_mismatches.*
    from landed_mismatches
    cross join last_resume
    cross join decision_time
    where
        landed_mismatches.landed_by <= decision_time.known_at
        and landed_mismatches.landed_by > coalesce(last_resume.resumed_at, '-infinity')
),

latest_bars_run as (
    select ingestion_runs.*
    from ingestion_runs
    cross join decision_time
    where ingestion_runs.kind = 'bars' and ingestion_runs.started_at <= decision_time.known_at
    order by ingestion_runs.run_id desc
    limit 1
),

latest_equity as (
    {{ risk_latest_equity('account_snapshots', 'decision_time') }}
),

halts as (
    select 'manual halt: ' || reason as reason
    from latest_event
    where action = 'halt'
    union all
    select 'data quality: the last bars load failed: ' || coalesce(error, 'no error recorded')
    from latest_bars_run
    where status = 'failed'
    union all
    (
        select 'reconciliation: ' || check_name || ' ' || subject || ': ' || detail
        from unacknowledged_mismatches
        order by detected_at, check_name, subject
    )
),

reductions as (
    {{ risk_equity_reductions('latest_equity', 'policy_as_of') }}
),

final as (
    select
        cast(decision_time.as_of as timestamptz) as as_of,
        cast(decision_time.known_at as timestamptz) as known_at,
        cast(
            case
                when exists (select from halts) then 'HALTED'
                when exists (select from reductions) then 'REDUCING'
                else 'ACTIVE'
            end as text
        ) as state,
        cast(
            array(select reason from halts union all select reason from reductions)
            as text []
        ) as reasons,
        cast(
            (select string_agg(reason, '; ') from (
                select reason from halts union all select reason from reductions
            ) as all_reasons)
            as text
        ) as reason_summary,
        cast((select drawdown from latest_equity) as numeric) as drawdown,
        cast((select daily_return from latest_equity) as numeric) as daily_return,
        cast((select max_drawdown from policy_as_of) as numeric) as max_drawdown,
        cast((select max_daily_loss from policy_as_of) as numeric) as max_daily_loss,
        cast((select recorded_at from latest_event) as timestamptz) as last_manual_event_at,
        cast((select action from latest_event) as text) as last_manual_action
    from decision_time
)

select * from final
