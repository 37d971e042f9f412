{#- A string as a quoted SQL literal ('it''s'). -#}
{% macro sql_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
