with

source as (
    select
        snapshot_at,
        account_id,
        status,
        cash,
        equity,
        buying_power,
        long_market_value,
        last_equity,
        ingested_at,
        source
    from {{ source('alpaca', 'account_snapshots') }}
),

renamed as (
    select
        cast(snapshot_at as timestamptz) as snapshot_at,
        cast(account_id as text) as account_id,
        cast(status as text) as account_status,
        cast(cash as numeric) as cash,
        cast(equity as numeric) as equity,
        cast(buying_power as numeric) as buying_power,
        cast(long_market_value as numeric) as long_market_value,
        cast(last_equity as numeric) as last_equity,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(source as text) as data_source
    from source
)

select * from renamed
