{%- set run = backtest_run() -%}
{#- In a backtest build the signal models are ephemeral (dbt_project.yml): each is declared here so the run's strategy, known only when the model runs, can be read. #}
{%- for name in var('strategies') %}
-- depends_on: {{ ref('int_' ~ name ~ '__signals') }}
{%- endfor %}

with

{#- The strategy's own signal SQL, one series per trial over the run's window; only its decisions (buy, sell) are kept. #}
decisions as (
    {%- if run is none %}
    select
        cast(null as uuid) as run_id,
        cast(null as integer) as trial,
        cast(null as text) as symbol,
        cast(null as timestamptz) as ts,
        cast(null as text) as signal,
        cast(null as numeric) as target_weight
    where false
    {%- else %}
    select
        run_id,
        trial,
        symbol,
        ts,
        signal,
        target_weight
    from {{ ref('int_' ~ run.strategy ~ '__signals') }}
    where signal <> 'hold'
    {%- endif %}
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
