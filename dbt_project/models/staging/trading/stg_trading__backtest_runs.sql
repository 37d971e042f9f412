with

source as (
    select
        run_id,
        strategy,
        spec,
        parameters,
        timeframe,
        symbols,
        start_at,
        end_at,
        initial_cash,
        mode,
        costs,
        code_version,
        status,
        error,
        started_at,
        finished_at,
        kind,
        objective,
        parent_run_id,
        fold
    from {{ source('trading', 'backtest_runs') }}
),

renamed as (
    select
        cast(run_id as uuid) as run_id,
        cast(strategy as text) as strategy,
        cast(spec as jsonb) as spec,
        cast(parameters as jsonb) as parameters,
        cast(timeframe as text) as timeframe,
        cast(symbols as text []) as symbols,
        cast(start_at as timestamptz) as start_at,
        cast(end_at as timestamptz) as end_at,
        cast(initial_cash as numeric) as initial_cash,
        cast(mode as text) as mode,
        cast(costs ->> 'slippage_bps' as numeric) as slippage_bps,
        cast(costs ->> 'commission_per_share' as numeric) as commission_per_share,
        cast(costs ->> 'commission_bps' as numeric) as commission_bps,
        cast(costs ->> 'sec_fee_per_million' as numeric) as sec_fee_per_million,
        cast(costs ->> 'finra_taf_per_share' as numeric) as finra_taf_per_share,
        cast(costs ->> 'finra_taf_max' as numeric) as finra_taf_max,
        cast(code_version as text) as code_version,
        cast(status as text) as status,
        cast(error as text) as error,
        cast(started_at as timestamptz) as started_at,
        cast(finished_at as timestamptz) as finished_at,
        cast(kind as text) as kind,
        cast(objective as text) as objective,
        cast(parent_run_id as uuid) as parent_run_id,
        cast(fold as integer) as fold,
        cast(coalesce(spec ->> 'fractional', 'false') as boolean) as is_fractional,
        {{ spec_order_columns('spec') }}
    from source
)

select * from renamed
