with

source as (
    select
        id,
        order_id,
        symbol,
        side,
        qty,
        price,
        transaction_time,
        fill_type,
        cum_qty,
        leaves_qty,
        order_status,
        ingested_at,
        source
    from {{ source('alpaca', 'fills') }}
),

renamed as (
    select
        cast(id as text) as fill_id,
        cast(order_id as text) as order_id,
        cast(symbol as text) as symbol,
        cast(lower(side) as text) as side,
        cast(qty as numeric) as qty,
        cast(
            case lower(side)
                when 'buy' then qty
                when 'sell' then -qty
                when 'sell_short' then -qty
            end
            as numeric
        ) as signed_qty,
        cast(price as numeric) as price,
        cast(qty * price as numeric) as gross_amount,
        cast(transaction_time as timestamptz) as filled_at,
        cast(fill_type as text) as fill_type,
        cast(fill_type = 'partial_fill' as boolean) as is_partial,
        cast(cum_qty as numeric) as order_cum_qty,
        cast(leaves_qty as numeric) as order_leaves_qty,
        cast(order_status as text) as order_status,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(source as text) as data_source
    from source
)

select * from renamed
