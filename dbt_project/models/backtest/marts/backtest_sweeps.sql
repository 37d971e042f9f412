{#- A view over marts.backtest_trials: the statistics need every trial of the sweep, chunks included. -#}
{{ config(materialized='view') }}

with

trials as (
    select
        sweep_id,
        trial,
        run_id,
        strategy,
        objective,
        parameters,
        objective_value,
        objective_rank,
        sharpe_ratio,
        observation_count,
        daily_sharpe_ratio,
        skewness,
        kurtosis,
        probabilistic_sharpe_ratio
    from {{ ref('backtest_trials') }}
),

sweeps as (
    select
        sweep_id,
        count(*) as trial_count,
        {#- The variance of the trials' (per-day) Sharpe ratios: how much luck alone spreads them. #}
        var_samp(daily_sharpe_ratio) as sharpe_ratio_variance
    from trials
    group by sweep_id
),

best as (
    select *
    from trials
    where objective_rank = 1
),

final as (
    select
        cast(best.sweep_id as uuid) as sweep_id,
        cast(best.strategy as text) as strategy,
        cast(best.objective as text) as objective,
        cast(sweeps.trial_count as bigint) as trial_count,
        cast(best.run_id as uuid) as best_run_id,
        cast(best.trial as integer) as best_trial,
        cast(best.parameters as jsonb) as best_parameters,
        cast(best.objective_value as double precision) as best_objective_value,
        cast(best.sharpe_ratio as double precision) as best_sharpe_ratio,
        cast(best.probabilistic_sharpe_ratio as double precision) as best_probabilistic_sharpe_ratio,
        cast(sweeps.sharpe_ratio_variance as double precision) as sharpe_ratio_variance,
        cast(
            {{ expected_maximum_sharpe_ratio('sweeps.trial_count', 'sweeps.sharpe_ratio_variance') }}
            as double precision
        ) as expected_maximum_sharpe_ratio,
        cast(
            {{ deflated_sharpe_ratio(
                'best.daily_sharpe_ratio',
                'best.observation_count',
                'best.skewness',
                'best.kurtosis',
                'sweeps.trial_count',
                'sweeps.sharpe_ratio_variance'
            ) }} as double precision
        ) as deflated_sharpe_ratio
    from best
    inner join sweeps
        on best.sweep_id = sweeps.sweep_id
)

select
    *,
    cast(coalesce(deflated_sharpe_ratio < 0.95, true) as boolean) as is_likely_overfit
from final
