{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', none) or env_var('TRADING_AS_OF', '') -%}
    {%- if as_of -%}
        cast('{{ as_of | string | replace("'", "''") }}' as timestamptz)
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}
