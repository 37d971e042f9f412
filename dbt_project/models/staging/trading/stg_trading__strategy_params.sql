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
        ) as effective_to,
        row_number() over (partition by strategy order by effective_from) = 1 as is_first
    from source
),

renamed as (
    select
        cast(strategy as text) as strategy,
        cast(effective_from as timestamptz) as effective_from,
        cast(effective_to as timestamptz) as effective_to,
        cast(
            case when is_first then '-infinity' else effective_from end as timestamptz
        ) as applies_from,
        effective_to is null as is_current,
        cast(spec ->> 'timeframe' as text) as timeframe,
        cast(spec ->> 'description' as text) as description,
        cast(coalesce(spec ->> 'mode', 'live') as text) as mode,
        array(select jsonb_array_elements_text(spec -> 'universe')) as universe,
        cast(spec -> 'parameters' as jsonb) as parameters,
        {{ spec_limit_columns('spec') }},
        {{ spec_order_columns('spec') }},
        cast(spec_file as text) as spec_file,
        cast(loaded_at as timestamptz) as loaded_at
    from dated
)

select * from renamed
