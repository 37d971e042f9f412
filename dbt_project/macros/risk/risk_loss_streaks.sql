{% macro risk_loss_streaks(fills, policy, book=none) -%}
    {%- set keys = ['as_of'] + ([book] if book else []) + ['symbol'] %}
    select
        {%- for key in keys %}
        closing_fills.{{ key }},
        {%- endfor %}
        max(closing_fills.filled_at) as last_loss_at
    from (
        {#- Our trades that closed shares in each symbol (any strategy of the book), newest first. #}
        select
            {{ policy }}.as_of,
            {{ policy }}.loss_streak_trades,
            {%- if book %}
            {{ fills }}.{{ book }},
            {%- endif %}
            {{ fills }}.symbol,
            {{ fills }}.filled_at,
            {{ fills }}.realized_pl,
            row_number() over (
                partition by
                    {{ policy }}.as_of,
                    {%- if book %} {{ fills }}.{{ book }},{% endif %}
                    {{ fills }}.symbol
                order by {{ fills }}.filled_at desc, {{ fills }}.fill_id desc
            ) as recency
        from {{ fills }}
        inner join {{ policy }}
            on {{ fills }}.filled_at < {{ policy }}.as_of
        where
            {{ fills }}.closed_qty > 0
            and {{ fills }}.strategy <> 'external'
    ) as closing_fills
    where closing_fills.recency <= closing_fills.loss_streak_trades
    group by {% for key in keys %}closing_fills.{{ key }}, {% endfor %}closing_fills.loss_streak_trades
    having
        count(*) = closing_fills.loss_streak_trades
        and bool_and(closing_fills.realized_pl < 0)
{%- endmacro %}
