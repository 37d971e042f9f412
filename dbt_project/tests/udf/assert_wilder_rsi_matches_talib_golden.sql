with

closes (n, close) as (
    values
        (1, 44.34), (2, 44.09), (3, 44.15), (4, 43.61), (5, 44.33), (6, 44.83), (7, 45.10),
        (8, 45.42), (9, 45.84), (10, 46.08), (11, 45.89), (12, 46.03), (13, 45.61),
        (14, 46.28), (15, 46.28), (16, 46.00), (17, 46.03), (18, 46.41), (19, 46.22),
        (20, 45.64), (21, 46.21), (22, 46.25), (23, 45.71), (24, 46.45), (25, 45.78),
        (26, 45.35), (27, 44.03), (28, 44.18), (29, 44.22), (30, 44.57), (31, 43.42),
        (32, 42.66), (33, 43.13)
),

talib_rsi (n, rsi) as (
    values
        (15, 70.46413502109704), (16, 66.24961855355505), (17, 66.48094183471265),
        (18, 69.34685316290864), (19, 66.29471265892623), (20, 57.91502067008556),
        (21, 62.88071830996241), (22, 63.208788718287764), (23, 56.01158478954756),
        (24, 62.33992931089788), (25, 54.67097137765514), (26, 50.386815195114224),
        (27, 40.019423791313564), (28, 41.49263540422281), (29, 41.9024296784581),
        (30, 45.499497238680405), (31, 37.32277831337994), (32, 33.09048257272338),
        (33, 37.788771982057824)
),

changes as (
    select
        n,
        cast(close as double precision)
        - cast(lag(close) over (order by n) as double precision) as change
    from closes
),

smoothed as (
    select
        n,
        udf.wilder_average(case when change >= 0 then change when change < 0 then 0 end, 14, null)
            over so_far as avg_gain,
        udf.wilder_average(case when change < 0 then -change when change >= 0 then 0 end, 14, null)
            over so_far as avg_loss
    from changes
    window so_far as (order by n rows between unbounded preceding and current row)
),

computed as (
    select
        n,
        100 * (avg_gain / nullif(avg_gain + avg_loss, 0)) as rsi
    from smoothed
),

mismatches as (
    select
        computed.n,
        talib_rsi.rsi as talib_rsi,
        computed.rsi as computed_rsi
    from computed
    left join talib_rsi
        on computed.n = talib_rsi.n
    where
        (talib_rsi.rsi is null) <> (computed.rsi is null)
        or abs(talib_rsi.rsi - computed.rsi) > 1e-9
)

select * from mismatches
