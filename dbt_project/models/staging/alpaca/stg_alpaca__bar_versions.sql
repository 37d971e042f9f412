with

current_bars as (
    select
        symbol,
        timeframe,
        ts,
        version,
        open,
        high,
        low,
        close,
        volume,
        trade_count,
        vwap,
        source,
        ingested_at
    from {{ source('alpaca', 'bars') }}
),

superseded_bars as (
    select
        symbol,
        timeframe,
        ts,
        version,
        open,
        high,
        low,
        close,
        volume,
        trade_count,
        vwap,
        source,
        ingested_at,
        superseded_at
    from {{ source('alpaca', 'bars_history') }}
),

versions as (
    select
        *,
        cast(null as timestamptz) as superseded_at,
        true as is_current
    from current_bars
    union all
    select
        *,
        false as is_current
    from superseded_bars
),

renamed as (
    select
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(version as integer) as version,
        cast(open as numeric) as open,
        cast(high as numeric) as high,
        cast(low as numeric) as low,
        cast(close as numeric) as close,
        cast(volume as numeric) as volume,
        cast(trade_count as bigint) as trade_count,
        cast(vwap as numeric) as vwap,
        cast(source as text) as data_source,
        cast(ingested_at as timestamptz) as valid_from,
        cast(superseded_at as timestamptz) as valid_to,
        is_current
    from versions
)

select * from renamed
