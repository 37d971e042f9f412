{%- set fast = var('sma_crossover_fast') | int -%}
{%- set slow = var('sma_crossover_slow') | int -%}

with

bars as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        close
    from {{ ref('stg_alpaca__bars') }}
    where timeframe = '{{ var("sma_crossover_timeframe") }}'
),

moving_averages as (
    select
        *,
        row_number() over bar_series as bar_number,
        avg(close) over (bar_series rows between {{ fast - 1 }} preceding and current row)
            as fast_mean,
        avg(close) over (bar_series rows between {{ slow - 1 }} preceding and current row)
            as slow_mean
    from bars
    window bar_series as (partition by symbol order by ts)
),

warmed_up as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        close,
        case when bar_number >= {{ fast }} then fast_mean end as sma_fast,
        case when bar_number >= {{ slow }} then slow_mean end as sma_slow
    from moving_averages
),

signalled as (
    select
        *,
        case
            when sma_fast is null or sma_slow is null then 'warming'
            when sma_fast > sma_slow then 'long'
            else 'flat'
        end as signal
    from warmed_up
),

crosses_marked as (
    select
        'sma_crossover' as strategy,
        symbol,
        timeframe,
        ts,
        bar_end_at as decision_at,
        close as reference_price,
        sma_fast,
        sma_slow,
        signal,
        coalesce(
            signal <> 'warming'
            and lag(signal) over (partition by symbol order by ts) <> 'warming'
            and signal <> lag(signal) over (partition by symbol order by ts),
            false
        ) as is_cross
    from signalled
)

select * from crosses_marked
