{#-
    Every approved order is one the broker accepts: a known order class, type and time in
    force; a fractional quantity only where allowed; the prices its type needs and no others,
    each on the price increment of its level; a bracket's take-profit above its stop-loss.
    Returns the breaking orders with the first rule they break.
-#}
with

approved_orders as (
    select
        client_order_id,
        side,
        qty,
        order_class,
        order_type,
        time_in_force,
        limit_price,
        stop_price,
        take_profit_price,
        stop_loss_price
    from {{ ref('approved_orders') }}
),

order_rules as (
    select
        order_class,
        order_type,
        time_in_force,
        allows_fractional,
        needs_limit_price,
        needs_stop_price
    from {{ ref('broker_order_rules') }}
),

price_increments as (
    select
        min_price,
        increment
    from {{ ref('broker_price_increments') }}
),

prices as (
    select
        approved_orders.client_order_id,
        prices.price
    from approved_orders
    cross join lateral (
        values
            (approved_orders.limit_price),
            (approved_orders.stop_price),
            (approved_orders.take_profit_price),
            (approved_orders.stop_loss_price)
    ) as prices (price)
    where prices.price is not null
),

off_increment as (
    select distinct prices.client_order_id
    from prices
    where mod(prices.price, {{ price_increment('prices.price', 'price_increments') }}) <> 0
),

checked as (
    select
        approved_orders.client_order_id,
        case
            when order_rules.order_type is null
                then 'order class, type and time in force not allowed'
            when approved_orders.qty <> floor(approved_orders.qty)
                and not order_rules.allows_fractional
                then 'fractional quantity not allowed for this order type'
            when (approved_orders.limit_price is not null) <> order_rules.needs_limit_price
                then 'limit price present where not needed, or missing'
            when (approved_orders.stop_price is not null) <> order_rules.needs_stop_price
                then 'stop price present where not needed, or missing'
            when
                (approved_orders.order_class = 'bracket')
                <> (approved_orders.take_profit_price is not null)
                or (approved_orders.order_class = 'bracket')
                <> (approved_orders.stop_loss_price is not null)
                then 'bracket legs missing, or legs on a simple order'
            when approved_orders.order_class = 'bracket' and approved_orders.side = 'buy'
                and approved_orders.take_profit_price <= approved_orders.stop_loss_price
                then 'bracket take-profit not above its stop-loss'
            when off_increment.client_order_id is not null
                then 'price not on the price increment'
        end as broken_rule
    from approved_orders
    left join order_rules
        on
            approved_orders.order_class = order_rules.order_class
            and approved_orders.order_type = order_rules.order_type
            and approved_orders.time_in_force = order_rules.time_in_force
    left join off_increment
        on approved_orders.client_order_id = off_increment.client_order_id
)

select *
from checked
where broken_rule is not null
