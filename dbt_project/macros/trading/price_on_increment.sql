{% macro price_increment(price, increments='broker_price_increments') -%}
    {#- The row with the largest min_price not above the price. -#}
    (
        select {{ increments }}.increment
        from {{ increments }}
        where {{ increments }}.min_price <= {{ price }}
        order by {{ increments }}.min_price desc
        limit 1
    )
{%- endmacro %}

{% macro price_on_increment(price, rounding, increments='broker_price_increments') -%}
    {#- The increment in force at the unrounded price. -#}
    {%- set increment = price_increment(price, increments) -%}
    {%- if rounding == 'down' -%}
        (floor({{ price }} / {{ increment }}) * {{ increment }})
    {%- elif rounding == 'up' -%}
        (ceil({{ price }} / {{ increment }}) * {{ increment }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("price_on_increment: rounding must be 'down' or 'up', got '" ~ rounding ~ "'") }}
    {%- endif -%}
{%- endmacro %}
