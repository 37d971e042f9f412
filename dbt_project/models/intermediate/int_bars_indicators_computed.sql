{%- set macd_fast, macd_slow, macd_signal = 12, 26, 9 -%}

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

numbered as (
    select
        *,
        row_number() over bar_series as bar_number,
        lag(close) over bar_series as previous_close,
        cast(ts at time zone 'America/New_York' as date) as session_date
    from bars
    window bar_series as (partition by symbol, timeframe order by ts)
),

bar_changes as (
    select
        *,
        cast(close as double precision) - cast(previous_close as double precision)
            as close_change,
        case
            when previous_close is not null
                then greatest(high - low, abs(high - previous_close), abs(low - previous_close))
        end as true_range,
        (high + low + close) / 3 as typical_price,
        close / nullif(previous_close, 0) - 1 as simple_return,
        case
            when close > 0 and previous_close > 0
                then ln(cast(close as double precision) / cast(previous_close as double precision))
        end as log_return
    from numbered
),

gains_and_losses as (
    select
        *,
        case when close_change >= 0 then close_change when close_change < 0 then 0 end as gain,
        case when close_change < 0 then -close_change when close_change >= 0 then 0 end as loss
    from bar_changes
),

running_averages as (
    select
        *,
        avg(close) over last_20_bars as close_mean_20,
        var_pop(close) over last_20_bars as close_variance_20,
        avg(close) over last_50_bars as close_mean_50,
        udf.exponential_average(cast(close as double precision), 12) over bars_so_far as ema_12,
        udf.exponential_average(cast(close as double precision), 26) over bars_so_far as ema_26,
        udf.exponential_average(
            case
                when bar_number > {{ macd_slow - macd_fast }}
                    then cast(close as double precision)
            end,
            {{ macd_fast }}
        ) over bars_so_far as macd_fast_ema,
        udf.wilder_average(gain, 14) over bars_so_far as avg_gain_14,
        udf.wilder_average(loss, 14) over bars_so_far as avg_loss_14,
        udf.wilder_average(cast(true_range as double precision), 14) over bars_so_far as atr_14,
        sum(typical_price * volume) over session_so_far as session_price_volume,
        sum(volume) over session_so_far as session_volume
    from gains_and_losses
    window
        last_20_bars as (
            partition by symbol, timeframe order by ts
            rows between 19 preceding and current row
        ),
        last_50_bars as (
            partition by symbol, timeframe order by ts
            rows between 49 preceding and current row
        ),
        bars_so_far as (
            partition by symbol, timeframe order by ts
            rows between unbounded preceding and current row
        ),
        session_so_far as (
            partition by symbol, timeframe, session_date order by ts
            rows between unbounded preceding and current row
        )
),

macd_lines as (
    select
        *,
        macd_fast_ema - ema_{{ macd_slow }} as macd_line
    from running_averages
),

macd_signals as (
    select
        *,
        udf.exponential_average(macd_line, {{ macd_signal }}) over (
            partition by symbol, timeframe order by ts
            rows between unbounded preceding and current row
        ) as macd_signal_line
    from macd_lines
),

return_volatilities as (
    select
        *,
        stddev_samp(log_return) over last_20_bars as log_return_stddev_20,
        count(log_return) over last_20_bars as log_return_count_20
    from macd_signals
    window
        last_20_bars as (
            partition by symbol, timeframe order by ts
            rows between 19 preceding and current row
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
        session_date,
        case when bar_number >= 20 then close_mean_20 end as sma_20,
        case when bar_number >= 50 then close_mean_50 end as sma_50,
        ema_12,
        ema_26,
        avg_gain_14,
        avg_loss_14,
        case
            when avg_gain_14 + avg_loss_14 = 0 then 0
            else 100 * (avg_gain_14 / (avg_gain_14 + avg_loss_14))
        end as rsi_14,
        macd_fast_ema,
        case when macd_signal_line is not null then macd_line end as macd,
        macd_signal_line as macd_signal,
        macd_line - macd_signal_line as macd_hist,
        case when bar_number >= 20 then close_mean_20 end as bb_middle_20,
        case
            when bar_number >= 20 then close_mean_20 + 2 * sqrt(close_variance_20)
        end as bb_upper_20,
        case
            when bar_number >= 20 then close_mean_20 - 2 * sqrt(close_variance_20)
        end as bb_lower_20,
        atr_14,
        session_price_volume / nullif(session_volume, 0) as vwap,
        simple_return as return_1,
        log_return as log_return_1,
        case when log_return_count_20 = 20 then log_return_stddev_20 end as volatility_20
    from return_volatilities
),

flagged as (
    select
        *,
        (
            sma_20 is not null
            and sma_50 is not null
            and ema_12 is not null
            and ema_26 is not null
            and rsi_14 is not null
            and macd is not null
            and macd_signal is not null
            and macd_hist is not null
            and bb_middle_20 is not null
            and bb_upper_20 is not null
            and bb_lower_20 is not null
            and atr_14 is not null
            and vwap is not null
            and return_1 is not null
            and log_return_1 is not null
            and volatility_20 is not null
        ) as is_warm
    from indicators
)

select * from flagged
