{#- A view: the stitched out-of-sample result of each walk-forward. -#}
{{ config(materialized='view') }}

with

walkforwards as (
    select
        run_id,
        strategy,
        objective,
        initial_cash,
        status
    from {{ ref('stg_trading__backtest_runs') }}
    where kind = 'walkforward'
),

folds as (
    select
        run_id,
        count(*) as fold_count,
        avg(in_sample_cagr) as in_sample_cagr
    from {{ ref('backtest_walkforward_folds') }}
    group by run_id
),

days as (
    select distinct on (run_id, market_date)
        run_id,
        cast(ts at time zone 'America/New_York' as date) as market_date,
        equity,
        open_positions
    from {{ ref('backtest_walkforward_equity') }}
    order by run_id, market_date, ts desc
),

fills_per_day as (
    select
        run_id,
        cast(ts at time zone 'America/New_York' as date) as market_date,
        sum(fill_count) as fill_count
    from {{ ref('backtest_walkforward_equity') }}
    group by run_id, cast(ts at time zone 'America/New_York' as date)
),

daily_series as (
    select
        days.run_id,
        days.market_date,
        days.equity,
        coalesce(lag(days.equity) over stitched, walkforwards.initial_cash) as previous_equity,
        days.equity / nullif(coalesce(lag(days.equity) over stitched, walkforwards.initial_cash), 0)
        - 1 as daily_return,
        days.open_positions > 0 or fills_per_day.fill_count > 0 as is_in_market
    from days
    inner join walkforwards
        on days.run_id = walkforwards.run_id
    inner join fills_per_day
        on days.run_id = fills_per_day.run_id and days.market_date = fills_per_day.market_date
    window stitched as (partition by days.run_id order by days.market_date)
),

{{ series_performance('daily_series', ['run_id']) }}

final as (
    select
        cast(walkforwards.run_id as uuid) as run_id,
        cast(walkforwards.strategy as text) as strategy,
        cast(walkforwards.objective as text) as objective,
        cast(walkforwards.status as text) as status,
        cast(coalesce(folds.fold_count, 0) as bigint) as fold_count,
        trim_scale(cast(walkforwards.initial_cash as numeric)) as initial_cash,
        cast(series_metrics.ending_equity as double precision) as out_of_sample_final_equity,
        cast(series_metrics.total_return as double precision) as out_of_sample_return,
        cast(series_metrics.cagr as double precision) as out_of_sample_cagr,
        cast(series_metrics.sharpe_ratio as double precision) as out_of_sample_sharpe,
        cast(series_metrics.max_drawdown as double precision) as out_of_sample_max_drawdown,
        cast(folds.in_sample_cagr as double precision) as in_sample_cagr,
        cast(series_metrics.cagr / nullif(folds.in_sample_cagr, 0) as double precision)
            as walk_forward_efficiency
    from walkforwards
    left join folds
        on walkforwards.run_id = folds.run_id
    left join series_metrics
        on walkforwards.run_id = series_metrics.run_id
)

select * from final
