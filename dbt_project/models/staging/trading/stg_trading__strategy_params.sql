with

source as (
    select
        strategy,
        effective_from,
        spec,
        spec_file,
        loaded_at
    from {{ source('trading', 'strategy_params') }}
),

dated as (
    select
        *,
        lead(effective_from) over (
            partition by strategy order by effective_from
        ) as effective_to
    from source
),

renamed as (
    select
        cast(strategy as text) as strategy,
        cast(effective_from as timestamptz) as effective_from,
        cast(effective_to as timestamptz) as effective_to,
        effective_to is null as is_current,
        cast(spec ->> 'timeframe' as text) as timeframe,
        cast(spec ->> 'description' as text) as description,
        array(select jsonb_array_elements_text(spec -> 'universe')) as universe,
        cast(spec -> 'parameters' as jsonb) as parameters,
        cast(spec_file as text) as spec_file,
        cast(loaded_at as timestamptz) as loaded_at
    from dated
)

select * from renamed
