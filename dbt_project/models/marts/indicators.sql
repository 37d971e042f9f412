{{ config(materialized='view') }}

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
        sma_50,
        ema_12,
        ema_26,
        rsi_14,
        macd,
        macd_signal,
        macd_hist,
        bb_middle_20,
        bb_upper_20,
        bb_lower_20,
        atr_14,
        vwap,
        return_1,
        log_return_1,
        volatility_20,
        is_warm,
        computed_at
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
        cast(sma_50 as numeric) as sma_50,
        cast(ema_12 as double precision) as ema_12,
        cast(ema_26 as double precision) as ema_26,
        cast(rsi_14 as double precision) as rsi_14,
        cast(macd as double precision) as macd,
        cast(macd_signal as double precision) as macd_signal,
        cast(macd_hist as double precision) as macd_hist,
        cast(bb_middle_20 as numeric) as bb_middle_20,
        cast(bb_upper_20 as numeric) as bb_upper_20,
        cast(bb_lower_20 as numeric) as bb_lower_20,
        cast(atr_14 as double precision) as atr_14,
        cast(vwap as numeric) as vwap,
        cast(return_1 as double precision) as return_1,
        cast(log_return_1 as double precision) as log_return_1,
        cast(volatility_20 as double precision) as volatility_20,
        cast(is_warm as boolean) as is_warm,
        cast(computed_at as timestamptz) as computed_at
    from computed_indicators
)

select * from final
