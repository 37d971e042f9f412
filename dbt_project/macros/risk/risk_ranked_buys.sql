{% macro risk_ranked_buys(orders, book=none) -%}
    {#-
        Each buy is checked with the ones ranked before it, whether those pass or not
        (conservative), so two buys cannot both take the last free place.
    -#}
    {%- set account = 'as_of' ~ (', ' ~ book if book else '') %}
    select
        *,
        case when side = 'buy' then
            row_number() over (
                partition by as_of, strategy, side = 'buy' order by strength desc, symbol
            )
        end as strategy_buy_rank,
        case when side = 'buy' then
            row_number() over (
                partition by {{ account }}, side = 'buy' order by strength desc, strategy, symbol
            )
        end as account_buy_rank,
        case when side = 'buy' then
            sum(coalesce(order_value, 0)) over (
                partition by {{ account }}, side = 'buy' order by strength desc, strategy, symbol
                rows between unbounded preceding and current row
            )
        end as buy_value_so_far
    from {{ orders }}
{%- endmacro %}
