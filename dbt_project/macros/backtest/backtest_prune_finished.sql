{#- Pre-hook of the intermediate backtest models: drop the scratch rows of runs that are over. -#}
{% macro backtest_prune_finished() -%}
    {%- if backtest_run_id() is not none and is_incremental() -%}
        delete from {{ this }}
        where run_id in (
            select run_id from {{ source('trading', 'backtest_runs') }}
            where status <> 'running'
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
