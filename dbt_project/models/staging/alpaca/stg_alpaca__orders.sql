with

source as (
    select
        id,
        client_order_id,
        symbol,
        side,
        order_type,
        time_in_force,
        qty,
        notional,
        filled_qty,
        filled_avg_price,
        limit_price,
        stop_price,
        order_class,
        parent_order_id,
        status,
        created_at,
        submitted_at,
        updated_at,
        filled_at,
        canceled_at,
        expired_at,
        synced_at,
        source
    from {{ source('alpaca', 'orders') }}
),

renamed as (
    select
        cast(id as text) as order_id,
        cast(client_order_id as text) as client_order_id,
        cast(symbol as text) as symbol,
        cast(side as text) as side,
        cast(order_type as text) as order_type,
        cast(time_in_force as text) as time_in_force,
        cast(qty as numeric) as qty,
        cast(notional as numeric) as notional,
        cast(filled_qty as numeric) as filled_qty,
        cast(filled_avg_price as numeric) as filled_avg_price,
        cast(limit_price as numeric) as limit_price,
        cast(stop_price as numeric) as stop_price,
        cast(coalesce(nullif(order_class, ''), 'simple') as text) as order_class,
        cast(parent_order_id as text) as parent_order_id,
        cast(status as text) as status,
        cast(
            status not in {{ in_list(closed_order_statuses()) }}
            as boolean
        ) as is_open,
        cast(created_at as timestamptz) as created_at,
        cast(submitted_at as timestamptz) as submitted_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(filled_at as timestamptz) as filled_at,
        cast(canceled_at as timestamptz) as canceled_at,
        cast(expired_at as timestamptz) as expired_at,
        cast(
            case
                when status in {{ in_list(closed_order_statuses()) }}
                    then coalesce(filled_at, canceled_at, expired_at, updated_at)
            end
            as timestamptz
        ) as closed_at,
        cast(synced_at as timestamptz) as synced_at,
        cast(source as text) as data_source
    from source
)

select * from renamed
