with

fills as (
    select
        fill_id,
        strategy,
        symbol,
        signed_qty,
        price,
        filled_at,
        is_bracket_exit
    from {{ ref('int_fills_attributed') }}
),

accumulated as (
    select
        *,
        row_number() over fills_so_far as fill_number,
        sum(signed_qty) over fills_so_far as position_qty,
        udf.average_cost(signed_qty, price) over fills_so_far as avg_cost
    from fills
    window fills_so_far as (
        partition by strategy, symbol order by filled_at, fill_id
        rows between unbounded preceding and current row
    )
),

with_previous_state as (
    select
        *,
        position_qty - signed_qty as previous_qty,
        lag(avg_cost) over (partition by strategy, symbol order by fill_number) as previous_avg_cost
    from accumulated
),

closing_quantities as (
    select
        *,
        case
            when sign(signed_qty) = -sign(previous_qty)
                then least(abs(signed_qty), abs(previous_qty))
            else 0
        end as closed_qty
    from with_previous_state
),

realized as (
    select
        *,
        case
            when closed_qty > 0
                then closed_qty * (price - previous_avg_cost) * sign(previous_qty)
            else 0
        end as realized_pl,
        closed_qty > 0
        and (position_qty = 0 or sign(position_qty) <> sign(previous_qty)) as closes_round_trip
    from closing_quantities
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
        ) as round_trip_number,
        sum(realized_pl) over (
            partition by strategy, symbol order by fill_number
            rows between unbounded preceding and current row
        ) as cumulative_realized_pl
    from realized
),

final as (
    select
        fill_id,
        strategy,
        symbol,
        filled_at,
        signed_qty,
        price,
        fill_number,
        previous_qty,
        previous_avg_cost,
        position_qty,
        avg_cost,
        closed_qty,
        realized_pl,
        cumulative_realized_pl,
        round_trip_number,
        closes_round_trip,
        is_bracket_exit
    from round_trips
)

select * from final
