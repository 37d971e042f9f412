with

inputs (n, value) as (
    values
        (1, 1.0),
        (2, 2.0),
        (3, 3.0),
        (4, 4.0),
        (5, null),
        (6, 8.0)
),

smoothed as (
    select
        n,
        udf.wilder_average(value, 3, null) over (
            order by n rows between unbounded preceding and current row
        ) as wilder
    from inputs
),

expected (n, wilder) as (
    values
        (1, null),
        (2, null),
        (3, 2.0),
        (4, 8.0 / 3),
        (5, 8.0 / 3),
        (6, 40.0 / 9)
),

mismatches as (
    select
        expected.n,
        expected.wilder as expected_wilder,
        smoothed.wilder as actual_wilder
    from expected
    left join smoothed
        on expected.n = smoothed.n
    where
        (expected.wilder is null) <> (smoothed.wilder is null)
        or abs(expected.wilder - smoothed.wilder) > 1e-12
)

select * from mismatches
