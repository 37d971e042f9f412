{% macro risk_order_prices(orders, increments) -%}
    {#- Rounded the cautious way: a buy limit or stop-loss down, a sell limit, buy stop or take-profit up. #}
    select
        *,
        case
            when order_type = 'limit' and side = 'buy'
                then {{ price_on_increment('reference_price * (1 + limit_offset)', 'down', increments) }}
            when order_type = 'limit'
                then {{ price_on_increment('reference_price * (1 - limit_offset)', 'up', increments) }}
            when order_type = 'stop_limit'
                then {{ price_on_increment(
                    'reference_price * (1 + stop_offset) * (1 + limit_offset)', 'down', increments
                ) }}
        end as limit_price,
        case
            when order_type in ('stop', 'stop_limit')
                then {{ price_on_increment('reference_price * (1 + stop_offset)', 'up', increments) }}
        end as stop_price,
        case
            when order_class = 'bracket'
                then {{ price_on_increment('reference_price * (1 + take_profit)', 'up', increments) }}
        end as take_profit_price,
        case
            when order_class = 'bracket'
                then {{ price_on_increment('reference_price * (1 - stop_loss)', 'down', increments) }}
        end as stop_loss_price
    from {{ orders }}
{%- endmacro %}
