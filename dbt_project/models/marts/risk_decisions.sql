with

signals as (
    select
        strategy,
        symbol,
        timeframe,
        ts,
        decision_at,
        signal,
        strength,
        target_weight,
        in_position,
        reference_price
    from {{ ref('signals') }}
),

strategy_positions as (
    select
        fill_id,
        strategy,
        symbol,
        fill_number,
        filled_at,
        position_qty,
        closed_qty,
        realized_pl,
        is_bracket_exit
    from {{ ref('int_strategy_positions_accumulated') }}
),

strategy_specs as (
    select
        strategy,
        applies_from,
        effective_to,
        max_positions,
        entry_order_type,
        time_in_force,
        exit_order_type,
        limit_offset,
        stop_offset,
        take_profit,
        stop_loss
    from {{ ref('stg_trading__strategy_params') }}
),

account_snapshots as (
    select
        snapshot_at,
        equity
    from {{ ref('stg_alpaca__account_snapshots') }}
),

broker_orders as (
    select
        order_id,
        client_order_id,
        parent_order_id,
        symbol,
        submitted_at,
        closed_at
    from {{ ref('stg_alpaca__orders') }}
),

assets as (
    select
        symbol,
        is_fractionable
    from {{ ref('stg_alpaca__assets') }}
),

