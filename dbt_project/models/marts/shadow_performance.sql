{{ config(materialized='view') }}

with

shadow_decisions as (
    select
        strategy,
        as_of,
        side,
        is_approved
    from {{ ref('shadow_decisions') }}
),

shadow_equity as (
    select
        strategy,
        ts,
        market_date,
        starting_equity,
        equity,
        open_positions,
        fill_count
    from {{ ref('shadow_equity') }}
),

shadow_fills as (
    select
        strategy,
        symbol,
        round_trip_number,
        realized_pl,
        closes_round_trip
    from {{ ref('shadow_fills') }}
),

record as (
    select
        strategy,
        min(as_of) as first_decision_at,
        max(as_of) as last_decision_at,
        count(distinct as_of) as decision_time_count,
        count(side) as order_count,
        count(side) filter (where is_approved) as approved_order_count
    from shadow_decisions
    group by strategy
),

{#- Each New York day's last bar, as marts.strategy_performance takes each day's last snapshot. #}
daily_equity as (
    select
        strategy,
        market_date,
        starting_equity,
        (array_agg(equity order by ts desc))[1] as equity,
        (array_agg(open_positions order by ts desc))[1] > 0 or sum(fill_count) > 0 as is_in_market
    from shadow_equity
    group by strategy, market_date, starting_equity
),

daily_series as (
    select
        strategy,
        market_date,
        equity,
        coalesce(
            lag(equity) over (partition by strategy order by market_date), starting_equity
        ) as previous_equity,
        equity / nullif(
            coalesce(lag(equity) over (partition by strategy order by market_date), starting_equity),
            0
        ) - 1 as daily_return,
        is_in_market
    from daily_equity
),

{{ series_performance('daily_series', ['strategy']) }}

round_trip_results as (
    select
        strategy,
        symbol,
        round_trip_number,
        sum(realized_pl) as trade_pl
    from shadow_fills
    group by strategy, symbol, round_trip_number
    having bool_or(closes_round_trip)
),

trade_statistics as (
    {{ round_trip_statistics('round_trip_results', ['strategy'], 'trade_pl') }}
),

final as (
    select
        cast(record.strategy as text) as strategy,
        cast(record.first_decision_at as timestamptz) as first_decision_at,
        cast(record.last_decision_at as timestamptz) as last_decision_at,
        cast(record.decision_time_count as bigint) as decision_time_count,
        cast(record.order_count as bigint) as order_count,
        cast(record.approved_order_count as bigint) as approved_order_count,
        cast(series_metrics.start_date as date) as start_date,
        cast(series_metrics.end_date as date) as end_date,
        cast(series_metrics.day_count as bigint) as day_count,
        cast(series_metrics.starting_equity as numeric) as starting_equity,
        cast(series_metrics.ending_equity as numeric) as ending_equity,
        cast(series_metrics.total_return as double precision) as total_return,
        cast(series_metrics.cagr as double precision) as cagr,
        cast(series_metrics.annual_volatility as double precision) as annual_volatility,
        cast(series_metrics.sharpe_ratio as double precision) as sharpe_ratio,
        cast(series_metrics.sortino_ratio as double precision) as sortino_ratio,
        cast(series_metrics.max_drawdown as double precision) as max_drawdown,
        cast(series_metrics.max_drawdown_start_date as date) as max_drawdown_start_date,
        cast(series_metrics.max_drawdown_end_date as date) as max_drawdown_end_date,
        cast(series_metrics.time_in_market as double precision) as time_in_market,
        cast(coalesce(trade_statistics.trade_count, 0) as bigint) as trade_count,
        cast(trade_statistics.win_rate as double precision) as win_rate,
        cast(trade_statistics.profit_factor as double precision) as profit_factor
    from record
    left join series_metrics
        on record.strategy = series_metrics.strategy
    left join trade_statistics
        on record.strategy = trade_statistics.strategy
)

select * from final
