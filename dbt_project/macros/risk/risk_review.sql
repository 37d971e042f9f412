{% macro risk_review(decision_inputs, open_orders, order_rules, increments, max_signal_age_minutes, book=none) -%}
    {#- The review after the inputs, step by step, in the one order both the live and the shadow review use. #}
candidate_orders as (
    {{ risk_candidate_orders(decision_inputs) }}
),

allowed_orders as (
    {{ risk_broker_order_rules('candidate_orders', order_rules) }}
),

with_open_orders as (
    {{ risk_open_order_checks('allowed_orders', open_orders, book=book) }}
),

sized_orders as (
    {{ risk_sized_orders('with_open_orders') }}
),

priced_orders as (
    {{ risk_order_prices('sized_orders', increments) }}
),

ranked as (
    {{ risk_ranked_buys('priced_orders', book=book) }}
),

reviewed as (
    {{ risk_reviewed('ranked', max_signal_age_minutes) }}
),
{%- endmacro %}
