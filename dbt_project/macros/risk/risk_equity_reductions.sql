{% macro risk_equity_reductions(latest_equity, policy) -%}
    {#- The account's losses that put trading in REDUCING (no new entries): one reason per limit passed. #}
    select
        'drawdown ' || round(100 * {{ latest_equity }}.drawdown, 2) || '% beyond the '
        || round(100 * {{ policy }}.max_drawdown, 2) || '% limit' as reason
    from {{ latest_equity }}
    cross join {{ policy }}
    where {{ latest_equity }}.drawdown < -{{ policy }}.max_drawdown
    union all
    select
        'daily loss ' || round(100 * {{ latest_equity }}.daily_return, 2) || '% beyond the '
        || round(100 * {{ policy }}.max_daily_loss, 2) || '% limit'
    from {{ latest_equity }}
    cross join {{ policy }}
    where {{ latest_equity }}.daily_return < -{{ policy }}.max_daily_loss
{%- endmacro %}
