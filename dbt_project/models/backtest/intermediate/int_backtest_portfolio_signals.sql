{%- set run = backtest_run() -%}
{%- set portfolio = run is not none and run.mode == 'portfolio' -%}
{#- Declared so the run's strategy, known only when the model runs, can be read (see int_backtest_signals_selected). #}
{%- for name in var('strategies') %}
-- depends_on: {{ ref('int_' ~ name ~ '__signals') }}
{%- endfor %}

with

{#- The strategy's own signal SQL with the run's parameters (trial 1), every bar of the window: the live signals' shape, which the risk macros read. #}
evaluated as (
    {%- if not portfolio %}
    select
        cast(null as uuid) as run_id,
        cast(null as text) as strategy,
        cast(null as text) as symbol,
        cast(null as text) as timeframe,
        cast(null as timestamptz) as ts,
        cast(null as timestamptz) as decision_at,
        cast(null as text) as signal,
        cast(null as double precision) as strength,
        cast(null as numeric) as target_weight,
        cast(null as boolean) as in_position,
        cast(null as numeric) as reference_price
    where false
    {%- else %}
    select
        run_id,
        strategy,
        symbol,
        timeframe,
        ts,
        decision_at,
        signal,
        strength,
        target_weight,
        in_position,
        reference_price
    from {{ ref('int_' ~ run.strategy ~ '__signals') }}
    where trial = 1 and ts >= cast({{ sql_literal(run.start_at) }} as timestamptz)
    {%- endif %}
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(signal as text) as signal,
        cast(strength as double precision) as strength,
        cast(target_weight as numeric) as target_weight,
        cast(in_position as boolean) as in_position,
        cast(reference_price as numeric) as reference_price
    from evaluated
)

select * from final
