{%- set qty_tolerance = var('reconciliation_qty_tolerance') -%}
{%- set cash_tolerance = var('reconciliation_cash_tolerance') -%}

with

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

account_snapshots as (
    select
        snapshot_at,
        cash
    from {{ ref('stg_alpaca__account_snapshots') }}
),

state_events as (
    select
        recorded_at,
        action
    from {{ ref('stg_trading__state_events') }}
),

position_snapshots as (
    select
        snapshot_at,
        symbol,
        qty
    from {{ ref('stg_alpaca__position_snapshots') }}
),

fills as (
    select
        fill_id,
        order_id,
        client_order_id,
        is_external,
        symbol,
        signed_qty,
        price,
        filled_at
    from {{ ref('int_fills_attributed') }}
),

order_submissions as (
    select
        client_order_id,
        symbol,
        status,
        created_at
    from {{ ref('stg_trading__order_submissions') }}
),

broker_orders as (
    select client_order_id
    from {{ ref('stg_alpaca__orders') }}
),

{#- The two latest snapshots at or before as_of: a difference must be in both to count. #}
recent_snapshots as (
    select
        account_snapshots.snapshot_at,
        row_number() over (order by account_snapshots.snapshot_at desc) as recency
    from account_snapshots
    cross join decision_time
    where account_snapshots.snapshot_at <= decision_time.as_of
),

broker_positions as (
    select
        recent_snapshots.recency,
        position_snapshots.symbol,
        position_snapshots.qty
    from position_snapshots
    inner join recent_snapshots
        on position_snapshots.snapshot_at = recent_snapshots.snapshot_at
    where recent_snapshots.recency <= 2
),

fill_positions as (
    select
        recent_snapshots.recency,
        fills.symbol,
        sum(fills.signed_qty) as qty
    from fills
    inner join recent_snapshots
        on fills.filled_at <= recent_snapshots.snapshot_at
    where recent_snapshots.recency <= 2
    group by recent_snapshots.recency, fills.symbol
),

position_differences as (
    select
        coalesce(broker_positions.recency, fill_positions.recency) as recency,
        coalesce(broker_positions.symbol, fill_positions.symbol) as symbol,
        coalesce(fill_positions.qty, 0) as ours,
        coalesce(broker_positions.qty, 0) as broker
    from broker_positions
    full outer join fill_positions
        on
            broker_positions.recency = fill_positions.recency
            and broker_positions.symbol = fill_positions.symbol
),

{#-
    A fill the broker booked just after a cycle's time (its orders fill while the cycle runs)
    is in that snapshot but not in the fills up to it; it is in both at the next snapshot. So a
    position only disagrees when it disagrees at the two latest snapshots.
-#}
position_checks as (
    select
        'position' as check_name,
        latest.symbol as subject,
        recent_snapshots.snapshot_at as detected_at,
        latest.ours,
        latest.broker,
        abs(latest.ours - latest.broker) > {{ qty_tolerance }}
        and abs(coalesce(previous.ours, 0) - coalesce(previous.broker, 0))
        > {{ qty_tolerance }}
        and exists (select from recent_snapshots as earlier where earlier.recency = 2)
            as is_mismatch
    from position_differences as latest
    inner join recent_snapshots
        on recent_snapshots.recency = 1
    left join position_differences as previous
        on previous.recency = 2 and latest.symbol = previous.symbol
    where latest.recency = 1
),

{#-
    Cash, over every pair of snapshots two apart: the broker's cash must move by what all
    synced fills paid and received in between (a fill stamped at a snapshot's time counts as in
    it), within var reconciliation_cash_tolerance plus 0.1% of the value traded (fees). Two
    snapshots apart, so a fill booked while a cycle ran (in one snapshot but stamped after it)
    falls inside the next window; and a mismatch must show in two consecutive windows. Each
    mismatch is kept with its snapshot time, so trading stays halted until a resume after it.
-#}
cash_events as (
    select
        fills.filled_at as at,
        1 as event_order,
        -fills.signed_qty * fills.price as flow,
        abs(fills.signed_qty * fills.price) as traded,
        cast(null as numeric) as cash
    from fills
    cross join decision_time
    where fills.filled_at <= decision_time.as_of
    union all
    select
        account_snapshots.snapshot_at,
        2,
        0,
        0,
        account_snapshots.cash
    from account_snapshots
    cross join decision_time
    where account_snapshots.snapshot_at <= decision_time.as_of
),

cumulated as (
    select
        *,
        sum(flow) over events_so_far as flow_so_far,
        sum(traded) over events_so_far as traded_so_far
    from cash_events
    window events_so_far as (
        order by at, event_order rows between unbounded preceding and current row
    )
),

cash_windows as (
    select
        at as snapshot_at,
        cash,
        cash - lag(cash, 2) over snapshots as cash_change,
        flow_so_far - lag(flow_so_far, 2) over snapshots as fill_flow,
        traded_so_far - lag(traded_so_far, 2) over snapshots as traded,
        row_number() over (order by at desc) as recency
    from cumulated
    where event_order = 2
    window snapshots as (order by at)
),

cash_differences as (
    select
        *,
        abs(cash_change - fill_flow) > {{ cash_tolerance }} + 0.001 * traded as differs
    from cash_windows
    where cash_change is not null
),

cash_checks as (
    select
        'cash' as check_name,
        'account' as subject,
        snapshot_at as detected_at,
        cash - cash_change + fill_flow as ours,
        cash as broker,
        is_mismatch,
        'our fills since two snapshots before leave ' || round(cash - cash_change + fill_flow, 2)
        || ' USD of cash; the broker reports ' || round(cash, 2) as detail
    from (
        select
            *,
            differs and coalesce(lag(differs) over (order by snapshot_at), false) as is_mismatch
        from cash_differences
    ) as flagged
    where is_mismatch or recency = 1
),

external_fills as (
    select
        'external_fill' as check_name,
        fills.symbol as subject,
        fills.filled_at as detected_at,
        cast(0 as numeric) as ours,
        fills.signed_qty as broker,
        'fill ' || fills.fill_id || ' of order ' || fills.order_id || ' ('
        || coalesce(fills.client_order_id, 'no client_order_id')
        || ') carries no strategy prefix: a manual trade or a liquidation' as detail
    from fills
    cross join decision_time
    where fills.is_external and fills.filled_at <= decision_time.as_of
),

missing_orders as (
    select
        'order' as check_name,
        order_submissions.client_order_id as subject,
        order_submissions.created_at as detected_at,
        cast(1 as numeric) as ours,
        cast(0 as numeric) as broker,
        'we recorded ' || order_submissions.client_order_id
        || ' as submitted; the broker has no such order' as detail
    from order_submissions
    cross join decision_time
    left join broker_orders
        on order_submissions.client_order_id = broker_orders.client_order_id
    where
        order_submissions.status = 'submitted'
        and order_submissions.created_at <= decision_time.as_of
        and broker_orders.client_order_id is null
),

checks as (
    select
        check_name,
        subject,
        detected_at,
        ours,
        broker,
        is_mismatch,
        'our fills add up to ' || ours || ' shares; the broker holds ' || broker
        || ' (at this snapshot and the one before)' as detail
    from position_checks
    union all
    select
        check_name,
        subject,
        detected_at,
        ours,
        broker,
        true as is_mismatch,
        detail
    from external_fills
    union all
    select
        check_name,
        subject,
        detected_at,
        ours,
        broker,
        true as is_mismatch,
        detail
    from missing_orders
    union all
    select
        check_name,
        subject,
        detected_at,
        ours,
        broker,
        is_mismatch,
        detail
    from cash_checks
),

final as (
    select
        cast(check_name as text) as check_name,
        cast(subject as text) as subject,
        cast(detected_at as timestamptz) as detected_at,
        cast(ours as numeric) as ours,
        cast(broker as numeric) as broker,
        cast(is_mismatch as boolean) as is_mismatch,
        cast(detail as text) as detail
    from checks
)

select * from final
