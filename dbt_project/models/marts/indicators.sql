with

computed_indicators as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        sma_20,
        rsi_14,
        is_warm
    from {{ ref('int_bars_indicators_computed') }}
),

final as (
    select
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(open as numeric) as open,
        cast(high as numeric) as high,
        cast(low as numeric) as low,
        cast(close as numeric) as close,
        cast(volume as numeric) as volume,
        cast(sma_20 as numeric) as sma_20,
        cast(rsi_14 as double precision) as rsi_14,
        cast(is_warm as boolean) as is_warm
    from computed_indicators
)

select * from final
