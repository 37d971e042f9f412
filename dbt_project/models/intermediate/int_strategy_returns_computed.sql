with

position_history as (
    select
        strategy,
        symbol,
        filled_at,
        fill_number,
        position_qty,
        avg_cost,
        cumulative_realized_pl
    from {{ ref('int_strategy_positions_accumulated') }}
),

daily_marks as (
    select
        symbol,
        market_date,
        close
    from {{ ref('int_daily_marks_selected') }}
),

account_snapshots as (
    select
        snapshot_at,
        equity
    from {{ ref('stg_alpaca__account_snapshots') }}
),

trading_days as (
    select distinct cast(snapshot_at at time zone 'America/New_York' as date) as market_date
    from account_snapshots
),

starting_capital as (
    select equity as capital
    from account_snapshots
    order by snapshot_at asc
    limit 1
),

strategy_symbols as (
    select
        strategy,
        symbol,
        min(cast(filled_at at time zone 'America/New_York' as date)) as first_fill_date
    from position_history
    group by strategy, symbol
),

strategy_first_days as (
    select
        strategy,
        min(first_fill_date) as first_fill_date
    from strategy_symbols
    group by strategy
),

strategy_symbol_days as (
    select
        strategy_symbols.strategy,
        strategy_symbols.symbol,
        trading_days.market_date,
        cast(trading_days.market_date + 1 as timestamp) at time zone 'America/New_York'
            as day_end_at
    from strategy_symbols
    inner join strategy_first_days
        on strategy_symbols.strategy = strategy_first_days.strategy
    inner join trading_days
        on trading_days.market_date >= strategy_first_days.first_fill_date
),

states_at_day_end as (
    select
        strategy_symbol_days.strategy,
        strategy_symbol_days.symbol,
        strategy_symbol_days.market_date,
        coalesce(last_fill.fill_number, 0) as fill_count,
        coalesce(last_fill.position_qty, 0) as position_qty,
        last_fill.avg_cost,
        coalesce(last_fill.cumulative_realized_pl, 0) as realized_pl,
        last_mark.close as mark_price
    from strategy_symbol_days
    left join lateral (
        select
            position_history.fill_number,
            position_history.position_qty,
            position_history.avg_cost,
            position_history.cumulative_realized_pl
        from position_history
        where
            position_history.strategy = strategy_symbol_days.strategy
            and position_history.symbol = strategy_symbol_days.symbol
            and position_history.filled_at < strategy_symbol_days.day_end_at
        order by position_history.fill_number desc
        limit 1
    ) as last_fill on true
    left join lateral (
        select daily_marks.close
        from daily_marks
        where
            daily_marks.symbol = strategy_symbol_days.symbol
            and daily_marks.market_date <= strategy_symbol_days.market_date
        order by daily_marks.market_date desc
        limit 1
    ) as last_mark on true
),

valued as (
    select
        *,
        case
            when position_qty = 0 then 0
            else position_qty * (coalesce(mark_price, avg_cost) - avg_cost)
        end as unrealized_pl
    from states_at_day_end
),

strategy_days as (
    select
        valued.strategy,
        valued.market_date,
        starting_capital.capital,
        sum(valued.realized_pl) as realized_pl,
        sum(valued.unrealized_pl) as unrealized_pl,
        sum(valued.fill_count) as fill_count,
        count(*) filter (where valued.position_qty <> 0) as open_position_count
    from valued
    cross join starting_capital
    group by valued.strategy, valued.market_date, starting_capital.capital
),

with_equity as (
    select
        *,
        capital + realized_pl + unrealized_pl as equity
    from strategy_days
),

with_previous as (
    select
        *,
        coalesce(
            lag(equity) over (partition by strategy order by market_date), capital
        ) as previous_equity,
        fill_count - coalesce(
            lag(fill_count) over (partition by strategy order by market_date), 0
        ) as new_fill_count
    from with_equity
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(market_date as date) as market_date,
        cast(capital as numeric) as capital,
        cast(realized_pl as numeric) as realized_pl,
        cast(unrealized_pl as numeric) as unrealized_pl,
        cast(equity as numeric) as equity,
        cast(previous_equity as numeric) as previous_equity,
        cast(equity / nullif(previous_equity, 0) - 1 as numeric) as daily_return,
        cast(new_fill_count as bigint) as fill_count,
        cast(open_position_count as bigint) as open_position_count,
        cast(open_position_count > 0 or new_fill_count > 0 as boolean) as is_in_market
    from with_previous
)

select * from final
