{%- set qty_tolerance = var('reconciliation_qty_tolerance') -%}

with

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

account_snapshots as (
    select snapshot_at
    from {{ ref('stg_alpaca__account_snapshots') }}
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

latest_snapshot as (
    select max(account_snapshots.snapshot_at) as snapshot_at
    from account_snapshots
    cross join decision_time
    where account_snapshots.snapshot_at <= decision_time.as_of
),

broker_positions as (
    select
        position_snapshots.symbol,
        position_snapshots.qty
    from position_snapshots
    inner join latest_snapshot
        on position_snapshots.snapshot_at = latest_snapshot.snapshot_at
),

fill_positions as (
    select
        fills.symbol,
        sum(fills.signed_qty) as qty
    from fills
    inner join latest_snapshot
        on fills.filled_at <= latest_snapshot.snapshot_at
    group by fills.symbol
),

position_checks as (
    select
        'position' as check_name,
        coalesce(broker_positions.symbol, fill_positions.symbol) as subject,
        latest_snapshot.snapshot_at as detected_at,
        coalesce(fill_positions.qty, 0) as ours,
        coalesce(broker_positions.qty, 0) as broker
    from broker_positions
    full outer join fill_positions
        on broker_positions.symbol = fill_positions.symbol
    cross join latest_snapshot
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
        abs(ours - broker) > {{ qty_tolerance }} as is_mismatch,
        'our fills add up to ' || ours || ' shares; the broker holds ' || broker as detail
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
