{{ config(materialized='view') }}

with

shadow_decisions as (
    select
        strategy,
        symbol,
        timeframe,
        as_of,
        decision_at,
        equity
    from {{ ref('shadow_decisions') }}
),

shadow_fills as (
    select
        strategy,
        symbol,
        fill_number,
        filled_at,
        signed_qty,
        price,
        position_qty
    from {{ ref('shadow_fills') }}
),

bars as (
    select
        symbol,
        timeframe,
        ts,
        close
    from {{ ref('stg_alpaca__bars') }}
),

{#- A book starts with the account's equity at its first recorded decision that had one. #}
books as (
    select
        strategy,
        (array_agg(timeframe order by as_of desc))[1] as timeframe,
        min(decision_at) as started_at,
        (array_agg(equity order by as_of) filter (where equity is not null))[1] as starting_equity
    from shadow_decisions
    group by strategy
),

book_symbols as (
    select distinct
        strategy,
        symbol
    from shadow_decisions
),

grid as (
    select distinct
        books.strategy,
        books.starting_equity,
        bars.ts
    from books
    inner join book_symbols
        on books.strategy = book_symbols.strategy
    inner join bars
        on
            book_symbols.symbol = bars.symbol
            and books.timeframe = bars.timeframe
            and bars.ts >= books.started_at
    where books.starting_equity is not null
),

{#- The last fill of each symbol at a bar start holds the position from that bar on. #}
positions_at as (
    select distinct on (strategy, symbol, filled_at)
        strategy,
        symbol,
        filled_at,
        position_qty
    from shadow_fills
    order by strategy asc, symbol asc, filled_at asc, fill_number desc
),

cash_flows as (
    select
        strategy,
        filled_at,
        count(*) as fill_count,
        -sum(signed_qty * price) as cash_flow
    from shadow_fills
    group by strategy, filled_at
),

symbol_bars as (
    select
        grid.strategy,
        grid.ts,
        book_symbols.symbol,
        symbol_closes.close,
        positions_at.position_qty
    from grid
    inner join book_symbols
        on grid.strategy = book_symbols.strategy
    inner join books
        on grid.strategy = books.strategy
    left join bars as symbol_closes
        on
            book_symbols.symbol = symbol_closes.symbol
            and books.timeframe = symbol_closes.timeframe
            and grid.ts = symbol_closes.ts
    left join positions_at
        on
            grid.strategy = positions_at.strategy
            and book_symbols.symbol = positions_at.symbol
            and grid.ts = positions_at.filled_at
),

{#- A symbol without a bar at a bar start keeps its last close and position. #}
symbol_groups as (
    select
        *,
        count(close) over symbol_so_far as close_group,
        count(position_qty) over symbol_so_far as position_group
    from symbol_bars
    window symbol_so_far as (
        partition by strategy, symbol order by ts rows between unbounded preceding and current row
    )
),

symbols_carried as (
    select
        strategy,
        ts,
        symbol,
        max(close) over (partition by strategy, symbol, close_group) as close,
        coalesce(max(position_qty) over (partition by strategy, symbol, position_group), 0)
            as position_qty
    from symbol_groups
),

book_values as (
    select
        strategy,
        ts,
        coalesce(sum(position_qty * close), 0) as position_value,
        count(*) filter (where position_qty <> 0) as open_positions
    from symbols_carried
    group by strategy, ts
),

with_cash as (
    select
        grid.strategy,
        grid.ts,
        grid.starting_equity,
        grid.starting_equity + coalesce(
            sum(cash_flows.cash_flow) over (
                partition by grid.strategy order by grid.ts
                rows between unbounded preceding and current row
            ),
            0
        ) as cash,
        book_values.position_value,
        book_values.open_positions,
        coalesce(cash_flows.fill_count, 0) as fill_count
    from grid
    inner join book_values
        on grid.strategy = book_values.strategy and grid.ts = book_values.ts
    left join cash_flows
        on grid.strategy = cash_flows.strategy and grid.ts = cash_flows.filled_at
),

with_equity as (
    select
        *,
        cash + position_value as equity
    from with_cash
),

with_peaks as (
    select
        *,
        greatest(
            starting_equity,
            max(equity) over (
                partition by strategy order by ts rows between unbounded preceding and current row
            )
        ) as peak_equity
    from with_equity
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(ts as timestamptz) as ts,
        cast((ts at time zone 'America/New_York') as date) as market_date,
        cast(starting_equity as numeric) as starting_equity,
        cast(cash as numeric) as cash,
        cast(position_value as numeric) as position_value,
        cast(equity as numeric) as equity,
        cast(open_positions as bigint) as open_positions,
        cast(fill_count as bigint) as fill_count,
        cast(peak_equity as numeric) as peak_equity,
        cast(equity / nullif(peak_equity, 0) - 1 as double precision) as drawdown
    from with_peaks
)

select * from final
