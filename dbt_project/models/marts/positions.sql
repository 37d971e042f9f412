with

position_history as (
    select
        symbol,
        fill_number,
        filled_at,
        position_qty,
        avg_cost
    from {{ ref('int_positions_accumulated') }}
),

latest_per_symbol as (
    select distinct on (symbol)
        symbol,
        fill_number,
        filled_at,
        position_qty,
        avg_cost
    from position_history
    order by symbol asc, fill_number desc
),

final as (
    select
        cast(symbol as text) as symbol,
        cast(position_qty as numeric) as qty,
        cast(avg_cost as numeric) as avg_cost,
        cast(position_qty * avg_cost as numeric) as cost_basis,
        cast(position_qty <> 0 as boolean) as is_open,
        cast(fill_number as bigint) as fill_count,
        cast(filled_at as timestamptz) as last_filled_at
    from latest_per_symbol
)

select * from final
