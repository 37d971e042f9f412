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

indexed as (
    select
        strategy,
        market_date,
        cast(daily_return as double precision) as daily_return,
        is_in_market,
        first_value(previous_equity) over series as starting_equity,
        equity,
        cast(equity / nullif(first_value(previous_equity) over series, 0) as double precision)
            as growth_index
    from daily_series
    window series as (partition by strategy order by market_date)
),

drawdowns as (
    select
        *,
        greatest(
            1, max(growth_index) over (
                partition by strategy order by market_date
                rows between unbounded preceding and current row
            )
        ) as peak_index
    from indexed
),

drawdowns_marked as (
    select
        *,
        growth_index / peak_index - 1 as drawdown,
        growth_index >= peak_index as is_at_peak
    from drawdowns
),

troughs as (
    select distinct on (strategy)
        strategy,
        market_date as trough_date,
        drawdown as max_drawdown
    from drawdowns_marked
    order by strategy asc, drawdown asc, market_date asc
),

peaks_before_troughs as (
    select
        troughs.strategy,
        max(drawdowns_marked.market_date) filter (where drawdowns_marked.is_at_peak)
            as peak_date,
        min(drawdowns_marked.market_date) as series_start_date
    from troughs
    inner join drawdowns_marked
        on
            troughs.strategy = drawdowns_marked.strategy
            and drawdowns_marked.market_date <= troughs.trough_date
    group by troughs.strategy
),

series_statistics as (
    select
        strategy,
        min(market_date) as start_date,
        max(market_date) as end_date,
        count(*) as day_count,
        avg(daily_return) as mean_return,
        stddev_samp(daily_return) as return_stddev,
        sqrt(avg(power(least(daily_return, 0), 2))) as downside_deviation,
        avg(case when is_in_market then 1.0 else 0.0 end) as time_in_market
    from indexed
    group by strategy
),

series_ends as (
    select distinct on (strategy)
        strategy,
        starting_equity,
        equity as ending_equity,
        growth_index as ending_index
    from indexed
    order by strategy asc, market_date desc
),

round_trip_results as (
    select
        strategy,
        symbol,
        round_trip_number,
        sum(realized_pl) as trade_pl
    from position_history
    group by strategy, symbol, round_trip_number
    having bool_or(closes_round_trip)
),

all_round_trips as (
    select strategy, trade_pl from round_trip_results
    union all
    select 'portfolio' as strategy, trade_pl from round_trip_results
),

trade_statistics as (
    select
        strategy,
        count(*) as trade_count,
        avg(case when trade_pl > 0 then 1.0 else 0.0 end) as win_rate,
        sum(trade_pl) filter (where trade_pl > 0) as gross_profit,
        -sum(trade_pl) filter (where trade_pl < 0) as gross_loss
    from all_round_trips
    group by strategy
),

metrics as (
    select
        series_statistics.strategy,
        series_statistics.start_date,
        series_statistics.end_date,
        series_statistics.day_count,
        series_ends.starting_equity,
        series_ends.ending_equity,
        series_ends.ending_index - 1 as total_return,
        case
            when series_ends.ending_index > 0
                then power(series_ends.ending_index, 252.0 / series_statistics.day_count) - 1
        end as cagr,
        series_statistics.return_stddev * sqrt(252.0) as annual_volatility,
        series_statistics.mean_return
        / nullif(series_statistics.return_stddev, 0) * sqrt(252.0) as sharpe_ratio,
        series_statistics.mean_return * 252.0
        / nullif(series_statistics.downside_deviation * sqrt(252.0), 0) as sortino_ratio,
        troughs.max_drawdown,
        case
            when troughs.max_drawdown < 0
                then coalesce(peaks_before_troughs.peak_date, peaks_before_troughs.series_start_date)
        end as max_drawdown_start_date,
        case when troughs.max_drawdown < 0 then troughs.trough_date end as max_drawdown_end_date,
        coalesce(trade_statistics.trade_count, 0) as trade_count,
        trade_statistics.win_rate,
        case
            when trade_statistics.gross_loss > 0
                then coalesce(trade_statistics.gross_profit, 0) / trade_statistics.gross_loss
        end as profit_factor,
        series_statistics.time_in_market
    from series_statistics
    inner join series_ends
        on series_statistics.strategy = series_ends.strategy
    inner join troughs
        on series_statistics.strategy = troughs.strategy
    inner join peaks_before_troughs
        on series_statistics.strategy = peaks_before_troughs.strategy
    left join trade_statistics
        on series_statistics.strategy = trade_statistics.strategy
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
        cast(time_in_market as double precision) as time_in_market
    from metrics
)

select * from final
