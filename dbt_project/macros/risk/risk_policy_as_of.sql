{% macro risk_policy_as_of(policy, decision_times) -%}
    select distinct on ({{ decision_times }}.as_of)
        {{ decision_times }}.as_of,
        {{ policy }}.max_position_weight,
        {{ policy }}.max_gross_exposure,
        {{ policy }}.max_net_exposure,
        {{ policy }}.max_open_positions,
        {{ policy }}.min_order_value,
        {{ policy }}.max_order_value,
        {{ policy }}.loss_streak_trades,
        {{ policy }}.loss_streak_cooldown_bars,
        {{ policy }}.fractional_trading
    from {{ policy }}
    inner join {{ decision_times }}
        on {{ policy }}.effective_from <= {{ decision_times }}.as_of
    order by {{ decision_times }}.as_of asc, {{ policy }}.effective_from desc
{%- endmacro %}
