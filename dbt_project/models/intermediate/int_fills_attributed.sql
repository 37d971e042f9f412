with

fills as (
    select
        fill_id,
        order_id,
        symbol,
        side,
        signed_qty,
        price,
        filled_at
    from {{ ref('stg_alpaca__fills') }}
),

orders as (
    select
        order_id,
        client_order_id,
        parent_order_id
    from {{ ref('stg_alpaca__orders') }}
),

order_submissions as (
    select strategy
    from {{ ref('stg_trading__order_submissions') }}
),

strategy_params as (
    select strategy
    from {{ ref('stg_trading__strategy_params') }}
),

known_strategies as (
    select strategy from strategy_params
    union
    select strategy from order_submissions
),

{#-
    A bracket's exit legs carry client_order_ids the broker made up: they belong to the
    strategy of their entry order (parent_order_id), whose id carries our prefix.
-#}
fills_with_prefix as (
    select
        fills.*,
        orders.client_order_id,
        substring(
            coalesce(entries.client_order_id, orders.client_order_id)
            from '^([a-z][a-z0-9_]{0,30})-'
        ) as client_order_prefix,
        orders.parent_order_id is not null as is_bracket_exit
    from fills
    left join orders
        on fills.order_id = orders.order_id
    left join orders as entries
        on orders.parent_order_id = entries.order_id
),

attributed as (
    select
        fills_with_prefix.fill_id,
        fills_with_prefix.order_id,
        fills_with_prefix.client_order_id,
        coalesce(known_strategies.strategy, 'external') as strategy,
        known_strategies.strategy is null as is_external,
        fills_with_prefix.is_bracket_exit,
        fills_with_prefix.symbol,
        fills_with_prefix.side,
        fills_with_prefix.signed_qty,
        fills_with_prefix.price,
        fills_with_prefix.filled_at
    from fills_with_prefix
    left join known_strategies
        on fills_with_prefix.client_order_prefix = known_strategies.strategy
)

select * from attributed
