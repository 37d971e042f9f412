{#- Post-hook of the intermediate backtest models: fresh statistics, so the models reading them plan with real row counts. -#}
{% macro backtest_analyze() -%}
    {%- if backtest_run_id() is not none -%}
        analyze {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
