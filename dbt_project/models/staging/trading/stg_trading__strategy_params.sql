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
        cast(spec -> 'limits' ->> 'capital_budget' as numeric) as capital_budget,
        cast(spec -> 'limits' ->> 'max_positions' as integer) as max_positions,
        cast(coalesce(spec -> 'sizing' ->> 'method', 'fixed_fraction') as text) as sizing_method,
        cast(spec -> 'sizing' ->> 'annual_volatility' as double precision)
            as sizing_annual_volatility,
        cast(coalesce(spec -> 'sizing' ->> 'measure', 'realized') as text) as sizing_measure,
        cast(coalesce(spec -> 'order' ->> 'type', 'market') as text) as entry_order_type,
        cast(coalesce(spec -> 'order' ->> 'time_in_force', 'day') as text) as time_in_force,
        cast(coalesce(spec -> 'order' ->> 'exit_type', 'market') as text) as exit_order_type,
        cast(spec -> 'order' ->> 'limit_offset' as numeric) as limit_offset,
        cast(spec -> 'order' ->> 'stop_offset' as numeric) as stop_offset,
        cast(spec -> 'order' ->> 'take_profit' as numeric) as take_profit,
        cast(spec -> 'order' ->> 'stop_loss' as numeric) as stop_loss,
        cast(spec_file as text) as spec_file,
        cast(loaded_at as timestamptz) as loaded_at
    from dated
)

select * from renamed
