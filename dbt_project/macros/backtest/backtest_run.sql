{#- The row of raw.backtest_runs being built, read when the model runs; none without a run. -#}
{% macro backtest_run() -%}
    {%- set runs = ref('stg_trading__backtest_runs') -%}
    {%- set run_id = backtest_run_id() -%}
    {%- if run_id is none or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select
            strategy,
            timeframe,
            mode,
            cast(array_to_json(symbols) as text) as symbols,
            coalesce(cast(start_at as text), '-infinity') as start_at,
            coalesce(cast(end_at as text), 'infinity') as end_at
        from {{ runs }}
        where run_id = cast('{{ run_id }}' as uuid)
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "backtest_run_id: no run " ~ run_id ~ " in raw.backtest_runs (record the run before building)"
        ) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {%- set run = {
        'run_id': run_id,
        'strategy': row['strategy'],
        'timeframe': row['timeframe'],
        'mode': row['mode'],
        'symbols': fromjson(row['symbols']),
        'start_at': row['start_at'],
        'end_at': row['end_at'],
    } -%}
    {%- if run.mode not in ('signal', 'portfolio') -%}
        {{ exceptions.raise_compiler_error(
            "backtest run " ~ run_id ~ ": mode " ~ (run.mode | tojson) ~ " is neither 'signal' nor 'portfolio'"
        ) }}
    {%- endif -%}
    {%- if run.strategy not in var('strategies') -%}
        {{ exceptions.raise_compiler_error(
            "backtest run " ~ run_id ~ ": strategy " ~ (run.strategy | tojson)
            ~ " is not in the var strategies " ~ (var('strategies') | tojson)
            ~ " (pass every spec's name, as `trading dbt` does)"
        ) }}
    {%- endif -%}
    {%- if not run.symbols -%}
        {{ exceptions.raise_compiler_error("backtest run " ~ run_id ~ ": symbols is empty") }}
    {%- endif -%}
    {{ return(run) }}
{%- endmacro %}
