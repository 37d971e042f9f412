with

bars as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume
    from {{ ref('stg_alpaca__bars') }}
),

close_changes as (
    select
        *,
        row_number() over bar_series as bar_number,
        cast(close as double precision)
        - cast(lag(close) over bar_series as double precision) as close_change
    from bars
    window bar_series as (partition by symbol, timeframe order by ts)
),

gains_and_losses as (
    select
        *,
        case when close_change >= 0 then close_change when close_change < 0 then 0 end as gain,
        case when close_change < 0 then -close_change when close_change >= 0 then 0 end as loss
    from close_changes
),

running_averages as (
    select
        *,
        avg(close) over last_20_bars as close_mean_20,
        udf.wilder_average(gain, 14) over bars_so_far as avg_gain_14,
        udf.wilder_average(loss, 14) over bars_so_far as avg_loss_14
    from gains_and_losses
    window
        last_20_bars as (
            partition by symbol, timeframe order by ts
            rows between 19 preceding and current row
        ),
        bars_so_far as (
            partition by symbol, timeframe order by ts
            rows between unbounded preceding and current row
        )
),

indicators as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        bar_number,
        case when bar_number >= 20 then close_mean_20 end as sma_20,
        avg_gain_14,
        avg_loss_14,
        case
            when avg_gain_14 + avg_loss_14 = 0 then 0
            else 100 * (avg_gain_14 / (avg_gain_14 + avg_loss_14))
        end as rsi_14
    from running_averages
),

flagged as (
    select
        *,
        sma_20 is not null and rsi_14 is not null as is_warm
    from indicators
)

select * from flagged
