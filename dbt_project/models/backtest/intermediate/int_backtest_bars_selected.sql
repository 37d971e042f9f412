{%- set run = backtest_run() -%}
{%- if run is not none -%}
    {%- set symbols -%}
        ({%- for symbol in run.symbols -%}{{ sql_literal(symbol) }}{{ ', ' if not loop.last }}{%- endfor -%})
    {%- endset -%}
    {%- set window -%}
        timeframe = {{ sql_literal(run.timeframe) }}
        and symbol in {{ symbols }}
        and ts >= cast({{ sql_literal(run.start_at) }} as timestamptz)
        and ts < cast({{ sql_literal(run.end_at) }} as timestamptz)
    {%- endset -%}
{%- endif -%}
{%- for name in var('strategies') %}
-- depends_on: {{ ref('int_' ~ name ~ '__signals') }}
{%- endfor %}

with

indicators as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close
    from {{ ref('indicators') }}
    where
        {%- if run is none %}
        false
        {%- else %}
        {{ window }}
        {%- endif %}
),

{#- The strategy's own signal model (marts.signals is the union of them all): it is declared a dependency below for every strategy. #}
signals as (
    select
        symbol,
        timeframe,
        ts,
        in_position,
        target_weight
    {%- if run is none %}
    from {{ ref('signals') }}
    where false
    {%- else %}
    from {{ ref('int_' ~ run.strategy ~ '__signals') }}
    where {{ window }}
    {%- endif %}
),

numbered as (
    select
        indicators.symbol,
        indicators.timeframe,
        indicators.ts,
        indicators.ts + {{ timeframe_interval('indicators.timeframe') }} as bar_end_at,
        indicators.open,
        indicators.high,
        indicators.low,
        indicators.close,
        signals.in_position,
        signals.target_weight,
        row_number() over symbol_bars as bar_number,
        lead(indicators.ts) over symbol_bars as next_ts,
        lead(indicators.open) over symbol_bars as next_open
    from indicators
    left join signals
        on
            indicators.symbol = signals.symbol
            and indicators.timeframe = signals.timeframe
            and indicators.ts = signals.ts
    window symbol_bars as (partition by indicators.symbol order by indicators.ts)
),

final as (
    select
        cast({{ sql_literal(run.run_id if run is not none else '00000000-0000-0000-0000-000000000000') }} as uuid)
            as run_id,
        cast({{ sql_literal(run.strategy if run is not none else '') }} as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(bar_number as bigint) as bar_number,
        cast(ts as timestamptz) as ts,
        cast(bar_end_at as timestamptz) as bar_end_at,
        cast(open as numeric) as open,
        cast(high as numeric) as high,
        cast(low as numeric) as low,
        cast(close as numeric) as close,
        cast(in_position as boolean) as in_position,
        cast(target_weight as numeric) as target_weight,
        cast(case when next_ts is not null then bar_number + 1 end as bigint) as next_bar_number,
        cast(next_ts as timestamptz) as next_ts,
        cast(next_open as numeric) as next_open
    from numbered
)

select * from final
