with

source as (
    select
        session_date,
        open_at,
        close_at,
        ingested_at,
        updated_at
    from {{ source('alpaca', 'calendar') }}
),

renamed as (
    select
        cast(session_date as date) as session_date,
        cast(open_at as timestamptz) as open_at,
        cast(close_at as timestamptz) as close_at,
        cast(
            cast(close_at at time zone 'America/New_York' as time) < cast('16:00' as time)
            as boolean
        ) as is_early_close,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(updated_at as timestamptz) as updated_at
    from source
)

select * from renamed
