{% macro risk_broker_order_rules(orders, order_rules) -%}
    select
        {{ orders }}.*,
        {{ order_rules }}.order_type is not null as broker_allows,
        coalesce(
            {{ order_rules }}.allows_fractional and {{ orders }}.fractional_trading
            and {{ orders }}.is_fractionable,
            false
        ) as is_fractional
    from {{ orders }}
    left join {{ order_rules }}
        on
            {{ orders }}.order_class = {{ order_rules }}.order_class
            and {{ orders }}.order_type = {{ order_rules }}.order_type
            and {{ orders }}.time_in_force = {{ order_rules }}.time_in_force
{%- endmacro %}
