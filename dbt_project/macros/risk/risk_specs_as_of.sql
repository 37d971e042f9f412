{% macro risk_specs_as_of(specs, decision_times) -%}
    select
        {{ decision_times }}.as_of,
        {{ specs }}.strategy,
        {{ specs }}.mode,
        {{ specs }}.timeframe,
        {{ specs }}.max_positions,
        {{ specs }}.entry_order_type,
        {{ specs }}.time_in_force,
        {{ specs }}.exit_order_type,
        {{ specs }}.limit_offset,
        {{ specs }}.stop_offset,
        {{ specs }}.take_profit,
        {{ specs }}.stop_loss
    from {{ specs }}
    inner join {{ decision_times }}
        on
            {{ specs }}.applies_from <= {{ decision_times }}.as_of
            and (
                {{ specs }}.effective_to is null
                or {{ specs }}.effective_to > {{ decision_times }}.as_of
            )
{%- endmacro %}
