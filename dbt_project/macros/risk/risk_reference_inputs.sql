{#- The reference data every risk review reads (the seeds and the broker's assets), as CTEs: marts.risk_decisions, marts.shadow_decisions and a portfolio backtest's steps. -#}
{% macro risk_reference_inputs() -%}
assets as (
    select
        symbol,
        is_fractionable
    from {{ ref('stg_alpaca__assets') }}
),

risk_limits as (
    select
        symbol,
        max_position_value
    from {{ ref('risk_limits') }}
),

broker_order_rules as (
    select
        order_class,
        order_type,
        time_in_force,
        allows_fractional
    from {{ ref('broker_order_rules') }}
),

broker_price_increments as (
    select
        min_price,
        increment
    from {{ ref('broker_price_increments') }}
),

risk_policy as (
    select
        effective_from,
        max_drawdown,
        max_daily_loss,
        max_position_weight,
        max_gross_exposure,
        max_net_exposure,
        max_open_positions,
        min_order_value,
        max_order_value,
        loss_streak_trades,
        loss_streak_cooldown_bars,
        fractional_trading
    from {{ ref('risk_policy') }}
),
{%- endmacro %}
