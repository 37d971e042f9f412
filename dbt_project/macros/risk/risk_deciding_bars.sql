{% macro risk_deciding_bars(signals, decision_times) -%}
    select distinct on ({{ decision_times }}.as_of, {{ signals }}.strategy, {{ signals }}.symbol)
        {{ signals }}.*,
        {{ decision_times }}.as_of
    from {{ signals }}
    inner join {{ decision_times }}
        on
            {{ signals }}.decision_at <= {{ decision_times }}.as_of
            {#- Older signals would be rejected as stale anyway; the bound keeps this cheap. #}
            and {{ signals }}.decision_at > {{ decision_times }}.as_of - interval '7 days'
    order by
        {{ decision_times }}.as_of asc,
        {{ signals }}.strategy asc,
        {{ signals }}.symbol asc,
        {{ signals }}.decision_at desc,
        {{ signals }}.ts desc
{%- endmacro %}
