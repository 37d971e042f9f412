{#- A predicate on symbol, timeframe and ts keeping the run's window and symbols (with `from_first_bar`, every bar before its end: the history a strategy's state carries from), as literals (the planner then uses the bars' index); `false` without a run. -#}
{% macro backtest_window(run, from_first_bar=false) -%}
    {%- if run is none -%}
        false
    {%- else -%}
        timeframe = {{ sql_literal(run.timeframe) }}
        and symbol in (
            {%- for symbol in run.symbols -%}{{ sql_literal(symbol) }}{{ ', ' if not loop.last }}{%- endfor -%}
        )
        {%- if not from_first_bar %}
        and ts >= cast({{ sql_literal(run.start_at) }} as timestamptz)
        {%- endif %}
        and ts < cast({{ sql_literal(run.end_at) }} as timestamptz)
    {%- endif -%}
{%- endmacro %}
