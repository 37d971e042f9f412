with

risk_decisions as (
    select
        decision_id,
        client_order_id,
        strategy,
        mode,
        symbol,
        side,
        qty,
        order_class,
        order_type,
        time_in_force,
        limit_price,
        stop_price,
        take_profit_price,
        stop_loss_price,
        cancel_open_exits,
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
        cast(decision_id as uuid) as decision_id,
        cast(client_order_id as text) as client_order_id,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast(order_class as text) as order_class,
        cast(order_type as text) as order_type,
        cast(time_in_force as text) as time_in_force,
        cast(limit_price as numeric) as limit_price,
        cast(stop_price as numeric) as stop_price,
        cast(take_profit_price as numeric) as take_profit_price,
        cast(stop_loss_price as numeric) as stop_loss_price,
        cast(cancel_open_exits as boolean) as cancel_open_exits,
        cast(decision_ts as timestamptz) as decision_ts,
        cast(as_of as timestamptz) as as_of,
        cast(reference_price as numeric) as reference_price,
        cast(current_qty as numeric) as current_qty,
        cast(target_qty as numeric) as target_qty
    from risk_decisions
    {#- A shadow strategy's decisions stay on paper. #}
    where is_approved and mode = 'live'
)

select * from approved
