{% macro risk_sized_orders(orders) -%}
    {#- Whole shares, or millionths of one where fractional trading is allowed. #}
    select
        *,
        abs(target_qty - current_qty) as qty,
        abs(target_qty - current_qty) * reference_price as order_value
    from (
        select
            *,
            case
                when side = 'sell' then 0
                when equity is not null and max_position_value is not null
                    then floor(least(wanted_value, cap_value) / nullif(reference_price, 0) / qty_step)
                    * qty_step
            end as target_qty,
            case
                when side = 'buy'
                    then floor(wanted_value / nullif(reference_price, 0) / qty_step) * qty_step
                else 0
            end as proposed_qty
        from (
            select
                *,
                case when is_fractional then 0.000001 else 1 end as qty_step
            from {{ orders }}
        ) as stepped
    ) as sized
{%- endmacro %}
