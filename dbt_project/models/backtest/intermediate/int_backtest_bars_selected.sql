{%- set run = backtest_run() %}

with

indicators as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close
    from {{ ref('indicators') }}
    where {{ backtest_window(run) }}
),

numbered as (
    select
        symbol,
        timeframe,
        ts,
        ts + {{ timeframe_interval('timeframe') }} as bar_end_at,
        open,
        high,
        low,
        close,
        row_number() over symbol_bars as bar_number,
        lead(ts) over symbol_bars as next_ts,
        lead(open) over symbol_bars as next_open
    from indicators
    window symbol_bars as (partition by symbol order by ts)
),

final as (
    select
        cast({{ sql_literal(run.run_id if run is not none else '00000000-0000-0000-0000-000000000000') }} as uuid)
            as run_id,
        cast({{ sql_literal(run.strategy if run is not none else '') }} as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(bar_number as bigint) as bar_number,
        cast(ts as timestamptz) as ts,
        cast(bar_end_at as timestamptz) as bar_end_at,
        cast(open as numeric) as open,
        cast(high as numeric) as high,
        cast(low as numeric) as low,
        cast(close as numeric) as close,
        cast(case when next_ts is not null then bar_number + 1 end as bigint) as next_bar_number,
        cast(next_ts as timestamptz) as next_ts,
        cast(next_open as numeric) as next_open
    from numbered
)

select * from final
