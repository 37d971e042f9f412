with

account_snapshots as (
    select
        snapshot_at,
        equity,
        cash
    from {{ ref('stg_alpaca__account_snapshots') }}
),

position_snapshots as (
    select
        snapshot_at,
        symbol,
        market_value
    from {{ ref('stg_alpaca__position_snapshots') }}
),

fills as (
    select filled_at
    from {{ ref('stg_alpaca__fills') }}
),

starting_equity as (
    select equity
    from account_snapshots
    order by snapshot_at asc
    limit 1
),

last_snapshot_per_day as (
    select distinct on (cast(snapshot_at at time zone 'America/New_York' as date))
        cast(snapshot_at at time zone 'America/New_York' as date) as market_date,
        snapshot_at,
        equity,
        cash
    from account_snapshots
    order by cast(snapshot_at at time zone 'America/New_York' as date) asc, snapshot_at desc
),

exposures as (
    select
        snapshot_at,
        count(*) as position_count,
        sum(abs(market_value)) as gross_exposure,
        sum(market_value) as net_exposure
    from position_snapshots
    group by snapshot_at
),

fills_per_day as (
    select
        cast(filled_at at time zone 'America/New_York' as date) as market_date,
        count(*) as fill_count
    from fills
    group by cast(filled_at at time zone 'America/New_York' as date)
),

days as (
    select
        last_snapshot_per_day.market_date,
        last_snapshot_per_day.snapshot_at,
        last_snapshot_per_day.equity,
        last_snapshot_per_day.cash,
        coalesce(
            lag(last_snapshot_per_day.equity) over (order by last_snapshot_per_day.market_date),
            starting_equity.equity
        ) as previous_equity,
        coalesce(exposures.gross_exposure, 0) as gross_exposure,
        coalesce(exposures.net_exposure, 0) as net_exposure,
        coalesce(exposures.position_count, 0) as position_count,
        coalesce(fills_per_day.fill_count, 0) as fill_count
    from last_snapshot_per_day
    cross join starting_equity
    left join exposures
        on last_snapshot_per_day.snapshot_at = exposures.snapshot_at
    left join fills_per_day
        on last_snapshot_per_day.market_date = fills_per_day.market_date
),

final as (
    select
        cast(market_date as date) as market_date,
        cast(snapshot_at as timestamptz) as snapshot_at,
        cast(equity as numeric) as equity,
        cast(cash as numeric) as cash,
        cast(previous_equity as numeric) as previous_equity,
        cast(equity - previous_equity as numeric) as daily_pl,
        cast(equity / nullif(previous_equity, 0) - 1 as numeric) as daily_return,
        cast(gross_exposure as numeric) as gross_exposure,
        cast(net_exposure as numeric) as net_exposure,
        cast(gross_exposure / nullif(equity, 0) as numeric) as gross_exposure_ratio,
        cast(net_exposure / nullif(equity, 0) as numeric) as net_exposure_ratio,
        cast(position_count as bigint) as position_count,
        cast(fill_count as bigint) as fill_count,
        cast(position_count > 0 or fill_count > 0 as boolean) as is_in_market
    from days
)

select * from final
