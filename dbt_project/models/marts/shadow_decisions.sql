{#-
    The track record: each build adds one decision time (as_of) and never rewrites an earlier
    one, so --full-refresh must not drop it. A decision time already recorded adds nothing (the
    hourly flow builds this twice per cycle: the record is what the cycle decided before it
    traded).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
    indexes=[
        {'columns': ['strategy', 'as_of', 'symbol'], 'unique': true},
        {'columns': ['as_of']},
    ],
) }}

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

bars as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        open,
        close
    from {{ ref('stg_alpaca__bars') }}
),

account_snapshots as (
    select
        snapshot_at,
        equity
    from {{ ref('stg_alpaca__account_snapshots') }}
),

{{ risk_reference_inputs() }}

trading_state as (
    select state
    from {{ ref('trading_state') }}
),

{% if is_incremental() %}
recorded as (
    select
        strategy,
        symbol,
        timeframe,
        as_of,
        decision_at,
        decision_id,
        client_order_id,
        side,
        qty,
        is_approved
    from {{ this }}
),
{% else %}
recorded as (
    select
        cast(null as text) as strategy,
        cast(null as text) as symbol,
        cast(null as text) as timeframe,
        cast(null as timestamptz) as as_of,
        cast(null as timestamptz) as decision_at,
        cast(null as uuid) as decision_id,
        cast(null as text) as client_order_id,
        cast(null as text) as side,
        cast(null as numeric) as qty,
        cast(null as boolean) as is_approved
    where false
),
{% endif %}

decision_time as (
    select {{ as_of_timestamp() }} as as_of
    where not exists (
        select
        from recorded
        where recorded.as_of = {{ as_of_timestamp() }}
    )
),

specs_as_of as (
    {{ risk_specs_as_of('strategy_specs', 'decision_time') }}
),

shadow_books as (
    select
        as_of,
        strategy,
        timeframe
    from specs_as_of
    where mode = 'shadow'
),

shadow_signals as (
    select signals.*
    from signals
    where exists (
        select
        from shadow_books
        where shadow_books.strategy = signals.strategy
    )
),

deciding_bars as (
    {{ risk_deciding_bars('shadow_signals', 'decision_time') }}
),

