{#-
    Every approved order is one the broker accepts: a known order type and time in force, a
    fractional quantity only where allowed, the prices its type needs and no others, each on
    the price increment of its level. Returns the breaking orders with the rule they break.
-#}
with

approved_orders as (
    select
        client_order_id,
        qty,
        order_type,
        time_in_force,
        limit_price
    from {{ ref('approved_orders') }}
),

order_rules as (
    select
        order_type,
        time_in_force,
        allows_fractional,
        needs_limit_price
    from {{ ref('broker_order_rules') }}
),

price_increments as (
    select
        min_price,
        increment
    from {{ ref('broker_price_increments') }}
),

checked as (
    select
        approved_orders.client_order_id,
        case
            when order_rules.order_type is null
                then 'order type and time in force not allowed'
            when approved_orders.qty <> floor(approved_orders.qty)
                and not order_rules.allows_fractional
                then 'fractional quantity not allowed for this order type'
            when (approved_orders.limit_price is not null) <> order_rules.needs_limit_price
                then 'limit price present where not needed, or missing'
            when approved_orders.limit_price is not null
                and mod(
                    approved_orders.limit_price,
                    (
                        select price_increments.increment
                        from price_increments
                        where price_increments.min_price <= approved_orders.limit_price
                        order by price_increments.min_price desc
                        limit 1
                    )
                ) <> 0
                then 'limit price not on the price increment'
        end as broken_rule
    from approved_orders
    left join order_rules
        on
            approved_orders.order_type = order_rules.order_type
            and approved_orders.time_in_force = order_rules.time_in_force
)

select *
from checked
where broken_rule is not null
