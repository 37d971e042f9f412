{#- A view: a run's status changes after its build (the CLI marks it finished), and the view shows it. -#}
{{ config(materialized='view') }}

with

runs as (
    select
        run_id,
        strategy,
        mode,
        timeframe,
        symbols,
        start_at,
        end_at,
        initial_cash,
        parameters,
        slippage_bps,
        commission_per_share,
        commission_bps,
        sec_fee_per_million,
        finra_taf_per_share,
        finra_taf_max,
        code_version,
        status,
        error,
        started_at,
        finished_at,
        kind,
        objective,
        parent_run_id,
        fold
    from {{ ref('stg_trading__backtest_runs') }}
),

performance as (
    select
        run_id,
        first_bar_at,
        last_bar_at,
        final_equity,
        total_return,
        sharpe_ratio,
        max_drawdown,
        trade_count
    from {{ ref('backtest_performance') }}
    {#- A sweep's trials are in marts.backtest_trials; its row here has no single result. #}
    where trial = 1
),

final as (
    select
        cast(runs.run_id as uuid) as run_id,
        cast(runs.strategy as text) as strategy,
        cast(runs.mode as text) as mode,
        cast(runs.timeframe as text) as timeframe,
        cast(runs.symbols as text []) as symbols,
        cast(runs.start_at as timestamptz) as start_at,
        cast(runs.end_at as timestamptz) as end_at,
        cast(runs.initial_cash as numeric) as initial_cash,
        cast(runs.parameters as jsonb) as parameters,
        cast(runs.slippage_bps as numeric) as slippage_bps,
        cast(runs.commission_per_share as numeric) as commission_per_share,
        cast(runs.commission_bps as numeric) as commission_bps,
        cast(runs.sec_fee_per_million as numeric) as sec_fee_per_million,
        cast(runs.finra_taf_per_share as numeric) as finra_taf_per_share,
        cast(runs.finra_taf_max as numeric) as finra_taf_max,
        cast(runs.code_version as text) as code_version,
        cast(runs.status as text) as status,
        cast(runs.error as text) as error,
        cast(runs.started_at as timestamptz) as started_at,
        cast(runs.finished_at as timestamptz) as finished_at,
        cast(runs.kind as text) as kind,
        cast(runs.objective as text) as objective,
        cast(runs.parent_run_id as uuid) as parent_run_id,
        cast(runs.fold as integer) as fold,
        cast(performance.first_bar_at as timestamptz) as first_bar_at,
        cast(performance.last_bar_at as timestamptz) as last_bar_at,
        cast(performance.final_equity as numeric) as final_equity,
        cast(performance.total_return as double precision) as total_return,
        cast(performance.sharpe_ratio as double precision) as sharpe_ratio,
        cast(performance.max_drawdown as double precision) as max_drawdown,
        cast(performance.trade_count as bigint) as trade_count
    from runs
    left join performance
        on runs.run_id = performance.run_id and runs.kind <> 'sweep'
)

select * from final
