{% macro recent_rows(column) -%}
    {#- No backslash: the text is also a replacement pattern (postgres__get_where_subquery). -#}
    {%- set since = env_var('TRADING_TEST_SINCE', '') | replace("\\", "") | replace("'", "''") -%}
    {%- if since -%}
        ({{ column }} >= cast('{{ since }}' as timestamptz) or {{ column }} is null)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
