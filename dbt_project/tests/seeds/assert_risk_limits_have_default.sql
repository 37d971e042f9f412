with

risk_limits as (
    select symbol
    from {{ ref('risk_limits') }}
),

default_rows as (
    select count(*) as row_count
    from risk_limits
    where symbol = '*'
)

select * from default_rows
where row_count <> 1
