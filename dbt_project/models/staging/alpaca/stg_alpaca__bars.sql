with

source as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        trade_count,
        vwap,
        source,
        version,
        is_suspect,
        suspect_reason,
        ingested_at
    from {{ source('alpaca', 'bars') }}
),

renamed as (
    select
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(ts + {{ timeframe_interval('timeframe') }} as timestamptz) as bar_end_at,
        cast(open as numeric) as open,
        cast(high as numeric) as high,
        cast(low as numeric) as low,
        cast(close as numeric) as close,
        cast(volume as numeric) as volume,
        cast(trade_count as bigint) as trade_count,
        cast(vwap as numeric) as vwap,
        cast(source as text) as data_source,
        cast(version as integer) as version,
        cast(is_suspect as boolean) as is_suspect,
        cast(suspect_reason as text) as suspect_reason,
        cast(ingested_at as timestamptz) as ingested_at
    from source
)

select * from renamed
