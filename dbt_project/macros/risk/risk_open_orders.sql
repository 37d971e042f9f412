{% macro risk_open_orders(broker_orders, submissions, decision_times) -%}
    {#- A bracket's exit legs carry ids the broker made up: they are known by their entry's. #}
    select
        {{ decision_times }}.as_of,
        {{ broker_orders }}.symbol,
        {{ broker_orders }}.parent_order_id is not null as is_exit_leg,
        coalesce(entries.client_order_id, {{ broker_orders }}.client_order_id)
            as group_client_order_id
    from {{ broker_orders }}
    inner join {{ decision_times }}
        on
            {{ broker_orders }}.submitted_at < {{ decision_times }}.as_of
            and (
                {{ broker_orders }}.closed_at is null
                or {{ broker_orders }}.closed_at >= {{ decision_times }}.as_of
            )
    left join {{ broker_orders }} as entries
        on {{ broker_orders }}.parent_order_id = entries.order_id
    union all
    select
        {{ decision_times }}.as_of,
        {{ submissions }}.symbol,
        false,
        null
    from {{ submissions }}
    inner join {{ decision_times }}
        on {{ submissions }}.created_at < {{ decision_times }}.as_of
    where {{ submissions }}.is_open
{%- endmacro %}
