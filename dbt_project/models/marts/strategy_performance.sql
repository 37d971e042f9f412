with

strategy_returns as (
    select
        strategy,
        market_date,
        equity,
        previous_equity,
        daily_return,
        is_in_market
    from {{ ref('int_strategy_returns_computed') }}
),

portfolio_daily as (
    select
        market_date,
        equity,
        previous_equity,
        daily_return,
        is_in_market
    from {{ ref('portfolio_daily') }}
),

position_history as (
    select
        strategy,
        symbol,
        filled_at,
        round_trip_number,
        realized_pl,
        closes_round_trip
    from {{ ref('int_strategy_positions_accumulated') }}
),

daily_series as (
    select * from strategy_returns
    union all
    select
        'portfolio' as strategy,
        market_date,
        equity,
        previous_equity,
        daily_return,
        is_in_market
    from portfolio_daily
),

{{ series_performance('daily_series', ['strategy']) }}

round_trip_results as (
    select
        strategy,
        symbol,
        round_trip_number,
        max(filled_at) filter (where closes_round_trip) as closed_at,
        sum(realized_pl) as trade_pl
    from position_history
    group by strategy, symbol, round_trip_number
    having bool_or(closes_round_trip)
),

all_round_trips as (
    select
        strategy,
        strategy as trade_strategy,
        symbol,
        round_trip_number,
        closed_at,
        trade_pl
    from round_trip_results
    union all
    select
        'portfolio' as strategy,
        strategy as trade_strategy,
        symbol,
        round_trip_number,
        closed_at,
        trade_pl
    from round_trip_results
),

trade_statistics as (
    {{ round_trip_statistics(
        'all_round_trips',
        ['strategy'],
        'trade_pl',
        order_by='closed_at, trade_strategy, symbol, round_trip_number'
    ) }}
),

metrics as (
    select
        series_metrics.*,
        coalesce(trade_statistics.trade_count, 0) as trade_count,
        trade_statistics.win_rate,
        trade_statistics.profit_factor,
        trade_statistics.expectancy,
        trade_statistics.average_win,
        trade_statistics.average_loss,
        coalesce(trade_statistics.max_consecutive_losses, 0) as max_consecutive_losses
    from series_metrics
    left join trade_statistics
        on series_metrics.strategy = trade_statistics.strategy
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(day_count as bigint) as day_count,
        cast(starting_equity as numeric) as starting_equity,
        cast(ending_equity as numeric) as ending_equity,
        cast(total_return as double precision) as total_return,
        cast(cagr as double precision) as cagr,
        cast(annual_volatility as double precision) as annual_volatility,
        cast(sharpe_ratio as double precision) as sharpe_ratio,
        cast(sortino_ratio as double precision) as sortino_ratio,
        cast(max_drawdown as double precision) as max_drawdown,
        cast(max_drawdown_start_date as date) as max_drawdown_start_date,
        cast(max_drawdown_end_date as date) as max_drawdown_end_date,
        cast(trade_count as bigint) as trade_count,
        cast(win_rate as double precision) as win_rate,
        cast(profit_factor as double precision) as profit_factor,
        cast(time_in_market as double precision) as time_in_market,
        cast(calmar_ratio as double precision) as calmar_ratio,
        cast(max_drawdown_duration_days as bigint) as max_drawdown_duration_days,
        cast(time_underwater as double precision) as time_underwater,
        cast(daily_sharpe_ratio as double precision) as daily_sharpe_ratio,
        cast(skewness as double precision) as skewness,
        cast(kurtosis as double precision) as kurtosis,
        cast(probabilistic_sharpe_ratio as double precision) as probabilistic_sharpe_ratio,
        cast(expectancy as numeric) as expectancy,
        cast(average_win as numeric) as average_win,
        cast(average_loss as numeric) as average_loss,
        cast(max_consecutive_losses as bigint) as max_consecutive_losses
    from metrics
)

select * from final
