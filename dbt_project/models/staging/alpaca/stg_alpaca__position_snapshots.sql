with

source as (
    select
        snapshot_at,
        symbol,
        qty,
        avg_entry_price,
        market_value,
        cost_basis,
        unrealized_pl,
        current_price,
        ingested_at,
        source
    from {{ source('alpaca', 'position_snapshots') }}
),

renamed as (
    select
        cast(snapshot_at as timestamptz) as snapshot_at,
        cast(symbol as text) as symbol,
        cast(qty as numeric) as qty,
        cast(avg_entry_price as numeric) as avg_entry_price,
        cast(market_value as numeric) as market_value,
        cast(cost_basis as numeric) as cost_basis,
        cast(unrealized_pl as numeric) as unrealized_pl,
        cast(current_price as numeric) as current_price,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(source as text) as data_source
    from source
)

select * from renamed
