{% macro shadow_positions_accumulated(fills) -%}
    {#- Long-only books: a sell closes shares bought at the average cost. `fills` has order_id, strategy, symbol, filled_at, signed_qty, price and is_bracket_exit. #}
    select
        *,
        case
            when closed_qty > 0 then closed_qty * (price - previous_avg_cost) * sign(previous_qty)
            else 0
        end as realized_pl,
        closed_qty > 0
        and (position_qty = 0 or sign(position_qty) <> sign(previous_qty)) as closes_round_trip
    from (
        select
            *,
            position_qty - signed_qty as previous_qty,
            lag(avg_cost) over (partition by strategy, symbol order by fill_number)
                as previous_avg_cost,
            case
                when sign(signed_qty) = -sign(position_qty - signed_qty)
                    then least(abs(signed_qty), abs(position_qty - signed_qty))
                else 0
            end as closed_qty
        from (
            select
                {{ fills }}.*,
                {{ fills }}.order_id as fill_id,
                row_number() over fills_so_far as fill_number,
                sum({{ fills }}.signed_qty) over fills_so_far as position_qty,
                udf.average_cost({{ fills }}.signed_qty, {{ fills }}.price) over fills_so_far
                    as avg_cost
            from {{ fills }}
            window fills_so_far as (
                partition by {{ fills }}.strategy, {{ fills }}.symbol
                order by {{ fills }}.filled_at, {{ fills }}.order_id
                rows between unbounded preceding and current row
            )
        ) as accumulated
    ) as with_previous
{%- endmacro %}
