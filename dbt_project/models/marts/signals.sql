{#- A view: the strategy models hold the rows; a build copies nothing. -#}
{{ config(materialized='view') }}

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
