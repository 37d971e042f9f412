{% macro closed_order_statuses() -%}
    {{ return(['filled', 'canceled', 'expired', 'rejected', 'replaced', 'done_for_day']) }}
{%- endmacro %}

{% macro open_submission_statuses() -%}
    {{ return(['pending', 'unknown']) }}
{%- endmacro %}

{% macro in_list(values) -%}
    ({%- for value in values -%}'{{ value }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}
