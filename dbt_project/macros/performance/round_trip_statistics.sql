{#- Trade statistics of closed round trips, one row per `keys`: count, win rate, gross profit and loss, profit factor. -#}
{% macro round_trip_statistics(round_trips, keys, pl) -%}
    select
        {{ keys | join(', ') }},
        count(*) as trade_count,
        avg(case when {{ pl }} > 0 then 1.0 else 0.0 end) as win_rate,
        sum({{ pl }}) filter (where {{ pl }} > 0) as gross_profit,
        -sum({{ pl }}) filter (where {{ pl }} < 0) as gross_loss,
        case
            when sum({{ pl }}) filter (where {{ pl }} < 0) < 0
                then coalesce(sum({{ pl }}) filter (where {{ pl }} > 0), 0)
                / -sum({{ pl }}) filter (where {{ pl }} < 0)
        end as profit_factor
    from {{ round_trips }}
    group by {{ keys | join(', ') }}
{%- endmacro %}
