with

sma_crossover_signals as (
    select
        strategy,
        symbol,
        timeframe,
        ts,
        decision_at,
        signal,
        is_cross,
        reference_price
    from {{ ref('int_sma_crossover__signals') }}
),

all_strategies as (
    select * from sma_crossover_signals
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(signal as text) as signal,
        cast(is_cross as boolean) as is_cross,
        cast(reference_price as numeric) as reference_price
    from all_strategies
)

select * from final
