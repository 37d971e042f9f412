with

fills (n, signed_qty, price) as (
    values
        (1, 10.0, 100.0),
        (2, -5.0, 120.0),
        (3, 5.0, 110.0),
        (4, -10.0, 90.0),
        (5, -4.0, 80.0),
        (6, 6.0, 70.0),
        (7, null, 60.0)
),

costed as (
    select
        n,
        udf.average_cost(signed_qty, price) over (
            order by n rows between unbounded preceding and current row
        ) as avg_cost
    from fills
),

expected (n, avg_cost) as (
    values
        (1, 100.0),
        (2, 100.0),
        (3, 105.0),
        (4, null),
        (5, 80.0),
        (6, 70.0),
        (7, 70.0)
),

mismatches as (
    select
        expected.n,
        expected.avg_cost as expected_avg_cost,
        costed.avg_cost as actual_avg_cost
    from expected
    left join costed
        on expected.n = costed.n
    where
        (expected.avg_cost is null) <> (costed.avg_cost is null)
        or expected.avg_cost <> costed.avg_cost
)

select * from mismatches
