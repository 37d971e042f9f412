{% macro risk_positions_as_of(fills, decision_times) -%}
    select distinct on ({{ decision_times }}.as_of, {{ fills }}.strategy, {{ fills }}.symbol)
        {{ decision_times }}.as_of,
        {{ fills }}.strategy,
        {{ fills }}.symbol,
        {{ fills }}.position_qty
    from {{ fills }}
    inner join {{ decision_times }}
        on {{ fills }}.filled_at < {{ decision_times }}.as_of
    order by
        {{ decision_times }}.as_of asc,
        {{ fills }}.strategy asc,
        {{ fills }}.symbol asc,
        {{ fills }}.fill_number desc
{%- endmacro %}
