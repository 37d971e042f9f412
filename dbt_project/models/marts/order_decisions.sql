with

signals as (
    select
        strategy,
        symbol,
        timeframe,
        ts,
        decision_at,
        signal,
        reference_price
    from {{ ref('signals') }}
),

position_history as (
    select
        symbol,
        fill_number,
        filled_at,
        position_qty
    from {{ ref('int_positions_accumulated') }}
),

broker_orders as (
    select
        symbol,
        submitted_at,
        closed_at
    from {{ ref('stg_alpaca__orders') }}
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

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

deciding_bars as (
    select distinct on (signals.strategy, signals.symbol)
        signals.strategy,
        signals.symbol,
        signals.timeframe,
        signals.ts,
        signals.decision_at,
        signals.signal,
        signals.reference_price,
        decision_time.as_of
    from signals
    cross join decision_time
    where signals.decision_at <= decision_time.as_of
    order by signals.strategy asc, signals.symbol asc, signals.decision_at desc, signals.ts desc
),

positions_as_of as (
    select distinct on (position_history.symbol)
        position_history.symbol,
        position_history.position_qty
    from position_history
    cross join decision_time
    where position_history.filled_at < decision_time.as_of
    order by position_history.symbol asc, position_history.fill_number desc
),

broker_orders_open_as_of as (
    select broker_orders.symbol
    from broker_orders
    cross join decision_time
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

symbols_with_open_orders as (
    select symbol from broker_orders_open_as_of
    union
    select symbol from submissions_open_as_of
),

decision_inputs as (
    select
        deciding_bars.*,
        coalesce(positions_as_of.position_qty, 0) as current_qty,
        coalesce(symbol_limits.max_position_value, default_limits.max_position_value)
            as max_position_value,
        symbols_with_open_orders.symbol is not null as has_open_order
    from deciding_bars
    left join positions_as_of
        on deciding_bars.symbol = positions_as_of.symbol
    left join risk_limits as symbol_limits
        on deciding_bars.symbol = symbol_limits.symbol
    left join risk_limits as default_limits
        on default_limits.symbol = '*'
    left join symbols_with_open_orders
        on deciding_bars.symbol = symbols_with_open_orders.symbol
),

candidate_orders as (
    select
        *,
        case when signal = 'long' then 'buy' else 'sell' end as side,
        case
            when signal = 'long' then floor(max_position_value / nullif(reference_price, 0))
            else 0
        end as target_qty
    from decision_inputs
    where
        (signal = 'long' and current_qty = 0)
        or (signal = 'flat' and current_qty > 0)
),

sized_orders as (
    select
        *,
        abs(target_qty - current_qty) as qty
    from candidate_orders
),

reviewed as (
    select
        *,
        case
            when as_of - decision_at > interval '1 minute' * {{ var('max_signal_age_minutes') }}
                then 'stale_signal'
            when has_open_order
                then 'open_order_pending'
            when side = 'buy' and max_position_value is null
                then 'no_risk_limit'
            when qty is null or qty < 1
                then 'qty_below_one'
            when qty <> floor(qty)
                then 'fractional_qty'
            when side = 'buy' and qty * reference_price > max_position_value
                then 'max_position_value'
        end as rejection_reason
    from sized_orders
),

final as (
    select
        cast(
            strategy || '-' || symbol || '-' || to_char(ts at time zone 'UTC', 'YYYYMMDDHH24MI')
            as text
        ) as client_order_id,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(timeframe as text) as timeframe,
        cast(signal as text) as signal,
        cast(side as text) as side,
        cast(qty as numeric) as qty,
        cast('market' as text) as order_type,
        cast('day' as text) as time_in_force,
        cast(null as numeric) as limit_price,
        cast(ts as timestamptz) as decision_ts,
        cast(decision_at as timestamptz) as decision_at,
        cast(as_of as timestamptz) as as_of,
        cast(reference_price as numeric) as reference_price,
        cast(current_qty as numeric) as current_qty,
        cast(target_qty as numeric) as target_qty,
        cast(max_position_value as numeric) as max_position_value,
        cast(has_open_order as boolean) as has_open_order,
        cast(rejection_reason is null as boolean) as is_approved,
        cast(rejection_reason as text) as rejection_reason
    from reviewed
)

select * from final
