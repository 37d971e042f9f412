{#- A predicate on symbol, timeframe and ts keeping the run's window and symbols, as literals (the planner then uses the bars' index); `false` without a run. -#}
{% macro backtest_window(run) -%}
    {%- if run is none -%}
        false
    {%- else -%}
        timeframe = {{ sql_literal(run.timeframe) }}
        and symbol in (
            {%- for symbol in run.symbols -%}{{ sql_literal(symbol) }}{{ ', ' if not loop.last }}{%- endfor -%}
        )
        and ts >= cast({{ sql_literal(run.start_at) }} as timestamptz)
        and ts < cast({{ sql_literal(run.end_at) }} as timestamptz)
    {%- endif -%}
{%- endmacro %}
