{#-
    The performance of daily return series, as CTEs ending in `series_metrics` (one row per
    series). `series` names a CTE with the `keys` columns plus market_date, equity,
    previous_equity, daily_return and is_in_market, one row per series and trading day.
    The conventions are empyrical's (checked to 1e-9): 252 days a year, risk-free rate 0.
    The moments and the probabilistic Sharpe ratio follow Bailey & López de Prado (2012);
    see _performance__macros.yml.
-#}
{% macro series_performance(series, keys) -%}
    {%- set key_list = keys | join(', ') -%}

series_indexed as (
    select
        {{ key_list }},
        market_date,
        cast(daily_return as double precision) as daily_return,
        is_in_market,
        first_value(previous_equity) over series_window as starting_equity,
        equity,
        cast(equity / nullif(first_value(previous_equity) over series_window, 0) as double precision)
            as growth_index
    from {{ series }}
    window series_window as (partition by {{ key_list }} order by market_date)
),

series_drawdowns as (
    select
        *,
        greatest(
            1, max(growth_index) over (
                partition by {{ key_list }} order by market_date
                rows between unbounded preceding and current row
            )
        ) as peak_index
    from series_indexed
),

series_drawdowns_marked as (
    select
        *,
        growth_index / peak_index - 1 as drawdown,
        growth_index >= peak_index as is_at_peak
    from series_drawdowns
),

series_troughs as (
    select distinct on ({{ key_list }})
        {{ key_list }},
        market_date as trough_date,
        drawdown as max_drawdown
    from series_drawdowns_marked
    order by {% for key in keys %}{{ key }} asc, {% endfor %}drawdown asc, market_date asc
),

series_peaks_before_troughs as (
    select
        {%- for key in keys %}
        series_troughs.{{ key }},
        {%- endfor %}
        max(series_drawdowns_marked.market_date) filter (where series_drawdowns_marked.is_at_peak)
            as peak_date,
        min(series_drawdowns_marked.market_date) as series_start_date
    from series_troughs
    inner join series_drawdowns_marked
        on
            {%- for key in keys %}
            series_troughs.{{ key }} = series_drawdowns_marked.{{ key }}
            and {% endfor %}series_drawdowns_marked.market_date <= series_troughs.trough_date
    group by {% for key in keys %}series_troughs.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
),

series_underwater_stretches as (
    select
        {{ key_list }},
        count(*) filter (where is_at_peak) over (
            partition by {{ key_list }} order by market_date
            rows between unbounded preceding and current row
        ) as stretch_number,
        not is_at_peak as is_underwater
    from series_drawdowns_marked
),

series_underwater_lengths as (
    select
        {{ key_list }},
        count(*) filter (where is_underwater) as underwater_days
    from series_underwater_stretches
    group by {{ key_list }}, stretch_number
),

series_underwater as (
    select
        {{ key_list }},
        max(underwater_days) as max_drawdown_duration_days,
        sum(underwater_days) as underwater_day_count
    from series_underwater_lengths
    group by {{ key_list }}
),

series_statistics as (
    select
        {{ key_list }},
        min(market_date) as start_date,
        max(market_date) as end_date,
        count(*) as day_count,
        count(daily_return) as observation_count,
        avg(daily_return) as mean_return,
        stddev_samp(daily_return) as return_stddev,
        max(daily_return) > min(daily_return) as has_return_variance,
        sqrt(avg(power(least(daily_return, 0), 2))) as downside_deviation,
        avg(case when is_in_market then 1.0 else 0.0 end) as time_in_market
    from series_indexed
    group by {{ key_list }}
),

series_moments as (
    select
        {%- for key in keys %}
        series_statistics.{{ key }},
        {%- endfor %}
        avg(power(series_indexed.daily_return - series_statistics.mean_return, 2))
            as second_moment,
        avg(power(series_indexed.daily_return - series_statistics.mean_return, 3))
            as third_moment,
        avg(power(series_indexed.daily_return - series_statistics.mean_return, 4))
            as fourth_moment
    from series_statistics
    inner join series_indexed
        on
            {%- for key in keys %}
            {{ 'and ' if not loop.first }}series_statistics.{{ key }} = series_indexed.{{ key }}
            {%- endfor %}
    group by {% for key in keys %}series_statistics.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
),

series_shapes as (
    select
        {%- for key in keys %}
        series_statistics.{{ key }},
        {%- endfor %}
        series_statistics.mean_return
        / nullif(series_statistics.return_stddev, 0) as daily_sharpe_ratio,
        case
            when series_statistics.has_return_variance
                then series_moments.third_moment / power(series_moments.second_moment, 1.5)
        end as skewness,
        case
            when series_statistics.has_return_variance
                then series_moments.fourth_moment / power(series_moments.second_moment, 2)
        end as kurtosis
    from series_statistics
    inner join series_moments
        on
            {%- for key in keys %}
            {{ 'and ' if not loop.first }}series_statistics.{{ key }} = series_moments.{{ key }}
            {%- endfor %}
),

series_ends as (
    select distinct on ({{ key_list }})
        {{ key_list }},
        starting_equity,
        equity as ending_equity,
        growth_index as ending_index
    from series_indexed
    order by {% for key in keys %}{{ key }} asc, {% endfor %}market_date desc
),

series_measures as (
    select
        {%- for key in keys %}
        series_statistics.{{ key }},
        {%- endfor %}
        series_statistics.start_date,
        series_statistics.end_date,
        series_statistics.day_count,
        series_ends.starting_equity,
        series_ends.ending_equity,
        series_ends.ending_index - 1 as total_return,
        case
            when series_ends.ending_index > 0
                then power(series_ends.ending_index, 252.0 / series_statistics.day_count) - 1
        end as cagr,
        series_statistics.return_stddev * sqrt(252.0) as annual_volatility,
        series_shapes.daily_sharpe_ratio * sqrt(252.0) as sharpe_ratio,
        series_statistics.mean_return * 252.0
        / nullif(series_statistics.downside_deviation * sqrt(252.0), 0) as sortino_ratio,
        series_troughs.max_drawdown,
        case
            when series_troughs.max_drawdown < 0
                then coalesce(
                    series_peaks_before_troughs.peak_date,
                    series_peaks_before_troughs.series_start_date
                )
        end as max_drawdown_start_date,
        case
            when series_troughs.max_drawdown < 0 then series_troughs.trough_date
        end as max_drawdown_end_date,
        series_statistics.time_in_market,
        series_underwater.max_drawdown_duration_days,
        cast(series_underwater.underwater_day_count as double precision)
        / series_statistics.day_count as time_underwater,
        series_statistics.observation_count,
        series_shapes.daily_sharpe_ratio,
        series_shapes.skewness,
        series_shapes.kurtosis
    from series_statistics
    {%- for cte in ['series_ends', 'series_troughs', 'series_peaks_before_troughs', 'series_underwater', 'series_shapes'] %}
    inner join {{ cte }}
        on
            {%- for key in keys %}
            {{ 'and ' if not loop.first }}series_statistics.{{ key }} = {{ cte }}.{{ key }}
            {%- endfor %}
    {%- endfor %}
),

series_metrics as (
    select
        *,
        case when max_drawdown < 0 then cagr / -max_drawdown end as calmar_ratio,
        {{ probabilistic_sharpe_ratio(
            'daily_sharpe_ratio', 'observation_count', 'skewness', 'kurtosis'
        ) }} as probabilistic_sharpe_ratio
    from series_measures
),
{%- endmacro %}
