with

{#- Bar by bar for a backtest's trial (and a walk-forward fold's); a sweep keeps only its daily equity (int_backtest_daily_equity). #}
runs as (
    select
        run_id,
        mode,
        initial_cash,
        {#- A portfolio run is one account: each symbol's book holds only its own fills' cash. #}
        case when mode = 'portfolio' then 0 else initial_cash end as book_cash
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }} and kind <> 'sweep'
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
        selected.run_id,
        trials.trial,
        selected.strategy,
        selected.symbol,
        selected.bar_number,
        selected.ts,
        selected.bar_end_at,
        selected.close
    from {{ ref('int_backtest_bars_selected') }} as selected
    inner join trials
        on selected.run_id = trials.run_id
    where {{ backtest_run_filter('selected.run_id') }}
),

book_counts as (
    select
        selected.run_id,
        case when max(runs.mode) = 'portfolio' then 1 else count(*) end as book_count
    from {{ ref('int_backtest_bars_selected') }} as selected
    inner join runs
        on selected.run_id = runs.run_id
    where {{ backtest_run_filter('selected.run_id') }} and selected.next_bar_number is null
    group by selected.run_id
),

round_trips as (
    select
        run_id,
        trial,
        symbol,
        entry_bar_number,
        entry_price,
        entry_fees,
        exit_bar_number,
        exit_price,
        exit_fees,
        quantity
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

{#- Fills change a book's shares and cash, each at the open of its bar. #}
fills as (
    select
        run_id,
        trial,
        symbol,
        entry_bar_number as bar_number,
        quantity as quantity_change,
        -(quantity * entry_price + entry_fees) as cash_change
    from round_trips
    union all
    select
        run_id,
        trial,
        symbol,
        exit_bar_number as bar_number,
        -quantity as quantity_change,
        quantity * exit_price - exit_fees as cash_change
    from round_trips
    where exit_bar_number is not null
),

{#- A bracket's stop can fill in its entry's bar: one row per bar, however many fills. #}
fills_per_bar as (
    select
        run_id,
        trial,
        symbol,
        bar_number,
        sum(quantity_change) as quantity_change,
        sum(cash_change) as cash_change,
        count(*) as fill_count
    from fills
    group by run_id, trial, symbol, bar_number
),

booked as (
    select
        bars.run_id,
        bars.trial,
        bars.strategy,
        bars.symbol,
        bars.bar_number,
        bars.ts,
        bars.bar_end_at,
        bars.close,
        runs.mode,
        runs.initial_cash,
        runs.book_cash,
        sum(coalesce(fills.quantity_change, 0)) over symbol_bars as position_qty,
        runs.book_cash + sum(coalesce(fills.cash_change, 0)) over symbol_bars as cash,
        coalesce(fills.fill_count, 0) as fill_count
    from bars
    inner join runs
        on bars.run_id = runs.run_id
    left join fills_per_bar as fills
        on
            bars.run_id = fills.run_id
            and bars.trial = fills.trial
            and bars.symbol = fills.symbol
            and bars.bar_number = fills.bar_number
    window symbol_bars as (
        partition by bars.trial, bars.symbol order by bars.bar_number
        rows between unbounded preceding and current row
    )
),

valued as (
    select
        *,
        cash + position_qty * close as equity,
        position_qty * close as position_value,
        cast(position_qty > 0 as integer) as open_positions
    from booked
),

{#- In the books' own order (no new sort): each bar's change from the book's previous bar, and its running peak. #}
books as materialized (
    select
        run_id,
        trial,
        strategy,
        symbol as book,
        mode,
        ts,
        bar_end_at,
        initial_cash,
        equity,
        cash,
        position_value,
        open_positions,
        fill_count,
        greatest(book_cash, max(equity) over book_bars) as peak_equity,
        equity - coalesce(lag(equity) over book_bars, book_cash) as equity_change,
        cash - coalesce(lag(cash) over book_bars, book_cash) as cash_change,
        position_value - coalesce(lag(position_value) over book_bars, 0) as position_value_change,
        open_positions - coalesce(lag(open_positions) over book_bars, 0) as open_positions_change
    from valued
    window book_bars as (
        partition by trial, symbol order by bar_number
        rows between unbounded preceding and current row
    )
),

changes_per_bar as (
    select
        run_id,
        trial,
        strategy,
        ts,
        max(bar_end_at) as bar_end_at,
        max(initial_cash) as initial_cash,
        sum(equity_change) as equity_change,
        sum(cash_change) as cash_change,
        sum(position_value_change) as position_value_change,
        sum(open_positions_change) as open_positions_change,
        sum(fill_count) as fill_count
    from books
    group by run_id, trial, strategy, ts
),

{#- The run's total: the average book (a portfolio run's one account: the sum), each book carried at its last bar; open_positions and fill_count are counts over the books. #}
totals as (
    select
        changes_per_bar.run_id,
        changes_per_bar.trial,
        changes_per_bar.strategy,
        cast('total' as text) as book,
        changes_per_bar.ts,
        changes_per_bar.bar_end_at,
        changes_per_bar.initial_cash,
        changes_per_bar.initial_cash
        + sum(changes_per_bar.equity_change) over run_bars / book_counts.book_count as equity,
        changes_per_bar.initial_cash
        + sum(changes_per_bar.cash_change) over run_bars / book_counts.book_count as cash,
        sum(changes_per_bar.position_value_change) over run_bars / book_counts.book_count
            as position_value,
        sum(changes_per_bar.open_positions_change) over run_bars as open_positions,
        changes_per_bar.fill_count
    from changes_per_bar
    inner join book_counts
        on changes_per_bar.run_id = book_counts.run_id
    window run_bars as (
        partition by changes_per_bar.run_id, changes_per_bar.trial order by changes_per_bar.ts
        rows between unbounded preceding and current row
    )
),

all_books as (
    select
        run_id,
        trial,
        strategy,
        book,
        ts,
        bar_end_at,
        equity,
        cash,
        position_value,
        open_positions,
        fill_count,
        peak_equity
    from books
    {#- A portfolio run's symbols are not books of their own: only its account's total. #}
    where mode <> 'portfolio'
    union all
    select
        run_id,
        trial,
        strategy,
        book,
        ts,
        bar_end_at,
        equity,
        cash,
        position_value,
        open_positions,
        fill_count,
        greatest(
            initial_cash,
            max(equity) over (
                partition by run_id, trial order by ts
                rows between unbounded preceding and current row
            )
        ) as peak_equity
    from totals
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
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
    from all_books
)

select * from final
