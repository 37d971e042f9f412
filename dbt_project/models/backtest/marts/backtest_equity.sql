with

runs as (
    select
        run_id,
        initial_cash
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

bars as (
    select
        run_id,
        strategy,
        symbol,
        bar_number,
        ts,
        bar_end_at,
        close
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

round_trips as (
    select
        run_id,
        symbol,
        step,
        entry_bar_number,
        exit_bar_number,
        quantity,
        cash_while_held,
        cash_after
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

entered as (
    select
        bars.*,
        max(round_trips.step) over (
            partition by bars.run_id, bars.symbol order by bars.bar_number
            rows between unbounded preceding and current row
        ) as step,
        cast(round_trips.step is not null as integer) as entry_fills
    from bars
    left join round_trips
        on
            bars.run_id = round_trips.run_id
            and bars.symbol = round_trips.symbol
            and bars.bar_number = round_trips.entry_bar_number
),

booked as (
    select
        entered.run_id,
        entered.strategy,
        entered.symbol,
        entered.bar_number,
        entered.ts,
        entered.bar_end_at,
        entered.close,
        runs.initial_cash,
        case
            when round_trips.step is null then 0
            when
                round_trips.exit_bar_number is null
                or entered.bar_number < round_trips.exit_bar_number
                then round_trips.quantity
            else 0
        end as position_qty,
        case
            when round_trips.step is null then runs.initial_cash
            when
                round_trips.exit_bar_number is null
                or entered.bar_number < round_trips.exit_bar_number
                then round_trips.cash_while_held
            else round_trips.cash_after
        end as cash,
        entered.entry_fills
        + coalesce(cast(entered.bar_number = round_trips.exit_bar_number as integer), 0)
            as fill_count
    from entered
    inner join runs
        on entered.run_id = runs.run_id
    left join round_trips
        on
            entered.run_id = round_trips.run_id
            and entered.symbol = round_trips.symbol
            and entered.step = round_trips.step
),

books as (
    select
        run_id,
        strategy,
        symbol as book,
        ts,
        bar_end_at,
        initial_cash,
        cash + position_qty * close as equity,
        cash,
        position_qty * close as position_value,
        cast(position_qty > 0 as integer) as open_positions,
        fill_count,
        bar_number
    from booked
),

{#- The run's total: the initial cash plus every book's P&L, each book carried at its last bar. #}
book_changes as (
    select
        run_id,
        strategy,
        ts,
        bar_end_at,
        initial_cash,
        equity - coalesce(lag(equity) over book_bars, initial_cash) as equity_change,
        cash - coalesce(lag(cash) over book_bars, initial_cash) as cash_change,
        position_value - coalesce(lag(position_value) over book_bars, 0) as position_value_change,
        open_positions - coalesce(lag(open_positions) over book_bars, 0) as open_positions_change,
        fill_count
    from books
    window book_bars as (partition by run_id, book order by bar_number)
),

changes_per_bar as (
    select
        run_id,
        strategy,
        ts,
        max(bar_end_at) as bar_end_at,
        max(initial_cash) as initial_cash,
        sum(equity_change) as equity_change,
        sum(cash_change) as cash_change,
        sum(position_value_change) as position_value_change,
        sum(open_positions_change) as open_positions_change,
        sum(fill_count) as fill_count
    from book_changes
    group by run_id, strategy, ts
),

totals as (
    select
        run_id,
        strategy,
        cast('total' as text) as book,
        ts,
        bar_end_at,
        initial_cash,
        initial_cash + sum(equity_change) over run_bars as equity,
        initial_cash + sum(cash_change) over run_bars as cash,
        sum(position_value_change) over run_bars as position_value,
        sum(open_positions_change) over run_bars as open_positions,
        fill_count
    from changes_per_bar
    window run_bars as (
        partition by run_id order by ts rows between unbounded preceding and current row
    )
),

all_books as (
    select
        run_id,
        strategy,
        book,
        ts,
        bar_end_at,
        initial_cash,
        equity,
        cash,
        position_value,
        open_positions,
        fill_count
    from books
    union all
    select * from totals
),

drawdowns as (
    select
        *,
        greatest(
            initial_cash,
            max(equity) over (
                partition by run_id, book order by ts
                rows between unbounded preceding and current row
            )
        ) as peak_equity
    from all_books
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(strategy as text) as strategy,
        cast(book as text) as book,
        cast(ts as timestamptz) as ts,
        cast(bar_end_at as timestamptz) as marked_at,
        trim_scale(cast(equity as numeric)) as equity,
        trim_scale(cast(cash as numeric)) as cash,
        trim_scale(cast(position_value as numeric)) as position_value,
        trim_scale(cast(position_value / nullif(equity, 0) as numeric)) as exposure,
        cast(open_positions as bigint) as open_positions,
        cast(fill_count as bigint) as fill_count,
        trim_scale(cast(peak_equity as numeric)) as peak_equity,
        trim_scale(cast(equity / nullif(peak_equity, 0) - 1 as numeric)) as drawdown
    from drawdowns
)

select * from final
