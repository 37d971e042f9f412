{#- Pre-hook of the backtest models: a rebuilt run replaces its rows (same transaction as the insert). -#}
{% macro backtest_replace_run() -%}
    {%- if backtest_run_id() is not none and is_incremental() -%}
        delete from {{ this }} where {{ backtest_run_filter('run_id') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
