{% macro risk_candidate_orders(decision_inputs) -%}
    {#-
        Entries (buys) use the spec's order type, a bracket being a market entry with exit legs;
        exits use its exit type.
    -#}
    select
        *,
        case when in_position then 'buy' else 'sell' end as side,
        case
            when in_position and entry_order_type = 'bracket' then 'bracket' else 'simple'
        end as order_class,
        case
            when not in_position then exit_order_type
            when entry_order_type = 'bracket' then 'market'
            else entry_order_type
        end as order_type,
        target_weight * equity as wanted_value,
        {#- least() skips nulls: a missing policy value is no cap. #}
        least(max_position_value, max_position_weight * equity, max_order_value) as cap_value
    from {{ decision_inputs }}
    where
        (in_position and current_qty = 0)
        or (not in_position and current_qty > 0)
{%- endmacro %}
