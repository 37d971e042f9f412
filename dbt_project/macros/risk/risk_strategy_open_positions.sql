{% macro risk_strategy_open_positions(positions) -%}
    select
        {{ positions }}.as_of,
        {{ positions }}.strategy,
        count(*) as open_positions
    from {{ positions }}
    where {{ positions }}.position_qty <> 0
    group by {{ positions }}.as_of, {{ positions }}.strategy
{%- endmacro %}
