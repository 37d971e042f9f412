{% macro risk_decision_record(orders, mode) -%}
    {#- The id is the same for the same decision in any build, so the executor's id is too. #}
    select
        cast(
            md5(strategy || '|' || symbol || '|' || extract(epoch from ts) || '|' || side) as uuid
        ) as decision_id,
        cast(
            strategy || '-' || symbol || '-' || to_char(ts at time zone 'UTC', 'YYYYMMDDHH24MI')
            || '-' || left(side, 1)
            as text
        ) as client_order_id,
        cast(strategy as text) as strategy,
        cast('{{ mode }}' as text) as mode,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(signal as text) as signal,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast(order_class as text) as order_class,
        cast(order_type as text) as order_type,
        cast(time_in_force as text) as time_in_force,
        cast(limit_price as numeric) as limit_price,
        cast(stop_price as numeric) as stop_price,
        cast(take_profit_price as numeric) as take_profit_price,
        cast(stop_loss_price as numeric) as stop_loss_price,
        cast(cancel_open_exits as boolean) as cancel_open_exits,
        cast(ts as timestamptz) as decision_ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(as_of as timestamptz) as as_of,
        cast(reference_price as numeric) as reference_price,
        cast(strength as double precision) as strength,
        cast(target_weight as numeric) as target_weight,
        cast(equity as numeric) as equity,
        cast(current_qty as numeric) as current_qty,
        cast(target_qty as numeric) as target_qty,
        cast(max_position_value as numeric) as max_position_value,
        cast(open_positions as integer) as open_positions,
        cast(max_positions as integer) as max_positions,
        cast(has_open_order as boolean) as has_open_order,
        cast(trading_state as text) as trading_state,
        cast(is_approved as boolean) as is_approved,
        cast(outcome as text) as outcome,
        cast(rejection_reason as text) as rejection_reason,
        cast(rejection_reasons as text []) as rejection_reasons,
        cast(reductions as text []) as reductions,
        cast(proposed_qty as numeric) as proposed_qty,
        cast(cooldown_until as timestamptz) as cooldown_until
    from {{ orders }}
{%- endmacro %}
