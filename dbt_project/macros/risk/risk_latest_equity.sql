{% macro risk_latest_equity(snapshots, decision_time) -%}
    {#- The account at one decision time: its latest equity, its peak so far and the day's change. #}
    select
        equity,
        last_equity,
        peak_equity,
        equity / nullif(peak_equity, 0) - 1 as drawdown,
        equity / nullif(last_equity, 0) - 1 as daily_return
    from (
        select
            {{ snapshots }}.equity,
            {{ snapshots }}.last_equity,
            max({{ snapshots }}.equity) over () as peak_equity,
            row_number() over (order by {{ snapshots }}.snapshot_at desc) as recency
        from {{ snapshots }}
        cross join {{ decision_time }}
        where {{ snapshots }}.snapshot_at <= {{ decision_time }}.as_of
    ) as equity_as_of
    where recency = 1
{%- endmacro %}
