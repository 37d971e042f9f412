{% macro bars_per_year(timeframe) -%}
    (
        case substring({{ timeframe }} from '[A-Za-z]+$')
            when 'Min' then 252 * 390.0
            when 'Hour' then 252 * 6.5
            when 'Day' then 252.0
            when 'Week' then 52.0
            when 'Month' then 12.0
        end
        / cast(substring({{ timeframe }} from '^[0-9]+') as integer)
    )
{%- endmacro %}
