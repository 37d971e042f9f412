with

account_snapshots as (
    select
        snapshot_at,
        equity,
        cash,
        long_market_value
    from {{ ref('stg_alpaca__account_snapshots') }}
),

running_peak as (
    select
        *,
        max(equity) over (order by snapshot_at rows between unbounded preceding and current row)
            as peak_equity
    from account_snapshots
),

final as (
    select
        cast(snapshot_at as timestamptz) as snapshot_at,
        cast(equity as numeric) as equity,
        cast(cash as numeric) as cash,
        cast(long_market_value as numeric) as long_market_value,
        cast(peak_equity as numeric) as peak_equity,
        cast(equity / nullif(peak_equity, 0) - 1 as numeric) as drawdown
    from running_peak
)

select * from final
