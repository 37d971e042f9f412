{%- set run = backtest_run() -%}
{#- In a backtest build the signal models are ephemeral (dbt_project.yml): each is declared here so the run's strategy, known only when the model runs, can be read. #}
{%- for name in var('strategies') %}
-- depends_on: {{ ref('int_' ~ name ~ '__signals') }}
{%- endfor %}

with

{#- The strategy's own signal SQL, one series per trial, over the history up to the window's end (its state carries in from before the window, as in the live table). #}
evaluated as (
    {%- if run is none or run.mode != 'signal' %}
    select
        cast(null as uuid) as run_id,
        cast(null as integer) as trial,
        cast(null as text) as symbol,
        cast(null as timestamptz) as ts,
        cast(null as boolean) as in_position,
        cast(null as numeric) as target_weight
    where false
    {%- else %}
    select
        run_id,
        trial,
        symbol,
        ts,
        in_position,
        target_weight
    from {{ ref('int_' ~ run.strategy ~ '__signals') }}
    where ts >= cast({{ sql_literal(run.start_at) }} as timestamptz)
    {%- endif %}
),

{#- The book starts flat at the window's start: a position wanted on its first bar is bought there. #}
compared as (
    select
        *,
        coalesce(lag(in_position) over trial_series, false) as was_in_position
    from evaluated
    window trial_series as (partition by run_id, trial, symbol order by ts)
),

decisions as (
    select
        run_id,
        trial,
        symbol,
        ts,
        case when in_position then 'buy' else 'sell' end as signal,
        target_weight
    from compared
    where in_position <> was_in_position
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast({{ sql_literal(run.strategy if run is not none else '') }} as text) as strategy,
        cast(symbol as text) as symbol,
        cast(ts as timestamptz) as ts,
        cast(signal as text) as signal,
        cast(target_weight as numeric) as target_weight
    from decisions
)

select * from final
