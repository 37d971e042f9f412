{#- The run a backtest build is for: the var `backtest_run_id`, else none. -#}
{% macro backtest_run_id() -%}
    {%- set value = var('backtest_run_id', none) -%}
    {%- if not value -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set value = value | string | trim | lower -%}
    {%- if not modules.re.fullmatch('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', value) -%}
        {{ exceptions.raise_compiler_error(
            "backtest_run_id: " ~ (value | tojson) ~ " is not a uuid (e.g. 0f8e0c4a-1b2c-4d5e-8f90-123456789abc)"
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
