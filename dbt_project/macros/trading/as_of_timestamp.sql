{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        cast('{{ as_of | string | replace("'", "''") }}' as timestamptz)
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}
