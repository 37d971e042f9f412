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
        mode,
        timeframe,
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

{{ risk_reference_inputs() }}

order_submissions as (
    select
        symbol,
        is_open,
        created_at
    from {{ ref('stg_trading__order_submissions') }}
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

shadow_decisions as (
    select
        decision_id,
        client_order_id,
        strategy,
        symbol,
        timeframe,
        signal,
        side,
        qty,
        order_class,
        order_type,
        time_in_force,
        limit_price,
        stop_price,
        take_profit_price,
        stop_loss_price,
        cancel_open_exits,
        decision_ts,
        decision_at,
        as_of,
        reference_price,
        strength,
        target_weight,
        equity,
        current_qty,
        target_qty,
        max_position_value,
        open_positions,
        max_positions,
        has_open_order,
        trading_state,
        is_approved,
        outcome,
        rejection_reason,
        rejection_reasons,
        reductions,
        proposed_qty,
        cooldown_until
    from {{ ref('shadow_decisions') }}
),

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

all_deciding_bars as (
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

{#- Shadow strategies decide in marts.shadow_decisions, against their own paper books. #}
deciding_bars as (
    select all_deciding_bars.*
    from all_deciding_bars
    where not exists (
        select
        from specs_as_of
        where
            specs_as_of.as_of = all_deciding_bars.as_of
            and specs_as_of.strategy = all_deciding_bars.strategy
            and specs_as_of.mode = 'shadow'
    )
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

{{ risk_review(
    'decision_inputs',
    'open_orders',
    'broker_order_rules',
    'broker_price_increments',
    var('max_signal_age_minutes')
) }}

live_decisions as (
    {{ risk_decision_record('reviewed', 'live') }}
),

shadow_decisions_now as (
    select
        shadow_decisions.decision_id,
        shadow_decisions.client_order_id,
        shadow_decisions.strategy,
        cast('shadow' as text) as mode,
        shadow_decisions.symbol,
        shadow_decisions.timeframe,
        shadow_decisions.signal,
        shadow_decisions.side,
        shadow_decisions.qty,
        shadow_decisions.order_class,
        shadow_decisions.order_type,
        shadow_decisions.time_in_force,
        shadow_decisions.limit_price,
        shadow_decisions.stop_price,
        shadow_decisions.take_profit_price,
        shadow_decisions.stop_loss_price,
        shadow_decisions.cancel_open_exits,
        shadow_decisions.decision_ts,
        shadow_decisions.decision_at,
        shadow_decisions.as_of,
        shadow_decisions.reference_price,
        shadow_decisions.strength,
        shadow_decisions.target_weight,
        shadow_decisions.equity,
        shadow_decisions.current_qty,
        shadow_decisions.target_qty,
        shadow_decisions.max_position_value,
        shadow_decisions.open_positions,
        shadow_decisions.max_positions,
        shadow_decisions.has_open_order,
        shadow_decisions.trading_state,
        shadow_decisions.is_approved,
        shadow_decisions.outcome,
        shadow_decisions.rejection_reason,
        shadow_decisions.rejection_reasons,
        shadow_decisions.reductions,
        shadow_decisions.proposed_qty,
        shadow_decisions.cooldown_until
    from shadow_decisions
    inner join decision_time
        on shadow_decisions.as_of = decision_time.as_of
    where shadow_decisions.side is not null
),

final as (
    select * from live_decisions
    union all
    select * from shadow_decisions_now
)

select * from final
