{#- A view: a sweep's chunks land as separate runs, and the ranking is over all of them. -#}
{{ config(materialized='view') }}

with

runs as (
    select
        run_id,
        strategy,
        kind,
        objective,
        parent_run_id,
        fold,
        status
    from {{ ref('stg_trading__backtest_runs') }}
),

{#- A sweep run, or a chunk of one (its parent is the sweep). #}
sweep_runs as (
    select
        runs.run_id,
        runs.strategy,
        runs.status,
        case when parents.kind = 'sweep' then parents.run_id else runs.run_id end as sweep_id,
        coalesce(parents.objective, runs.objective) as objective
    from runs
    left join runs as parents
        on runs.parent_run_id = parents.run_id
    where runs.kind = 'sweep'
),

trials as (
    select
        run_id,
        trial,
        parameters
    from {{ ref('stg_trading__backtest_trials') }}
),

performance as (
    select *
    from {{ ref('backtest_performance') }}
),

scored as (
    select
        sweep_runs.sweep_id,
        sweep_runs.run_id,
        trials.trial,
        sweep_runs.strategy,
        sweep_runs.objective,
        trials.parameters,
        {#- The objective names a column of marts.backtest_performance (the CLI checks it). #}
        cast(to_jsonb(performance) ->> sweep_runs.objective as double precision) as objective_value,
        performance.total_return,
        performance.cagr,
        performance.annual_volatility,
        performance.sharpe_ratio,
        performance.sortino_ratio,
        performance.calmar_ratio,
        performance.max_drawdown,
        performance.time_in_market,
        performance.trade_count,
        performance.win_rate,
        performance.profit_factor,
        performance.expectancy,
        performance.fees_paid,
        performance.final_equity,
        performance.observation_count,
        performance.daily_sharpe_ratio,
        performance.skewness,
        performance.kurtosis,
        performance.probabilistic_sharpe_ratio
    from sweep_runs
    inner join trials
        on sweep_runs.run_id = trials.run_id
    inner join performance
        on trials.run_id = performance.run_id and trials.trial = performance.trial
),

final as (
    select
        cast(sweep_id as uuid) as sweep_id,
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(strategy as text) as strategy,
        cast(objective as text) as objective,
        cast(parameters as jsonb) as parameters,
        cast(objective_value as double precision) as objective_value,
        cast(
            row_number() over (
                partition by sweep_id order by objective_value desc nulls last, run_id, trial
            ) as bigint
        ) as objective_rank,
        cast(total_return as double precision) as total_return,
        cast(cagr as double precision) as cagr,
        cast(annual_volatility as double precision) as annual_volatility,
        cast(sharpe_ratio as double precision) as sharpe_ratio,
        cast(sortino_ratio as double precision) as sortino_ratio,
        cast(calmar_ratio as double precision) as calmar_ratio,
        cast(max_drawdown as double precision) as max_drawdown,
        cast(time_in_market as double precision) as time_in_market,
        cast(trade_count as bigint) as trade_count,
        cast(win_rate as double precision) as win_rate,
        cast(profit_factor as double precision) as profit_factor,
        cast(expectancy as numeric) as expectancy,
        cast(fees_paid as numeric) as fees_paid,
        cast(final_equity as numeric) as final_equity,
        cast(observation_count as bigint) as observation_count,
        cast(daily_sharpe_ratio as double precision) as daily_sharpe_ratio,
        cast(skewness as double precision) as skewness,
        cast(kurtosis as double precision) as kurtosis,
        cast(probabilistic_sharpe_ratio as double precision) as probabilistic_sharpe_ratio
    from scored
)

select * from final
