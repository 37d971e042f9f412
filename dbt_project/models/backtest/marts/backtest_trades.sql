with

round_trips as (
    select
        run_id,
        trial,
        strategy,
        symbol,
        step,
        entry_decision_ts,
        entry_bar_number,
        entry_at,
        entry_price,
        entry_fees,
        exit_decision_ts,
        exit_bar_number,
        exit_at,
        exit_price,
        exit_fees,
        exit_reason,
        held_through_bar_number,
        quantity,
        is_open
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

{#- Not materialized: the lateral range below then uses the index on (run_id, symbol, bar_number). #}
bars as not materialized (
    select
        run_id,
        symbol,
        bar_number,
        bar_end_at,
        low,
        high,
        close,
        next_bar_number
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

last_bars as (
    select
        run_id,
        symbol,
        close as last_close,
        bar_end_at as last_marked_at
    from bars
    where next_bar_number is null
),

{#- The bars each round trip held: from its entry bar through the last bar it was held in (a leg fills inside its bar, a signal's exit at the next bar's open), or to the end; an index range per trip. #}
held as (
    select
        round_trips.*,
        excursions.lowest_low,
        excursions.highest_high,
        excursions.bars_held
    from round_trips
    cross join lateral (
        select
            min(bars.low) as lowest_low,
            max(bars.high) as highest_high,
            count(*) as bars_held
        from bars
        where
            bars.run_id = round_trips.run_id
            and bars.symbol = round_trips.symbol
            and bars.bar_number >= round_trips.entry_bar_number
            and bars.bar_number <= coalesce(
                round_trips.held_through_bar_number, 9223372036854775807
            )
    ) as excursions
),

valued as (
    select
        held.*,
        row_number() over (
            partition by held.trial, held.symbol order by held.step
        ) as trade_number,
        case when held.is_open then last_bars.last_marked_at else held.exit_at end as closing_at,
        case when held.is_open then last_bars.last_close else held.exit_price end as closing_price,
        held.entry_fees + coalesce(held.exit_fees, 0) as fees
    from held
    inner join last_bars
        on
            held.run_id = last_bars.run_id
            and held.symbol = last_bars.symbol
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(trade_number as bigint) as trade_number,
        cast(entry_decision_ts as timestamptz) as entry_decision_ts,
        cast(entry_at as timestamptz) as entry_at,
        trim_scale(cast(entry_price as numeric)) as entry_price,
        cast(exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(closing_at as timestamptz) as exit_at,
        trim_scale(cast(closing_price as numeric)) as exit_price,
        trim_scale(cast(quantity as numeric)) as quantity,
        trim_scale(cast(fees as numeric)) as fees,
        trim_scale(cast(quantity * (closing_price - entry_price) - fees as numeric)) as pnl,
        cast((quantity * (closing_price - entry_price) - fees) / (quantity * entry_price)
            as double precision) as return,
        cast(bars_held as bigint) as bars_held,
        cast(case when is_open then 'open' else exit_reason end as text) as exit_reason,
        cast(lowest_low / entry_price - 1 as double precision) as mae,
        cast(highest_high / entry_price - 1 as double precision) as mfe
    from valued
)

select * from final
