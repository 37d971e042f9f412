with

runs as (
    select
        run_id,
        strategy,
        initial_cash
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

trials as (
    select
        runs.run_id,
        trials.trial,
        runs.strategy,
        runs.initial_cash
    from runs
    inner join {{ ref('stg_trading__backtest_trials') }} as trials
        on runs.run_id = trials.run_id
),

{#- Bar by bar only where kept (not for a sweep's trials): the deepest drawdown between daily closes. #}
bar_equity as (
    select
        run_id,
        trial,
        drawdown
    from {{ ref('backtest_equity') }}
    where {{ backtest_run_filter('run_id') }} and book = 'total'
),

trades as (
    select
        run_id,
        trial,
        symbol,
        trade_number,
        exit_at,
        quantity,
        entry_price,
        exit_price,
        pnl,
        fees,
        exit_reason
    from {{ ref('backtest_trades') }}
    where {{ backtest_run_filter('run_id') }}
),

round_trips as (
    select
        run_id,
        trial,
        quantity
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }}
),

first_opens as (
    select
        run_id,
        symbol,
        open as first_open
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }} and bar_number = 1
),

last_closes as (
    select
        run_id,
        symbol,
        close as last_close
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }} and next_bar_number is null
),

days as (
    select
        run_id,
        trial,
        market_date,
        equity,
        position_value,
        open_positions,
        fill_count
    from {{ ref('int_backtest_daily_equity') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- The average book's exposure (positions ÷ equity at each day's end) and equity, over the days. #}
exposures as (
    select
        run_id,
        trial,
        avg(position_value / nullif(equity, 0)) as average_exposure,
        avg(equity) as average_equity
    from days
    group by run_id, trial
),

daily_series as (
    select
        days.run_id,
        days.trial,
        days.market_date,
        days.equity,
        coalesce(lag(days.equity) over trial_days, trials.initial_cash) as previous_equity,
        days.equity / nullif(coalesce(lag(days.equity) over trial_days, trials.initial_cash), 0)
        - 1 as daily_return,
        days.open_positions > 0 or days.fill_count > 0 as is_in_market
    from days
    inner join trials
        on days.run_id = trials.run_id and days.trial = trials.trial
    window trial_days as (partition by days.run_id, days.trial order by days.market_date)
),

{{ series_performance('daily_series', ['run_id', 'trial']) }}

closed_trades as (
    select
        run_id,
        trial,
        symbol,
        trade_number,
        exit_at,
        pnl
    from trades
    where exit_reason <> 'open'
),

trade_statistics as (
    {{ round_trip_statistics(
        'closed_trades', ['run_id', 'trial'], 'pnl', order_by='exit_at, symbol, trade_number'
    ) }}
),

trade_totals as (
    select
        run_id,
        trial,
        count(*) as trades_with_open,
        count(*) filter (where exit_reason = 'open') as open_trade_count,
        sum(fees) as fees_paid,
        {#- Bought and sold (an open position's sale is not a trade yet). #}
        sum(quantity * entry_price)
        + sum(quantity * exit_price) filter (where exit_reason <> 'open') as traded_value
    from trades
    group by run_id, trial
),

rejections as (
    select
        run_id,
        trial,
        count(*) filter (where quantity = 0) as rejected_entries
    from round_trips
    group by run_id, trial
),

symbol_returns as (
    select
        first_opens.run_id,
        first_opens.symbol,
        last_closes.last_close / nullif(first_opens.first_open, 0) - 1 as price_return
    from first_opens
    inner join last_closes
        on
            first_opens.run_id = last_closes.run_id
            and first_opens.symbol = last_closes.symbol
),

buy_and_hold as (
    select
        run_id,
        avg(price_return) as buy_and_hold_return,
        count(*) as symbol_count
    from symbol_returns
    group by run_id
),

bar_drawdowns as (
    select
        run_id,
        trial,
        min(drawdown) as max_bar_drawdown
    from bar_equity
    group by run_id, trial
),

windows as (
    select
        run_id,
        min(ts) as first_bar_at,
        max(ts) as last_bar_at
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
    group by run_id
),

metrics as (
    select
        trials.run_id,
        trials.trial,
        trials.strategy,
        trials.initial_cash,
        series_metrics.start_date,
        series_metrics.end_date,
        series_metrics.day_count,
        windows.first_bar_at,
        windows.last_bar_at,
        buy_and_hold.symbol_count,
        series_metrics.ending_equity as final_equity,
        series_metrics.total_return,
        series_metrics.cagr,
        series_metrics.annual_volatility,
        series_metrics.sharpe_ratio,
        series_metrics.sortino_ratio,
        series_metrics.max_drawdown,
        series_metrics.max_drawdown_start_date,
        series_metrics.max_drawdown_end_date,
        series_metrics.max_drawdown_duration_days,
        series_metrics.time_underwater,
        series_metrics.calmar_ratio,
        series_metrics.observation_count,
        series_metrics.daily_sharpe_ratio,
        series_metrics.skewness,
        series_metrics.kurtosis,
        series_metrics.probabilistic_sharpe_ratio,
        bar_drawdowns.max_bar_drawdown,
        series_metrics.time_in_market,
        exposures.average_exposure,
        {#- Per average book (each symbol's book trades its own cash): how many times its equity changed hands. #}
        coalesce(trade_totals.traded_value, 0) / 2 / buy_and_hold.symbol_count
        / nullif(exposures.average_equity, 0) as turnover,
        trade_statistics.expectancy,
        trade_statistics.average_win,
        trade_statistics.average_loss,
        coalesce(trade_statistics.max_consecutive_losses, 0) as max_consecutive_losses,
        coalesce(trade_statistics.trade_count, 0) as trade_count,
        coalesce(trade_totals.open_trade_count, 0) as open_trade_count,
        trade_statistics.win_rate,
        trade_statistics.profit_factor,
        coalesce(trade_totals.fees_paid, 0) as fees_paid,
        coalesce(rejections.rejected_entries, 0) as rejected_entries,
        buy_and_hold.buy_and_hold_return
    from trials
    inner join series_metrics
        on trials.run_id = series_metrics.run_id and trials.trial = series_metrics.trial
    inner join windows
        on trials.run_id = windows.run_id
    inner join exposures
        on trials.run_id = exposures.run_id and trials.trial = exposures.trial
    inner join buy_and_hold
        on trials.run_id = buy_and_hold.run_id
    left join bar_drawdowns
        on trials.run_id = bar_drawdowns.run_id and trials.trial = bar_drawdowns.trial
    left join trade_statistics
        on trials.run_id = trade_statistics.run_id and trials.trial = trade_statistics.trial
    left join trade_totals
        on trials.run_id = trade_totals.run_id and trials.trial = trade_totals.trial
    left join rejections
        on trials.run_id = rejections.run_id and trials.trial = rejections.trial
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(strategy as text) as strategy,
        trim_scale(cast(initial_cash as numeric)) as initial_cash,
        cast(symbol_count as bigint) as symbol_count,
        cast(first_bar_at as timestamptz) as first_bar_at,
        cast(last_bar_at as timestamptz) as last_bar_at,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(day_count as bigint) as day_count,
        trim_scale(cast(final_equity as numeric)) as final_equity,
        cast(total_return as double precision) as total_return,
        cast(cagr as double precision) as cagr,
        cast(annual_volatility as double precision) as annual_volatility,
        cast(sharpe_ratio as double precision) as sharpe_ratio,
        cast(sortino_ratio as double precision) as sortino_ratio,
        cast(max_drawdown as double precision) as max_drawdown,
        cast(max_drawdown_start_date as date) as max_drawdown_start_date,
        cast(max_drawdown_end_date as date) as max_drawdown_end_date,
        cast(max_drawdown_duration_days as bigint) as max_drawdown_duration_days,
        cast(time_underwater as double precision) as time_underwater,
        cast(calmar_ratio as double precision) as calmar_ratio,
        cast(max_bar_drawdown as double precision) as max_bar_drawdown,
        cast(time_in_market as double precision) as time_in_market,
        cast(average_exposure as double precision) as average_exposure,
        cast(turnover as double precision) as turnover,
        cast(trade_count as bigint) as trade_count,
        cast(open_trade_count as bigint) as open_trade_count,
        cast(win_rate as double precision) as win_rate,
        cast(profit_factor as double precision) as profit_factor,
        trim_scale(cast(expectancy as numeric)) as expectancy,
        trim_scale(cast(average_win as numeric)) as average_win,
        trim_scale(cast(average_loss as numeric)) as average_loss,
        cast(max_consecutive_losses as bigint) as max_consecutive_losses,
        trim_scale(cast(fees_paid as numeric)) as fees_paid,
        cast(rejected_entries as bigint) as rejected_entries,
        cast(buy_and_hold_return as double precision) as buy_and_hold_return,
        cast(observation_count as bigint) as observation_count,
        cast(daily_sharpe_ratio as double precision) as daily_sharpe_ratio,
        cast(skewness as double precision) as skewness,
        cast(kurtosis as double precision) as kurtosis,
        cast(probabilistic_sharpe_ratio as double precision) as probabilistic_sharpe_ratio
    from metrics
)

select * from final
