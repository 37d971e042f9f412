with

round_trips as (
    select
        run_id,
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
        quantity,
        is_open
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

bars as (
    select
        run_id,
        symbol,
        bar_number,
        bar_end_at,
        low,
        high,
        close
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- Each bar with the round trip it belongs to: the latest entered at or before it, held until its exit bar (entries and exits follow each other, so running maxima find it). #}
entered_bars as (
    select
        bars.run_id,
        bars.symbol,
        bars.bar_number,
        bars.low,
        bars.high,
        round_trips.strategy,
        round_trips.entry_decision_ts,
        round_trips.entry_at,
        round_trips.entry_price,
        round_trips.entry_fees,
        round_trips.exit_decision_ts,
        round_trips.exit_at,
        round_trips.exit_price,
        round_trips.exit_fees,
        round_trips.quantity,
        round_trips.is_open,
        max(round_trips.step) over symbol_bars as held_step,
        max(
            case
                when round_trips.step is not null
                    then coalesce(round_trips.exit_bar_number, 9223372036854775807)
            end
        ) over symbol_bars as held_until,
        last_value(bars.close) over symbol_series as last_close,
        last_value(bars.bar_end_at) over symbol_series as last_marked_at
    from bars
    left join round_trips
        on
            bars.run_id = round_trips.run_id
            and bars.symbol = round_trips.symbol
            and bars.bar_number = round_trips.entry_bar_number
    window
        symbol_bars as (
            partition by bars.symbol order by bars.bar_number
            rows between unbounded preceding and current row
        ),
        symbol_series as (
            partition by bars.symbol order by bars.bar_number
            rows between unbounded preceding and unbounded following
        )
),

{#- One row per round trip: its fields come from its entry bar (null on the others), the excursions from the bars held. #}
held as (
    select
        run_id,
        symbol,
        held_step as step,
        max(strategy) as strategy,
        max(entry_decision_ts) as entry_decision_ts,
        max(entry_at) as entry_at,
        max(entry_price) as entry_price,
        max(entry_fees) as entry_fees,
        max(exit_decision_ts) as exit_decision_ts,
        max(exit_at) as exit_at,
        max(exit_price) as exit_price,
        max(exit_fees) as exit_fees,
        max(quantity) as quantity,
        bool_or(is_open) as is_open,
        min(low) as lowest_low,
        max(high) as highest_high,
        count(*) as bars_held,
        max(last_close) as last_close,
        max(last_marked_at) as last_marked_at
    from entered_bars
    where held_step is not null and bar_number < held_until
    group by run_id, symbol, held_step
),

valued as (
    select
        *,
        row_number() over (partition by symbol order by step) as trade_number,
        case when is_open then last_marked_at else exit_at end as closing_at,
        case when is_open then last_close else exit_price end as closing_price,
        entry_fees + coalesce(exit_fees, 0) as fees
    from held
),

final as (
    select
        cast(run_id as uuid) as run_id,
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
        cast(case when is_open then 'open' else 'signal' end as text) as exit_reason,
        cast(lowest_low / entry_price - 1 as double precision) as mae,
        cast(highest_high / entry_price - 1 as double precision) as mfe
    from valued
)

select * from final
