with

bars as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        close
    from {{ ref('stg_alpaca__bars') }}
),

finest_timeframes as (
    select distinct on (symbol)
        symbol,
        timeframe
    from bars
    order by symbol asc, bar_end_at - ts asc, timeframe asc
),

last_bar_per_day as (
    select distinct on (bars.symbol, cast(bars.ts at time zone 'America/New_York' as date))
        bars.symbol,
        cast(bars.ts at time zone 'America/New_York' as date) as market_date,
        bars.timeframe,
        bars.ts,
        bars.bar_end_at,
        bars.close
    from bars
    inner join finest_timeframes
        on
            bars.symbol = finest_timeframes.symbol
            and bars.timeframe = finest_timeframes.timeframe
    order by
        bars.symbol asc,
        cast(bars.ts at time zone 'America/New_York' as date) asc,
        bars.ts desc
),

final as (
    select
        cast(symbol as text) as symbol,
        cast(market_date as date) as market_date,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(bar_end_at as timestamptz) as priced_at,
        cast(close as numeric) as close
    from last_bar_per_day
)

select * from final
