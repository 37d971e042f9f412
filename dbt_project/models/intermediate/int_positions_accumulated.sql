with

fills as (
    select
        fill_id,
        symbol,
        signed_qty,
        price,
        filled_at
    from {{ ref('stg_alpaca__fills') }}
),

accumulated as (
    select
        fill_id,
        symbol,
        filled_at,
        signed_qty,
        price,
        row_number() over fills_so_far as fill_number,
        sum(signed_qty) over fills_so_far as position_qty,
        udf.average_cost(signed_qty, price) over fills_so_far as avg_cost
    from fills
    window fills_so_far as (
        partition by symbol order by filled_at, fill_id
        rows between unbounded preceding and current row
    )
)

select * from accumulated
