{#- Trade statistics of closed round trips, one row per `keys`; see _performance__macros.yml. -#}
{% macro round_trip_statistics(round_trips, keys, pl, order_by=none) -%}
    {%- set key_list = keys | join(', ') -%}
    select
        {{ key_list }},
        count(*) as trade_count,
        avg(case when {{ pl }} > 0 then 1.0 else 0.0 end) as win_rate,
        sum({{ pl }}) filter (where {{ pl }} > 0) as gross_profit,
        -sum({{ pl }}) filter (where {{ pl }} < 0) as gross_loss,
        case
            when sum({{ pl }}) filter (where {{ pl }} < 0) < 0
                then coalesce(sum({{ pl }}) filter (where {{ pl }} > 0), 0)
                / -sum({{ pl }}) filter (where {{ pl }} < 0)
        end as profit_factor,
        avg({{ pl }}) as expectancy,
        avg({{ pl }}) filter (where {{ pl }} > 0) as average_win,
        avg({{ pl }}) filter (where {{ pl }} < 0) as average_loss,
    {%- if order_by is none %}
        cast(null as bigint) as max_consecutive_losses
    from {{ round_trips }}
    {%- else %}
        max(losing_streak) as max_consecutive_losses
    from (
        select
            *,
            count(*) filter (where {{ pl }} < 0) over (
                partition by {{ key_list }}, streak_number order by {{ order_by }}
                rows between unbounded preceding and current row
            ) as losing_streak
        from (
            select
                *,
                count(*) filter (where not coalesce({{ pl }} < 0, false)) over (
                    partition by {{ key_list }} order by {{ order_by }}
                    rows between unbounded preceding and current row
                ) as streak_number
            from {{ round_trips }}
        ) as round_trips_in_streaks
    ) as round_trips_with_streaks
    {%- endif %}
    group by {{ key_list }}
{%- endmacro %}
