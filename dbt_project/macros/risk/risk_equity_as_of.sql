{% macro risk_equity_as_of(snapshots, decision_times) -%}
    select distinct on ({{ decision_times }}.as_of)
        {{ decision_times }}.as_of,
        {{ snapshots }}.equity
    from {{ snapshots }}
    inner join {{ decision_times }}
        on {{ snapshots }}.snapshot_at <= {{ decision_times }}.as_of
    order by {{ decision_times }}.as_of asc, {{ snapshots }}.snapshot_at desc
{%- endmacro %}
