{#- Trend: be in while the 20-bar SMA is above the 50-bar SMA, out otherwise. -#}
with

bars as (
    {{ strategy_bars(parameters=['full_strength_gap']) }}
),

rules as (
    select
        *,
        sma_20 > sma_50 as wants_position,
        abs(sma_20 / nullif(sma_50, 0) - 1) / full_strength_gap as strength
    from bars
),

{{ strategy_signals('rules') }}