{#- The paper book: the orders decided at earlier decision times, filled at the next bar's open. #}
earlier_decisions as (
    select recorded.*
    from recorded
    inner join decision_time
        on recorded.as_of < decision_time.as_of
),

paper_orders as (
    {{ shadow_paper_orders('earlier_decisions', 'bars') }}
),

known_fills as (
    select paper_orders.*
    from paper_orders
    inner join decision_time
        on paper_orders.known_at <= decision_time.as_of
),

paper_fills as (
    {{ shadow_positions_accumulated('known_fills') }}
),

{#- An order whose fill bar has not closed by the decision time is still open. #}
paper_open_orders as (
    select
        decision_time.as_of,
        paper_orders.strategy,
        paper_orders.symbol,
        false as is_exit_leg,
        paper_orders.client_order_id as group_client_order_id
    from paper_orders
    inner join decision_time
        on paper_orders.known_at is null or paper_orders.known_at > decision_time.as_of
),

positions_as_of as (
    {{ risk_positions_as_of('paper_fills', 'decision_time') }}
),

open_positions_per_strategy as (
    {{ risk_strategy_open_positions('positions_as_of') }}
),

policy_as_of as (
    {{ risk_policy_as_of('risk_policy', 'decision_time') }}
),

equity_as_of as (
    {{ risk_equity_as_of('account_snapshots', 'decision_time') }}
),

paper_exposure as (
    {{ paper_book_exposure('shadow_books', 'positions_as_of', 'bars') }}
),

state_as_of as (
    select
        decision_time.as_of,
        trading_state.state
    from trading_state
    cross join decision_time
),

loss_streaks as (
    {{ risk_loss_streaks('paper_fills', 'policy_as_of', book='strategy') }}
),

exited_since_entry as (
    {{ risk_bracket_exits('shadow_signals', 'paper_fills', 'decision_time') }}
),

decision_inputs as (
    {{ risk_decision_inputs(
        deciding_bars='deciding_bars',
        positions='positions_as_of',
        open_positions='open_positions_per_strategy',
        specs='specs_as_of',
        policy='policy_as_of',
        equity='equity_as_of',
        exposure='paper_exposure',
        loss_streaks='loss_streaks',
        bracket_exits='exited_since_entry',
        trading_state='state_as_of',
        risk_limits='risk_limits',
        assets='assets',
        book='strategy'
    ) }}
),

{{ risk_review(
    'decision_inputs',
    'paper_open_orders',
    'broker_order_rules',
    'broker_price_increments',
    var('max_signal_age_minutes'),
    book='strategy'
) }}

orders as (
    {{ risk_decision_record('reviewed', 'shadow') }}
),

{#- Every deciding bar is a decision: an order (approved, reduced, rejected) or none wanted. #}
decisions as (
    select
        decision_inputs.strategy,
        decision_inputs.symbol,
        decision_inputs.timeframe,
        decision_inputs.as_of,
        decision_inputs.ts as decision_ts,
        decision_inputs.decision_at,
        decision_inputs.signal,
        decision_inputs.in_position,
        decision_inputs.strength,
        decision_inputs.target_weight,
        decision_inputs.reference_price,
        decision_inputs.current_qty,
        decision_inputs.equity,
        decision_inputs.open_positions,
        decision_inputs.max_positions,
        decision_inputs.trading_state,
        coalesce(orders.outcome, 'no_order') as outcome,
        coalesce(orders.is_approved, false) as is_approved,
        orders.rejection_reason,
        orders.rejection_reasons,
        orders.reductions,
        orders.decision_id,
        orders.client_order_id,
        orders.side,
        orders.qty,
        orders.proposed_qty,
        orders.target_qty,
        orders.order_class,
        orders.order_type,
        orders.time_in_force,
        orders.limit_price,
        orders.stop_price,
        orders.take_profit_price,
        orders.stop_loss_price,
        orders.cancel_open_exits,
        orders.max_position_value,
        orders.has_open_order,
        orders.cooldown_until
    from decision_inputs
    left join orders
        on
            decision_inputs.as_of = orders.as_of
            and decision_inputs.strategy = orders.strategy
            and decision_inputs.symbol = orders.symbol
),

final as (
    select
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(as_of as timestamptz) as as_of,
        cast(timeframe as text) as timeframe,
        cast(decision_ts as timestamptz) as decision_ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(signal as text) as signal,
        cast(in_position as boolean) as in_position,
        cast(strength as double precision) as strength,
        cast(target_weight as numeric) as target_weight,
        cast(reference_price as numeric) as reference_price,
        cast(current_qty as numeric) as current_qty,
        cast(outcome as text) as outcome,
        cast(is_approved as boolean) as is_approved,
        cast(rejection_reason as text) as rejection_reason,
        cast(rejection_reasons as text []) as rejection_reasons,
        cast(reductions as text []) as reductions,
        cast(decision_id as uuid) as decision_id,
        cast(client_order_id as text) as client_order_id,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast(proposed_qty as numeric) as proposed_qty,
        cast(target_qty as numeric) as target_qty,
        cast(order_class as text) as order_class,
        cast(order_type as text) as order_type,
        cast(time_in_force as text) as time_in_force,
        cast(limit_price as numeric) as limit_price,
        cast(stop_price as numeric) as stop_price,
        cast(take_profit_price as numeric) as take_profit_price,
        cast(stop_loss_price as numeric) as stop_loss_price,
        cast(cancel_open_exits as boolean) as cancel_open_exits,
        cast(equity as numeric) as equity,
        cast(max_position_value as numeric) as max_position_value,
        cast(open_positions as integer) as open_positions,
        cast(max_positions as integer) as max_positions,
        cast(has_open_order as boolean) as has_open_order,
        cast(trading_state as text) as trading_state,
        cast(cooldown_until as timestamptz) as cooldown_until,
        cast(now() as timestamptz) as recorded_at
    from decisions
)

select * from final
