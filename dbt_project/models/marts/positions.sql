with

position_history as (
    select
        strategy,
        symbol,
        fill_number,
        filled_at,
        position_qty,
        avg_cost,
        cumulative_realized_pl
    from {{ ref('int_strategy_positions_accumulated') }}
),

daily_marks as (
    select
        symbol,
        market_date,
        priced_at,
        close
    from {{ ref('int_daily_marks_selected') }}
),

latest_per_strategy_and_symbol as (
    select distinct on (strategy, symbol)
        strategy,
        symbol,
        fill_number,
        filled_at,
        position_qty,
        avg_cost,
        cumulative_realized_pl
    from position_history
    order by strategy asc, symbol asc, fill_number desc
),

latest_marks as (
    select distinct on (symbol)
        symbol,
        priced_at,
        close
    from daily_marks
    order by symbol asc, market_date desc
),

valued as (
    select
        latest_per_strategy_and_symbol.*,
        latest_marks.close as last_price,
        latest_marks.priced_at,
        case
            when latest_per_strategy_and_symbol.position_qty = 0 then 0
            else latest_per_strategy_and_symbol.position_qty * latest_marks.close
        end as market_value,
        case
            when latest_per_strategy_and_symbol.position_qty = 0 then 0
            else
                latest_per_strategy_and_symbol.position_qty
                * (latest_marks.close - latest_per_strategy_and_symbol.avg_cost)
        end as unrealized_pl
    from latest_per_strategy_and_symbol
    left join latest_marks
        on latest_per_strategy_and_symbol.symbol = latest_marks.symbol
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(position_qty as numeric) as qty,
        cast(avg_cost as numeric) as avg_cost,
        cast(position_qty * avg_cost as numeric) as cost_basis,
        cast(position_qty <> 0 as boolean) as is_open,
        cast(fill_number as bigint) as fill_count,
        cast(filled_at as timestamptz) as last_filled_at,
        cast(cumulative_realized_pl as numeric) as realized_pl,
        cast(last_price as numeric) as last_price,
        cast(priced_at as timestamptz) as priced_at,
        cast(market_value as numeric) as market_value,
        cast(unrealized_pl as numeric) as unrealized_pl,
        cast(cumulative_realized_pl + unrealized_pl as numeric) as total_pl
    from valued
)

select * from final
