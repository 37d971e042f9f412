with

risk_decisions as (
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
        as_of,
        reference_price,
        current_qty,
        target_qty,
        is_approved
    from {{ ref('risk_decisions') }}
),

approved as (
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
        cast(as_of as timestamptz) as as_of,
        cast(reference_price as numeric) as reference_price,
        cast(current_qty as numeric) as current_qty,
        cast(target_qty as numeric) as target_qty
    from risk_decisions
    where is_approved
)

select * from approved
