with

source as (
    select
        run_id,
        trial,
        parameters
    from {{ source('trading', 'backtest_trials') }}
),

renamed as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(parameters as jsonb) as parameters
    from source
)

select * from renamed
