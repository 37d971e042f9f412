{% macro risk_account_exposure(positions, snapshots, decision_times) -%}
    {#- From the decision times, so a time without positions still has its row of zeros. #}
    select
        {{ decision_times }}.as_of,
        count(*) filter (where {{ positions }}.qty <> 0) as account_open_positions,
        coalesce(sum(abs({{ positions }}.market_value)), 0) as gross_value,
        coalesce(sum({{ positions }}.market_value), 0) as net_value
    from {{ decision_times }}
    left join {{ positions }}
        on {{ positions }}.snapshot_at = (
            select max({{ snapshots }}.snapshot_at)
            from {{ snapshots }}
            where {{ snapshots }}.snapshot_at <= {{ decision_times }}.as_of
        )
    group by {{ decision_times }}.as_of
{%- endmacro %}
