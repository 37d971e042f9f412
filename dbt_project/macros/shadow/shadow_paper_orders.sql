{% macro shadow_paper_orders(decisions, bars) -%}
    {#- The next bar after the deciding one: the first of the symbol and timeframe from its end on. #}
    select
        {{ decisions }}.strategy,
        {{ decisions }}.symbol,
        {{ decisions }}.timeframe,
        {{ decisions }}.decision_id as order_id,
        {{ decisions }}.client_order_id,
        {{ decisions }}.as_of as ordered_at,
        {{ decisions }}.side,
        {{ decisions }}.qty,
        case when {{ decisions }}.side = 'buy' then 1 else -1 end * {{ decisions }}.qty as signed_qty,
        fill_bars.ts as filled_at,
        fill_bars.open as price,
        fill_bars.bar_end_at as known_at,
        false as is_bracket_exit
    from {{ decisions }}
    left join lateral (
        select
            {{ bars }}.ts,
            {{ bars }}.open,
            {{ bars }}.bar_end_at
        from {{ bars }}
        where
            {{ bars }}.symbol = {{ decisions }}.symbol
            and {{ bars }}.timeframe = {{ decisions }}.timeframe
            and {{ bars }}.ts >= {{ decisions }}.decision_at
        order by {{ bars }}.ts asc
        limit 1
    ) as fill_bars on true
    where {{ decisions }}.is_approved and {{ decisions }}.qty > 0
{%- endmacro %}
