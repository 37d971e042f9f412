{#- A predicate keeping the current run's rows only; `false` when no run is being built. -#}
{% macro backtest_run_filter(column='run_id') -%}
    {%- set run_id = backtest_run_id() -%}
    {%- if run_id is none -%}
        false
    {%- else -%}
        {{ column }} = cast('{{ run_id }}' as uuid)
    {%- endif -%}
{%- endmacro %}
