with

source as (
    select
        id,
        symbol,
        name,
        exchange,
        asset_class,
        status,
        tradable,
        marginable,
        shortable,
        easy_to_borrow,
        fractionable,
        ingested_at,
        updated_at
    from {{ source('alpaca', 'assets') }}
),

renamed as (
    select
        cast(id as text) as asset_id,
        cast(symbol as text) as symbol,
        cast(name as text) as asset_name,
        cast(exchange as text) as exchange,
        cast(asset_class as text) as asset_class,
        cast(lower(status) as text) as asset_status,
        cast(lower(status) = 'active' as boolean) as is_active,
        cast(tradable as boolean) as is_tradable,
        cast(marginable as boolean) as is_marginable,
        cast(shortable as boolean) as is_shortable,
        cast(easy_to_borrow as boolean) as is_easy_to_borrow,
        cast(fractionable as boolean) as is_fractionable,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(updated_at as timestamptz) as updated_at
    from source
)

select * from renamed
