{% macro risk_reviewed(orders, max_signal_age_minutes) -%}
    {#- Every rule that applies, in the order listed; the first names the decision. #}
    select
        *,
        cardinality(rejection_reasons) = 0 as is_approved,
        rejection_reasons[1] as rejection_reason,
        case
            when cardinality(rejection_reasons) > 0 then 'rejected'
            when target_qty < proposed_qty then 'reduced'
            else 'approved'
        end as outcome
    from (
        select
            *,
            array_remove(
                array[
                    case when trading_state = 'HALTED' then 'trading_halted' end,
                    case when not broker_allows then 'broker_order_rules' end,
                    case when trading_state = 'REDUCING' and side = 'buy' then 'trading_reducing' end,
                    case
                        when as_of - decision_at > interval '1 minute' * {{ max_signal_age_minutes }}
                            then 'stale_signal'
                    end,
                    case when has_open_order then 'open_order_pending' end,
                    case when side = 'buy' and max_position_value is null then 'no_risk_limit' end,
                    case when side = 'buy' and equity is null then 'no_account_equity' end,
                    case
                        when side = 'buy' and open_positions + strategy_buy_rank > max_positions
                            then 'max_positions'
                    end,
                    case
                        when side = 'buy' and decision_at < cooldown_until then 'loss_streak_cooldown'
                    end,
                    case when side = 'buy' and exited_by_bracket then 'exited_by_bracket' end,
                    case
                        when
                            side = 'buy'
                            and account_open_positions + account_buy_rank > max_open_positions
                            then 'max_open_positions'
                    end,
                    case
                        when
                            side = 'buy'
                            and gross_value + buy_value_so_far > max_gross_exposure * equity
                            then 'max_gross_exposure'
                    end,
                    case
                        when
                            side = 'buy' and net_value + buy_value_so_far > max_net_exposure * equity
                            then 'max_net_exposure'
                    end,
                    case when qty is null or qty < qty_step then 'qty_below_one' end,
                    case when qty <> floor(qty) and not is_fractional then 'fractional_qty' end,
                    case when side = 'buy' and order_value < min_order_value then 'min_order_value' end
                ],
                null
            ) as rejection_reasons,
            array_remove(
                array[
                    case
                        when side = 'buy' and max_position_value < wanted_value
                            then 'max_position_value'
                    end,
                    case
                        when side = 'buy' and max_position_weight * equity < wanted_value
                            then 'max_position_weight'
                    end,
                    case when side = 'buy' and max_order_value < wanted_value then 'max_order_value' end
                ],
                null
            ) as reductions
        from {{ orders }}
    ) as reasons
{%- endmacro %}
