with

source as (
    select
        client_order_id,
        strategy,
        symbol,
        side,
        qty,
        order_type,
        time_in_force,
        limit_price,
        decision_ts,
        trading_mode,
        status,
        broker_order_id,
        reason,
        created_at,
        updated_at,
        source
    from {{ source('trading', 'order_submissions') }}
),

renamed as (
    select
        cast(client_order_id as text) as client_order_id,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast(order_type as text) as order_type,
        cast(time_in_force as text) as time_in_force,
        cast(limit_price as numeric) as limit_price,
        cast(decision_ts as timestamptz) as decision_ts,
        cast(trading_mode as text) as trading_mode,
        cast(trading_mode = 'live' as boolean) as is_live,
        cast(status as text) as status,
        cast(status in {{ in_list(open_submission_statuses()) }} as boolean) as is_open,
        cast(broker_order_id as text) as broker_order_id,
        cast(reason as text) as status_reason,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(source as text) as data_source
    from source
)

select * from renamed
