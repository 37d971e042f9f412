{#- A view: the paper book is read from the record and the bars whenever it is queried. -#}
{{ config(materialized='view') }}

with

shadow_decisions as (
    select
        strategy,
        symbol,
        timeframe,
        as_of,
        decision_at,
        decision_id,
        client_order_id,
        side,
        qty,
        is_approved
    from {{ ref('shadow_decisions') }}
),

bars as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        open
    from {{ ref('stg_alpaca__bars') }}
),

paper_orders as (
    {{ shadow_paper_orders('shadow_decisions', 'bars') }}
),

filled as (
    select *
    from paper_orders
    where filled_at is not null
),

accumulated as (
    {{ shadow_positions_accumulated('filled') }}
),

round_trips as (
    select
        *,
        1 + coalesce(
            sum(case when closes_round_trip then 1 else 0 end) over (
                partition by strategy, symbol order by fill_number
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as round_trip_number
    from accumulated
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(fill_number as bigint) as fill_number,
        cast(timeframe as text) as timeframe,
        cast(order_id as uuid) as decision_id,
        cast(client_order_id as text) as client_order_id,
        cast(ordered_at as timestamptz) as decided_at,
        cast(filled_at as timestamptz) as filled_at,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast(price as numeric) as price,
        cast(signed_qty as numeric) as signed_qty,
        cast(position_qty as numeric) as position_qty,
        cast(avg_cost as numeric) as avg_cost,
        cast(closed_qty as numeric) as closed_qty,
        cast(realized_pl as numeric) as realized_pl,
        cast(round_trip_number as bigint) as round_trip_number,
        cast(closes_round_trip as boolean) as closes_round_trip
    from round_trips
)

select * from final
