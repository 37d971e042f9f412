{% macro risk_open_order_checks(orders, open_orders, book=none) -%}
    {#- The executor cancels the live legs of the strategy's own bracket before an exit. #}
    {%- set own_bracket -%}
        {{ open_orders }}.is_exit_leg
        and {{ open_orders }}.group_client_order_id
        like {{ orders }}.strategy || '-' || {{ orders }}.symbol || '-%'
    {%- endset %}
    {%- set same_book -%}
        {%- if book %} and {{ open_orders }}.{{ book }} = {{ orders }}.{{ book }}{% endif -%}
    {%- endset %}
    select
        {{ orders }}.*,
        exists (
            select
            from {{ open_orders }}
            where
                {{ open_orders }}.as_of = {{ orders }}.as_of
                and {{ open_orders }}.symbol = {{ orders }}.symbol{{ same_book }}
                and not ({{ orders }}.side = 'sell' and {{ own_bracket }})
        ) as has_open_order,
        {{ orders }}.side = 'sell' and exists (
            select
            from {{ open_orders }}
            where
                {{ open_orders }}.as_of = {{ orders }}.as_of
                and {{ open_orders }}.symbol = {{ orders }}.symbol{{ same_book }}
                and {{ own_bracket }}
        ) as cancel_open_exits
    from {{ orders }}
{%- endmacro %}
