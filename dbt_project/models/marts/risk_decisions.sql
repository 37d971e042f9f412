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
    {{ risk_deciding_bars('signals', 'decision_time') }}
),

positions_as_of as (
    {{ risk_positions_as_of('strategy_positions', 'decision_time') }}
),

open_positions_per_strategy as (
    {{ risk_strategy_open_positions('positions_as_of') }}
),

specs_as_of as (
    {{ risk_specs_as_of('strategy_specs', 'decision_time') }}
),

policy_as_of as (
    {{ risk_policy_as_of('risk_policy', 'decision_time') }}
),

equity_as_of as (
    {{ risk_equity_as_of('account_snapshots', 'decision_time') }}
),

account_exposure as (
    {{ risk_account_exposure('broker_positions', 'account_snapshots', 'decision_time') }}
),

state_as_of as (
    select
        decision_time.as_of,
        trading_state.state
    from trading_state
    cross join decision_time
),

loss_streaks as (
    {{ risk_loss_streaks('strategy_positions', 'policy_as_of') }}
),

exited_since_entry as (
    {{ risk_bracket_exits('signals', 'strategy_positions', 'decision_time') }}
),

open_orders as (
    {{ risk_open_orders('broker_orders', 'order_submissions', 'decision_time') }}
),

decision_inputs as (
    {{ risk_decision_inputs(
        deciding_bars='deciding_bars',
        positions='positions_as_of',
        open_positions='open_positions_per_strategy',
        specs='specs_as_of',
        policy='policy_as_of',
        equity='equity_as_of',
        exposure='account_exposure',
        loss_streaks='loss_streaks',
        bracket_exits='exited_since_entry',
        trading_state='state_as_of',
        risk_limits='risk_limits',
        assets='assets'
    ) }}
),

candidate_orders as (
    {{ risk_candidate_orders('decision_inputs') }}
),

allowed_orders as (
    {{ risk_broker_order_rules('candidate_orders', 'broker_order_rules') }}
),

with_open_orders as (
    {{ risk_open_order_checks('allowed_orders', 'open_orders') }}
),

sized_orders as (
    {{ risk_sized_orders('with_open_orders') }}
),

priced_orders as (
    {{ risk_order_prices('sized_orders', 'broker_price_increments') }}
),

ranked as (
    {{ risk_ranked_buys('priced_orders') }}
),

reviewed as (
    {{ risk_reviewed('ranked', var('max_signal_age_minutes')) }}
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
        cast(is_approved as boolean) as is_approved,
        cast(outcome as text) as outcome,
        cast(rejection_reason as text) as rejection_reason,
        cast(rejection_reasons as text []) as rejection_reasons,
        cast(reductions as text []) as reductions,
        cast(proposed_qty as numeric) as proposed_qty,
        cast(cooldown_until as timestamptz) as cooldown_until
    from reviewed
)

select * from final
