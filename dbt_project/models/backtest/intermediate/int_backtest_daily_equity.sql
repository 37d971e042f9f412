with

runs as (
    select
        run_id,
        mode,
        initial_cash
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

trials as (
    select
        run_id,
        trial
    from {{ ref('stg_trading__backtest_trials') }}
    where {{ backtest_run_filter('run_id') }}
),

bars as (
    select
        run_id,
        symbol,
        ts,
        close,
        next_bar_number,
        cast(ts at time zone 'America/New_York' as date) as market_date
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

days as (
    select distinct
        run_id,
        market_date
    from bars
),

{#- A portfolio run is one account: its total is the sum of its symbols, not their average. #}
book_counts as (
    select
        bars.run_id,
        case when max(runs.mode) = 'portfolio' then 1 else count(*) end as book_count
    from bars
    inner join runs
        on bars.run_id = runs.run_id
    where bars.next_bar_number is null
    group by bars.run_id
),

day_closes as (
    select distinct on (run_id, symbol, market_date)
        run_id,
        symbol,
        market_date,
        close
    from bars
    order by run_id, symbol, market_date, ts desc
),

{#- Every symbol on every day of the run, carrying its last close over a day it has no bar. #}
symbol_days as (
    select
        days.run_id,
        symbols.symbol,
        days.market_date,
        day_closes.close,
        count(day_closes.close) over symbol_series as close_group
    from days
    inner join (select distinct run_id, symbol from bars) as symbols
        on days.run_id = symbols.run_id
    left join day_closes
        on
            days.run_id = day_closes.run_id
            and symbols.symbol = day_closes.symbol
            and days.market_date = day_closes.market_date
    window symbol_series as (partition by days.run_id, symbols.symbol order by days.market_date)
),

marks as (
    select
        run_id,
        symbol,
        market_date,
        first_value(close) over (
            partition by run_id, symbol, close_group order by market_date
        ) as close
    from symbol_days
),

round_trips as (
    select
        run_id,
        trial,
        symbol,
        quantity,
        -(quantity * entry_price + entry_fees) as entry_cash_change,
        quantity * exit_price - exit_fees as exit_cash_change,
        cast(entry_at at time zone 'America/New_York' as date) as entry_date,
        cast(exit_at at time zone 'America/New_York' as date) as exit_date
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

fills as (
    select
        run_id,
        trial,
        entry_date as market_date,
        entry_cash_change as cash_change
    from round_trips
    union all
    select
        run_id,
        trial,
        exit_date as market_date,
        exit_cash_change as cash_change
    from round_trips
    where exit_date is not null
),

fills_per_day as (
    select
        run_id,
        trial,
        market_date,
        sum(cash_change) as cash_change,
        count(*) as fill_count
    from fills
    group by run_id, trial, market_date
),

{#- The positions held at each day's end (entered that day or before, not yet exited), at that day's close. #}
held_per_day as (
    select
        round_trips.run_id,
        round_trips.trial,
        marks.market_date,
        sum(round_trips.quantity * marks.close) as position_value,
        count(*) as open_positions
    from round_trips
    inner join marks
        on
            round_trips.run_id = marks.run_id
            and round_trips.symbol = marks.symbol
            and marks.market_date >= round_trips.entry_date
            and (round_trips.exit_date is null or marks.market_date < round_trips.exit_date)
    group by round_trips.run_id, round_trips.trial, marks.market_date
),

{#- The run's total: the average book (each symbol's book starts with initial_cash), or a portfolio run's one account. #}
combined as (
    select
        trials.run_id,
        trials.trial,
        days.market_date,
        runs.initial_cash,
        book_counts.book_count,
        sum(coalesce(fills_per_day.cash_change, 0)) over trial_days as cash_change,
        coalesce(held_per_day.position_value, 0) as position_value,
        coalesce(held_per_day.open_positions, 0) as open_positions,
        coalesce(fills_per_day.fill_count, 0) as fill_count
    from trials
    inner join runs
        on trials.run_id = runs.run_id
    inner join book_counts
        on trials.run_id = book_counts.run_id
    inner join days
        on trials.run_id = days.run_id
    left join fills_per_day
        on
            trials.run_id = fills_per_day.run_id
            and trials.trial = fills_per_day.trial
            and days.market_date = fills_per_day.market_date
    left join held_per_day
        on
            trials.run_id = held_per_day.run_id
            and trials.trial = held_per_day.trial
            and days.market_date = held_per_day.market_date
    window trial_days as (
        partition by trials.run_id, trials.trial order by days.market_date
        rows between unbounded preceding and current row
    )
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(market_date as date) as market_date,
        trim_scale(cast(initial_cash + (cash_change + position_value) / book_count as numeric))
            as equity,
        trim_scale(cast(initial_cash + cash_change / book_count as numeric)) as cash,
        trim_scale(cast(position_value / book_count as numeric)) as position_value,
        cast(open_positions as bigint) as open_positions,
        cast(fill_count as bigint) as fill_count
    from combined
)

select * from final
