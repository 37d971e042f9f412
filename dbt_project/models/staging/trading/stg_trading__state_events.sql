with

source as (
    select
        id,
        recorded_at,
        action,
        reason,
        actor,
        cancel_orders,
        close_positions
    from {{ source('trading', 'trading_state_events') }}
),

renamed as (
    select
        cast(id as bigint) as event_id,
        cast(recorded_at as timestamptz) as recorded_at,
        cast(action as text) as action,
        cast(reason as text) as reason,
        cast(actor as text) as actor,
        cast(cancel_orders as boolean) as cancel_orders,
        cast(close_positions as boolean) as close_positions
    from source
)

select * from renamed
