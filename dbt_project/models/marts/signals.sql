{{
    config(
        materialized='incremental',
        unique_key=['strategy', 'symbol', 'timeframe', 'ts'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} where strategy not in {{ in_list(var('strategies')) }}",
            "{{ analyze_if_never_analyzed(this) }}",
        ],
        indexes=[
            {'columns': ['strategy', 'symbol', 'timeframe', 'ts'], 'unique': true},
            {'columns': ['strategy', 'symbol', 'decision_at']},
            {'columns': ['computed_at']},
        ],
    )
}}

{%- if is_incremental() %}
{#- A literal (not a subquery) lets the planner use each strategy model's computed_at. -#}
{%- set built_until = run_query(
    "select coalesce(cast(max(computed_at) as text), '-infinity') from " ~ this
).columns[0].values()[0] %}
{%- endif %}

with

{% for strategy in var('strategies') %}
{{ strategy }}_signals as (
    select
        strategy,
        symbol,
        timeframe,
        ts,
        decision_at,
        signal,
        strength,
        target_weight,
        in_position,
        reference_price,
        spec_effective_from,
        computed_at
    from {{ ref('int_' ~ strategy ~ '__signals') }}
    {%- if is_incremental() %}
    where computed_at > timestamptz '{{ built_until }}'
    {%- endif %}
),

{% endfor %}
all_strategies as (
    {%- for strategy in var('strategies') %}
    select * from {{ strategy }}_signals
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(signal as text) as signal,
        cast(strength as double precision) as strength,
        cast(target_weight as numeric) as target_weight,
        cast(in_position as boolean) as in_position,
        cast(reference_price as numeric) as reference_price,
        cast(spec_effective_from as timestamptz) as spec_effective_from,
        cast(computed_at as timestamptz) as computed_at
    from all_strategies
)

select * from final