order_submissions as (
    select
        symbol,
        is_open,
        created_at
    from {{ ref('stg_trading__order_submissions') }}
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

broker_positions as (
    select
        snapshot_at,
        symbol,
        qty,
        market_value
    from {{ ref('stg_alpaca__position_snapshots') }}
),

trading_state as (
    select state
    from {{ ref('trading_state') }}
),

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

deciding_bars as (
    select distinct on (signals.strategy, signals.symbol)
        signals.*,
        decision_time.as_of
    from signals
    cross join decision_time
    where
        signals.decision_at <= decision_time.as_of
        {#- Older signals would be rejected as stale anyway; the bound keeps this cheap. #}
        and signals.decision_at > decision_time.as_of - interval '7 days'
    order by signals.strategy asc, signals.symbol asc, signals.decision_at desc, signals.ts desc
),

{#-
    A bracket's take-profit or stop-loss leg closed the position after the signal's latest
    entry (its newest buy bar): the signal still wants the position, but re-buying at once
    would undo the exit. The strategy waits for its next entry. Entries older than the 7 days
    looked at count as before the exit.
-#}
latest_entries as (
    select
        signals.strategy,
        signals.symbol,
        max(signals.decision_at) as entered_at
    from signals
    cross join decision_time
    where
        signals.signal = 'buy'
        and signals.decision_at <= decision_time.as_of
        and signals.decision_at > decision_time.as_of - interval '7 days'
    group by signals.strategy, signals.symbol
),

bracket_exits as (
    select
        strategy_positions.strategy,
        strategy_positions.symbol,
        max(strategy_positions.filled_at) as exited_at
    from strategy_positions
    cross join decision_time
    where
        strategy_positions.is_bracket_exit
        and strategy_positions.filled_at < decision_time.as_of
    group by strategy_positions.strategy, strategy_positions.symbol
),

exited_since_entry as (
    select
        bracket_exits.strategy,
        bracket_exits.symbol
    from bracket_exits
    left join latest_entries
        on
            bracket_exits.strategy = latest_entries.strategy
            and bracket_exits.symbol = latest_entries.symbol
    where latest_entries.entered_at is null or latest_entries.entered_at <= bracket_exits.exited_at
),

positions_as_of as (
    select distinct on (strategy_positions.strategy, strategy_positions.symbol)
        strategy_positions.strategy,
        strategy_positions.symbol,
        strategy_positions.position_qty
    from strategy_positions
    cross join decision_time
    where strategy_positions.filled_at < decision_time.as_of
    order by
        strategy_positions.strategy asc,
        strategy_positions.symbol asc,
        strategy_positions.fill_number desc
),

open_positions_per_strategy as (
    select
        strategy,
        count(*) as open_positions
    from positions_as_of
    where position_qty <> 0
    group by strategy
),

specs_as_of as (
    select
        strategy_specs.strategy,
        strategy_specs.max_positions,
        strategy_specs.entry_order_type,
        strategy_specs.time_in_force,
        strategy_specs.exit_order_type,
        strategy_specs.limit_offset,
        strategy_specs.stop_offset,
        strategy_specs.take_profit,
        strategy_specs.stop_loss
    from strategy_specs
    cross join decision_time
    where
        strategy_specs.applies_from <= decision_time.as_of
        and (
            strategy_specs.effective_to is null
            or strategy_specs.effective_to > decision_time.as_of
        )
),

policy_as_of as (
    select risk_policy.*
    from risk_policy
    cross join decision_time
    where risk_policy.effective_from <= decision_time.as_of
    order by risk_policy.effective_from desc
    limit 1
),

{#- Our trades that closed shares in each symbol (any strategy), newest first. #}
closing_fills as (
    select
        strategy_positions.symbol,
        strategy_positions.filled_at,
        strategy_positions.realized_pl,
        row_number() over (
            partition by strategy_positions.symbol
            order by strategy_positions.filled_at desc, strategy_positions.fill_id desc
        ) as recency
    from strategy_positions
    cross join decision_time
    where
        strategy_positions.closed_qty > 0
        and strategy_positions.strategy <> 'external'
        and strategy_positions.filled_at < decision_time.as_of
),

{#- A symbol whose last loss_streak_trades closing trades all lost, and when the last one was. #}
loss_streaks as (
    select
        closing_fills.symbol,
        max(closing_fills.filled_at) as last_loss_at
    from closing_fills
    cross join policy_as_of
    where closing_fills.recency <= policy_as_of.loss_streak_trades
    group by closing_fills.symbol, policy_as_of.loss_streak_trades
    having
        count(*) = policy_as_of.loss_streak_trades
        and bool_and(closing_fills.realized_pl < 0)
),

{#- The account as the broker last reported it: its positions, their value, how many. #}
account_exposure as (
    select
        count(*) filter (where broker_positions.qty <> 0) as account_open_positions,
        coalesce(sum(abs(broker_positions.market_value)), 0) as gross_value,
        coalesce(sum(broker_positions.market_value), 0) as net_value
    from broker_positions
    where broker_positions.snapshot_at = (
        select max(account_snapshots.snapshot_at)
        from account_snapshots
        cross join decision_time
        where account_snapshots.snapshot_at <= decision_time.as_of
    )
),

equity_as_of as (
    select account_snapshots.equity
    from account_snapshots
    cross join decision_time
    where account_snapshots.snapshot_at <= decision_time.as_of
    order by account_snapshots.snapshot_at desc
    limit 1
),

{#-
    Orders open at the broker at as_of, each with the client_order_id of its group: a bracket's
    exit legs carry ids the broker made up, so they are known by their entry's.
-#}
broker_orders_open_as_of as (
    select
        broker_orders.symbol,
        broker_orders.parent_order_id is not null as is_exit_leg,
        coalesce(entries.client_order_id, broker_orders.client_order_id) as group_client_order_id
    from broker_orders
    cross join decision_time
    left join broker_orders as entries
        on broker_orders.parent_order_id = entries.order_id
    where
        broker_orders.submitted_at < decision_time.as_of
        and (broker_orders.closed_at is null or broker_orders.closed_at >= decision_time.as_of)
),

submissions_open_as_of as (
    select order_submissions.symbol
    from order_submissions
    cross join decision_time
    where
        order_submissions.created_at < decision_time.as_of
        and order_submissions.is_open
),

open_orders as (
    select
        symbol,
        is_exit_leg,
        group_client_order_id
    from broker_orders_open_as_of
    union all
    select
        symbol,
        false,
        null
    from submissions_open_as_of
),

decision_inputs as (
    select
        deciding_bars.*,
        coalesce(positions_as_of.position_qty, 0) as current_qty,
        coalesce(open_positions_per_strategy.open_positions, 0) as open_positions,
        specs_as_of.max_positions,
        equity_as_of.equity,
        coalesce(symbol_limits.max_position_value, default_limits.max_position_value)
            as max_position_value,
        specs_as_of.entry_order_type,
        specs_as_of.time_in_force,
        specs_as_of.exit_order_type,
        specs_as_of.limit_offset,
        specs_as_of.stop_offset,
        specs_as_of.take_profit,
        specs_as_of.stop_loss,
        trading_state.state as trading_state,
        policy_as_of.fractional_trading,
        coalesce(assets.is_fractionable, false) as is_fractionable,
        exited_since_entry.symbol is not null as exited_by_bracket,
        policy_as_of.max_position_weight,
        policy_as_of.max_gross_exposure,
        policy_as_of.max_net_exposure,
        policy_as_of.max_open_positions,
        policy_as_of.min_order_value,
        policy_as_of.max_order_value,
        account_exposure.account_open_positions,
        account_exposure.gross_value,
        account_exposure.net_value,
        loss_streaks.last_loss_at
            + policy_as_of.loss_streak_cooldown_bars * {{ timeframe_interval('deciding_bars.timeframe') }}
            as cooldown_until
    from deciding_bars
    cross join trading_state
    cross join account_exposure
    left join policy_as_of
        on true
    left join loss_streaks
        on deciding_bars.symbol = loss_streaks.symbol
    left join positions_as_of
        on
            deciding_bars.strategy = positions_as_of.strategy
            and deciding_bars.symbol = positions_as_of.symbol
    left join open_positions_per_strategy
        on deciding_bars.strategy = open_positions_per_strategy.strategy
    left join specs_as_of
        on deciding_bars.strategy = specs_as_of.strategy
    left join equity_as_of
        on true
    left join risk_limits as symbol_limits
        on deciding_bars.symbol = symbol_limits.symbol
    left join risk_limits as default_limits
        on default_limits.symbol = '*'
    left join assets
        on deciding_bars.symbol = assets.symbol
    left join exited_since_entry
        on
            deciding_bars.strategy = exited_since_entry.strategy
            and deciding_bars.symbol = exited_since_entry.symbol
),

{#-
    Entries (buys) use the spec's order type, a bracket being a market entry with exit legs;
    exits use its exit type. Every order of a strategy has its time in force.
-#}
candidate_orders as (
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
    from decision_inputs
    where
        (in_position and current_qty = 0)
        or (not in_position and current_qty > 0)
),

{#-
    Open orders in the symbol block a new one, except, for an exit, the live legs of the
    strategy's own bracket there: the executor cancels those first (cancel_open_exits).
-#}
with_open_orders as (
    select
        candidate_orders.*,
        broker_order_rules.order_type is not null as broker_allows,
        coalesce(
            broker_order_rules.allows_fractional and candidate_orders.fractional_trading
            and candidate_orders.is_fractionable,
            false
        ) as is_fractional,
        exists (
            select
            from open_orders
            where
                open_orders.symbol = candidate_orders.symbol
                and not (
                    candidate_orders.side = 'sell' and open_orders.is_exit_leg
                    and open_orders.group_client_order_id
                    like candidate_orders.strategy || '-' || candidate_orders.symbol || '-%'
                )
        ) as has_open_order,
        candidate_orders.side = 'sell' and exists (
            select
            from open_orders
            where
                open_orders.symbol = candidate_orders.symbol
                and open_orders.is_exit_leg
                and open_orders.group_client_order_id
                like candidate_orders.strategy || '-' || candidate_orders.symbol || '-%'
        ) as cancel_open_exits
    from candidate_orders
    left join broker_order_rules
        on
            candidate_orders.order_class = broker_order_rules.order_class
            and candidate_orders.order_type = broker_order_rules.order_type
            and candidate_orders.time_in_force = broker_order_rules.time_in_force
),

{#- Whole shares, or millionths of one where fractional trading is allowed. #}
sized_orders as (
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
        from with_open_orders
    ) as stepped
),

{#-
    Prices from the deciding close, rounded the cautious way onto the broker's increment: a buy
    limit or stop-loss down, a sell limit, buy stop or take-profit up.
-#}
ordered as (
    select
        *,
        abs(target_qty - current_qty) as qty,
        abs(target_qty - current_qty) * reference_price as order_value,
        case
            when order_type = 'limit' and side = 'buy'
                then {{ price_on_increment('reference_price * (1 + limit_offset)', 'down') }}
            when order_type = 'limit'
                then {{ price_on_increment('reference_price * (1 - limit_offset)', 'up') }}
            when order_type = 'stop_limit'
                then {{ price_on_increment(
                    'reference_price * (1 + stop_offset) * (1 + limit_offset)', 'down'
                ) }}
        end as limit_price,
        case
            when order_type in ('stop', 'stop_limit')
                then {{ price_on_increment('reference_price * (1 + stop_offset)', 'up') }}
        end as stop_price,
        case
            when order_class = 'bracket'
                then {{ price_on_increment('reference_price * (1 + take_profit)', 'up') }}
        end as take_profit_price,
        case
            when order_class = 'bracket'
                then {{ price_on_increment('reference_price * (1 - stop_loss)', 'down') }}
        end as stop_loss_price
    from sized_orders
),

{#-
    The buys of one run count against the limits together: ranked by strength (then
    strategy and symbol), each buy is checked with the ones before it, whether those pass or
    not (conservative), so two buys cannot both take the last free place.
-#}
ranked as (
    select
        *,
        case when side = 'buy' then
            row_number() over (
                partition by strategy, side = 'buy' order by strength desc, symbol
            )
        end as strategy_buy_rank,
        case when side = 'buy' then
            row_number() over (
                partition by side = 'buy' order by strength desc, strategy, symbol
            )
        end as account_buy_rank,
        case when side = 'buy' then
            sum(coalesce(order_value, 0)) over (
                partition by side = 'buy' order by strength desc, strategy, symbol
                rows between unbounded preceding and current row
            )
        end as buy_value_so_far
    from ordered
),

{#- Every rule that applies, in the order they are listed; the first names the decision. #}
reviewed as (
    select
        *,
        array_remove(
            array[
                case when trading_state = 'HALTED' then 'trading_halted' end,
                case when not broker_allows then 'broker_order_rules' end,
                case when trading_state = 'REDUCING' and side = 'buy' then 'trading_reducing' end,
                case
                    when as_of - decision_at
                        > interval '1 minute' * {{ var('max_signal_age_minutes') }}
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
    from ranked
),

final as (
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
        cast(cardinality(rejection_reasons) = 0 as boolean) as is_approved,
        cast(
            case
                when cardinality(rejection_reasons) > 0 then 'rejected'
                when target_qty < proposed_qty then 'reduced'
                else 'approved'
            end as text
        ) as outcome,
        cast(rejection_reasons[1] as text) as rejection_reason,
        cast(rejection_reasons as text []) as rejection_reasons,
        cast(reductions as text []) as reductions,
        cast(proposed_qty as numeric) as proposed_qty,
        cast(cooldown_until as timestamptz) as cooldown_until
    from reviewed
)

select * from final
