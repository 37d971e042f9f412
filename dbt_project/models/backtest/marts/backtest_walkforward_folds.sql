{#- A view: a fold's runs are built one after another under the walk-forward. -#}
{{ config(materialized='view') }}

with

runs as (
    select
        run_id,
        kind,
        parent_run_id,
        fold,
        start_at,
        end_at
    from {{ ref('stg_trading__backtest_runs') }}
),

walkforwards as (
    select
        run_id,
        strategy,
        objective
    from {{ ref('stg_trading__backtest_runs') }}
    where kind = 'walkforward'
),

fold_runs as (
    select
        runs.parent_run_id as walkforward_id,
        runs.fold,
        max(runs.run_id::text) filter (where runs.kind = 'sweep') as train_run_id,
        max(runs.run_id::text) filter (where runs.kind = 'backtest') as test_run_id
    from runs
    inner join walkforwards
        on runs.parent_run_id = walkforwards.run_id
    group by runs.parent_run_id, runs.fold
),

chosen as (
    select
        sweep_id,
        parameters,
        objective_value,
        total_return,
        cagr,
        sharpe_ratio
    from {{ ref('backtest_trials') }}
    where objective_rank = 1
),

tested as (
    select
        run_id,
        total_return,
        cagr,
        sharpe_ratio,
        max_drawdown,
        trade_count
    from {{ ref('backtest_performance') }}
    where trial = 1
),

final as (
    select
        cast(walkforwards.run_id as uuid) as run_id,
        cast(walkforwards.strategy as text) as strategy,
        cast(fold_runs.fold as integer) as fold,
        cast(fold_runs.train_run_id as uuid) as train_run_id,
        cast(fold_runs.test_run_id as uuid) as test_run_id,
        cast(train.start_at as timestamptz) as train_start,
        cast(train.end_at as timestamptz) as train_end,
        cast(test.start_at as timestamptz) as test_start,
        cast(test.end_at as timestamptz) as test_end,
        cast(chosen.parameters as jsonb) as parameters,
        cast(walkforwards.objective as text) as objective,
        cast(chosen.objective_value as double precision) as in_sample_objective,
        cast(chosen.total_return as double precision) as in_sample_return,
        cast(chosen.cagr as double precision) as in_sample_cagr,
        cast(chosen.sharpe_ratio as double precision) as in_sample_sharpe,
        cast(tested.total_return as double precision) as out_of_sample_return,
        cast(tested.cagr as double precision) as out_of_sample_cagr,
        cast(tested.sharpe_ratio as double precision) as out_of_sample_sharpe,
        cast(tested.max_drawdown as double precision) as out_of_sample_max_drawdown,
        cast(tested.trade_count as bigint) as out_of_sample_trades
    from walkforwards
    inner join fold_runs
        on walkforwards.run_id = fold_runs.walkforward_id
    inner join runs as train
        on cast(fold_runs.train_run_id as uuid) = train.run_id
    left join runs as test
        on cast(fold_runs.test_run_id as uuid) = test.run_id
    left join chosen
        on cast(fold_runs.train_run_id as uuid) = chosen.sweep_id
    left join tested
        on cast(fold_runs.test_run_id as uuid) = tested.run_id
)

select * from final
