{#-
    Turn a strategy's rules into signals. `rules` names a CTE holding strategy_bars()'s columns
    plus `wants_position` (true: be in, false: be out, null: keep what you have) and `strength`
    (0..1, clipped). The position state is carried from bar to bar, and on an incremental run
    from the last stored bar before the first new one, so a run costs the new bars only.
-#}
{% macro strategy_signals(rules) -%}
    {%- set strategy = strategy_name() -%}
    {#- In a backtest build every trial of the run is its own series (see strategy_bars). -#}
    {%- set trial_mode = backtest_run_id() is not none -%}
    {%- set series = 'run_id, trial, symbol, timeframe' if trial_mode else 'symbol, timeframe' -%}
    {%- if is_incremental() %}

series_starts as (
    select
        symbol,
        timeframe,
        min(ts) as first_ts
    from {{ rules }}
    group by symbol, timeframe
),

{#- Materialized: computed once, not once per new row (the planner cannot see how many). #}
carried_in as materialized (
    select
        series_starts.symbol,
        series_starts.timeframe,
        stored.in_position
    from series_starts
    cross join lateral (
        select previous.in_position
        from {{ this }} as previous
        where
            previous.symbol = series_starts.symbol
            and previous.timeframe = series_starts.timeframe
            and previous.ts < series_starts.first_ts
        order by previous.ts desc
        limit 1
    ) as stored
),
    {%- else %}

carried_in as (
    select
        cast(null as text) as symbol,
        cast(null as text) as timeframe,
        cast(null as boolean) as in_position
    where false
),
    {%- endif %}

{#-
    The wanted position after a bar is the last non-null wants_position up to it. Each decisive
    bar gets the key (epoch of ts) * 2 + wanted; the largest key so far is the last decisive bar,
    and its parity says what it wanted: one sort, native max() windows.
-#}
decisive_keys as (
    select
        {{ rules }}.*,
        carried_in.in_position as carried_in_position,
        cast(extract(epoch from {{ rules }}.ts) as bigint) * 2
        + cast({{ rules }}.wants_position as integer) as decisive_key
    from {{ rules }}
    left join carried_in
        on
            {{ rules }}.symbol = carried_in.symbol
            and {{ rules }}.timeframe = carried_in.timeframe
),

last_decisions as (
    select
        *,
        max(decisive_key) over (
            partition by {{ series }} order by ts
            rows between unbounded preceding and current row
        ) as last_key
    from decisive_keys
),

compared as (
    select
        *,
        coalesce(last_key % 2 = 1, carried_in_position, false) as in_position,
        coalesce(
            lag(last_key) over (partition by {{ series }} order by ts) % 2 = 1,
            carried_in_position,
            false
        ) as was_in_position
    from last_decisions
),

final as (
    select
        {%- if trial_mode %}
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        {%- endif %}
        cast('{{ strategy }}' as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(ts as timestamptz) as ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(
            case
                when in_position and not was_in_position then 'buy'
                when was_in_position and not in_position then 'sell'
                else 'hold'
            end as text
        ) as signal,
        cast(least(1, greatest(0, coalesce(strength, 0))) as double precision) as strength,
        cast(case when in_position then position_weight else 0 end as numeric) as target_weight,
        cast(in_position as boolean) as in_position,
        cast(close as numeric) as reference_price,
        cast(spec_effective_from as timestamptz) as spec_effective_from,
        cast(indicators_computed_at as timestamptz) as indicators_computed_at,
        cast(now() as timestamptz) as computed_at
    from compared
)

select * from final
{%- endmacro %}
