with

source as (
    select
        id,
        kind,
        source,
        status,
        fetched,
        landed,
        quarantined,
        error,
        started_at,
        finished_at
    from {{ source('trading', 'ingestion_runs') }}
),

renamed as (
    select
        cast(id as bigint) as run_id,
        cast(kind as text) as kind,
        cast(source as text) as source,
        cast(status as text) as status,
        cast(fetched as integer) as fetched,
        cast(landed as integer) as landed,
        cast(quarantined as integer) as quarantined,
        cast(error as text) as error,
        cast(started_at as timestamptz) as started_at,
        cast(finished_at as timestamptz) as finished_at
    from source
)

select * from renamed
