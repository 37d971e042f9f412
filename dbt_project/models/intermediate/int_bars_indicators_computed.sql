{{
    config(
        materialized='incremental',
        unique_key=['symbol', 'timeframe', 'ts'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook='set local jit = off',
        post_hook="{{ analyze_if_never_analyzed(this) }}",
        indexes=[
            {'columns': ['symbol', 'timeframe', 'ts'], 'unique': true},
            {'columns': ['computed_at']},
        ],
    )
}}

{#- The last recursive average to be seeded is MACD's signal line, at bar 34. -#}
{%- set seeded_from_bar = 34 -%}
{#- The longest window (sma_50) needs the 49 bars before the first recomputed one. -#}
{%- set context_bars = 50 -%}
{%- set session_seed_columns = [
    ('session_date', 'date'),
    ('session_price_volume', 'numeric'),
    ('session_volume', 'numeric'),
] -%}
{%- set state_averages = [
    'ema_12', 'ema_26', 'macd_fast_ema', 'macd_signal', 'avg_gain_14', 'avg_loss_14', 'atr_14',
] -%}

with

bars as not materialized (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        ingested_at
    from {{ ref('stg_alpaca__bars') }}
),

{% if is_incremental() %}
{#- A literal (not a subquery) lets the planner see how few bars landed since. -#}
{%- set landed_since = run_query(
    "select coalesce(cast(max(computed_at) - interval '"
    ~ var('indicators_ingested_overlap_minutes') ~ " minutes' as text), '-infinity') from "
    ~ this
).columns[0].values()[0] %}

stored as not materialized (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        bar_ingested_at,
        bar_number,
        {% for name, _ in session_seed_columns -%}
        {{ name }},
        {% endfor -%}
        {% for name in state_averages -%}
        {{ name }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ this }}
),

landed_bars as (
    select
        bars.symbol,
        bars.timeframe,
        bars.ts
    from bars
    left join stored
        on
            bars.symbol = stored.symbol
            and bars.timeframe = stored.timeframe
            and bars.ts = stored.ts
    where
        bars.ingested_at >= timestamptz '{{ landed_since }}'
        and bars.ingested_at is distinct from stored.bar_ingested_at
),

series_to_update as (
    select
        symbol,
        timeframe,
        min(ts) as recompute_from
    from landed_bars
    group by symbol, timeframe
),

seeded_series as (
    select
        series_to_update.symbol,
        series_to_update.timeframe,
        series_to_update.recompute_from,
        seed.ts as seed_ts,
        {% for name, _ in session_seed_columns -%}
        seed.{{ name }} as seed_{{ name }},
        {% endfor -%}
        {{ indicator_state_seed(
            'seed.bar_number', 'seed.close', 'seed.ema_12', 'seed.ema_26', 'seed.macd_fast_ema',
            'seed.macd_signal', 'seed.avg_gain_14', 'seed.avg_loss_14', 'seed.atr_14'
        ) }} as seed_state
    from series_to_update
    cross join lateral (
        select *
        from stored
        where
            stored.symbol = series_to_update.symbol
            and stored.timeframe = series_to_update.timeframe
            and stored.ts < series_to_update.recompute_from
        order by stored.ts desc
        limit 1
    ) as seed
    where seed.bar_number >= {{ seeded_from_bar }}
),

series_from_scratch as (
    select
        series_to_update.symbol,
        series_to_update.timeframe
    from series_to_update
    left join seeded_series
        on
            series_to_update.symbol = seeded_series.symbol
            and series_to_update.timeframe = seeded_series.timeframe
    where seeded_series.symbol is null
),

context_bars as (
    select
        seeded_series.*,
        context.ts,
        context.open,
        context.high,
        context.low,
        context.close,
        context.volume,
        context.bar_ingested_at,
        true as is_context
    from seeded_series
    cross join lateral (
        select *
        from stored
        where
            stored.symbol = seeded_series.symbol
            and stored.timeframe = seeded_series.timeframe
            and stored.ts <= seeded_series.seed_ts
        order by stored.ts desc
        limit {{ context_bars }}
    ) as context
),

resumed_bars as (
    select
        seeded_series.*,
        recomputed.ts,
        recomputed.open,
        recomputed.high,
        recomputed.low,
        recomputed.close,
        recomputed.volume,
        recomputed.ingested_at as bar_ingested_at,
        false as is_context
    from seeded_series
    cross join lateral (
        select *
        from bars
        where
            bars.symbol = seeded_series.symbol
            and bars.timeframe = seeded_series.timeframe
            and bars.ts >= seeded_series.recompute_from
        offset 0
    ) as recomputed
),

scratch_bars as (
    select
        series_from_scratch.symbol,
        series_from_scratch.timeframe,
        cast(null as timestamptz) as recompute_from,
        cast(null as timestamptz) as seed_ts,
        {% for name, data_type in session_seed_columns -%}
        cast(null as {{ data_type }}) as seed_{{ name }},
        {% endfor -%}
        cast(null as double precision []) as seed_state,
        whole_series.ts,
        whole_series.open,
        whole_series.high,
        whole_series.low,
        whole_series.close,
        whole_series.volume,
        whole_series.ingested_at as bar_ingested_at,
        false as is_context
    from series_from_scratch
    cross join lateral (
        select *
        from bars
        where
            bars.symbol = series_from_scratch.symbol
            and bars.timeframe = series_from_scratch.timeframe
        offset 0
    ) as whole_series
),

series_bars as (
    select * from context_bars
    union all
    select * from resumed_bars
    union all
    select * from scratch_bars
),

{% else %}

series_bars as (
    select
        symbol,
        timeframe,
        {% for name, data_type in session_seed_columns -%}
        cast(null as {{ data_type }}) as seed_{{ name }},
        {% endfor -%}
        cast(null as double precision []) as seed_state,
        ts,
        open,
        high,
        low,
        close,
        volume,
        ingested_at as bar_ingested_at,
        false as is_context
    from bars
),

{% endif %}

dated as (
    select
        *,
        cast(ts at time zone 'America/New_York' as date) as session_date
    from series_bars
),

{#- Every window orders by (session_date, ts): the order of ts, and the session window's too,
    so one sort serves them all. -#}
running as (
    select
        *,
        lag(close) over bars_so_far as previous_close,
        close / nullif(lag(close) over bars_so_far, 0) - 1 as simple_return,
        case
            when close > 0 and lag(close) over bars_so_far > 0
                then ln(
                    cast(close as double precision)
                    / cast(lag(close) over bars_so_far as double precision)
                )
        end as log_return,
        udf.indicator_state(
            cast(close as double precision),
            cast(high as double precision),
            cast(low as double precision),
            seed_state
        ) filter (where not is_context) over bars_so_far as state,
        sum(close) over bars_so_far as close_sum,
        sum(close * close) over bars_so_far as close_square_sum,
        case when session_date = seed_session_date then seed_session_price_volume else 0 end
            + sum((high + low + close) / 3 * volume) filter (where not is_context)
                over session_so_far
            as session_price_volume,
        case when session_date = seed_session_date then seed_session_volume else 0 end
            + sum(volume) filter (where not is_context) over session_so_far
            as session_volume
    from dated
    window
        bars_so_far as (
            partition by symbol, timeframe order by session_date, ts
            rows between unbounded preceding and current row
        ),
        session_so_far as (
            partition by symbol, timeframe, session_date order by ts
            rows between unbounded preceding and current row
        )
),

windowed as (
    select
        *,
        close_sum - coalesce(lag(close_sum, 20) over last_20_bars, 0) as close_sum_20,
        close_square_sum - coalesce(lag(close_square_sum, 20) over last_20_bars, 0)
            as close_square_sum_20,
        close_sum - coalesce(lag(close_sum, 50) over last_20_bars, 0) as close_sum_50,
        stddev_samp(log_return) over last_20_bars as log_return_stddev_20,
        count(log_return) over last_20_bars as log_return_count_20
    from running
    window
        last_20_bars as (
            partition by symbol, timeframe order by session_date, ts
            rows between 19 preceding and current row
        )
),

{#- Mean and population variance as avg() and var_pop() compute them from exact sums. -#}
averages as (
    select
        *,
        cast({{ indicator_state_value('state', 'bar_number') }} as bigint) as bar_number,
        {% for name in state_averages -%}
        {{ indicator_state_value('state', name) }} as {{ name }},
        {% endfor -%}
        close_sum_20 / 20 as close_mean_20,
        close_sum_50 / 50 as close_mean_50,
        sqrt(
            greatest(20 * close_square_sum_20 - close_sum_20 * close_sum_20, 0) / 400
        ) as close_stddev_20
    from windowed
    where not is_context
    offset 0
),

indicators as (
    select
        symbol,
        timeframe,
        ts,
        open,
        high,
        low,
        close,
        volume,
        bar_ingested_at,
        bar_number,
        session_date,
        session_price_volume,
        session_volume,
        case when bar_number >= 20 then close_mean_20 end as sma_20,
        case when bar_number >= 50 then close_mean_50 end as sma_50,
        ema_12,
        ema_26,
        avg_gain_14,
        avg_loss_14,
        case
            when avg_gain_14 + avg_loss_14 = 0 then 0
            else 100 * (avg_gain_14 / (avg_gain_14 + avg_loss_14))
        end as rsi_14,
        macd_fast_ema,
        case when macd_signal is not null then macd_fast_ema - ema_26 end as macd,
        macd_signal,
        macd_fast_ema - ema_26 - macd_signal as macd_hist,
        case when bar_number >= 20 then close_mean_20 end as bb_middle_20,
        case when bar_number >= 20 then close_mean_20 + 2 * close_stddev_20 end as bb_upper_20,
        case when bar_number >= 20 then close_mean_20 - 2 * close_stddev_20 end as bb_lower_20,
        atr_14,
        session_price_volume / nullif(session_volume, 0) as vwap,
        simple_return as return_1,
        log_return as log_return_1,
        case when log_return_count_20 = 20 then log_return_stddev_20 end as volatility_20
    from averages
    offset 0
),

flagged as (
    select
        *,
        (
            sma_20 is not null
            and sma_50 is not null
            and ema_12 is not null
            and ema_26 is not null
            and rsi_14 is not null
            and macd is not null
            and macd_signal is not null
            and macd_hist is not null
            and bb_middle_20 is not null
            and bb_upper_20 is not null
            and bb_lower_20 is not null
            and atr_14 is not null
            and vwap is not null
            and return_1 is not null
            and log_return_1 is not null
            and volatility_20 is not null
        ) as is_warm,
        cast('{{ run_started_at.isoformat() }}' as timestamptz) as computed_at
    from indicators
)

select * from flagged
