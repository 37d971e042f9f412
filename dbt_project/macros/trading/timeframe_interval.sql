{% macro timeframe_interval(timeframe) -%}
    (
        cast(substring({{ timeframe }} from '^[0-9]+') as integer)
        * case substring({{ timeframe }} from '[A-Za-z]+$')
            when 'Min' then interval '1 minute'
            when 'Hour' then interval '1 hour'
            when 'Day' then interval '24 hours'
            when 'Week' then interval '168 hours'
            when 'Month' then interval '1 month'
        end
    )
{%- endmacro %}
