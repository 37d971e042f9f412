{%- set qty_tolerance = var('reconciliation_qty_tolerance') -%}
{%- set cash_tolerance = var('reconciliation_cash_tolerance') -%}
{%- set equity_tolerance = var('reconciliation_equity_tolerance') -%}

with

decision_time as (
    select {{ as_of_timestamp() }} as as_of
),

account_snapshots as (
    select
        snapshot_at,
        cash,
        equity,
        ingested_at
    from {{ ref('stg_alpaca__account_snapshots') }}
),

position_snapshots as (
    select
        snapshot_at,
        symbol,
        qty,
        market_value,
        current_price
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

fill_landings as (
    select
        fill_id,
        ingested_at
    from {{ ref('stg_alpaca__fills') }}
),

order_submissions as (
    select
        client_order_id,
        symbol,
        status,
        created_at,
        updated_at
    from {{ ref('stg_trading__order_submissions') }}
),

broker_orders as (
    select client_order_id
    from {{ ref('stg_alpaca__orders') }}
),

{#-
    A snapshot is stamped with its cycle's time but taken when it was landed, after the
    cycle's own orders filled; it cannot have been taken later than var
    reconciliation_capture_minutes after its stamp (a cycle takes a minute or two), which also
    bounds snapshots landed long after their time (a backfill, a test data set).
-#}
snapshots_so_far as (
    select
        account_snapshots.snapshot_at,
        least(
            account_snapshots.ingested_at,
            account_snapshots.snapshot_at
            + interval '1 minute' * {{ var('reconciliation_capture_minutes') }}
        ) as captured_at,
        account_snapshots.ingested_at as landed_at,
        account_snapshots.cash,
        account_snapshots.equity
    from account_snapshots
    cross join decision_time
    where account_snapshots.snapshot_at <= decision_time.as_of
),

{#-
    Which fills a snapshot includes, for the position, cash and equity checks alike: those
    filled before it was taken (captured_at). A cycle snapshots the account after its own
    orders filled, later than the cycle's time the snapshot is stamped with: by the stamp alone
    every cycle's own trades would be missing from its snapshot, and two trading cycles in a
    row would halt. So a fill counts from the earliest-stamped snapshot taken after it, or from
    its fill time if that is earlier, and is in every snapshot from then on: the checks can run
    over fills and snapshots in time order.
-#}
capture_events as (
    select
        captured_at as at,
        0 as event_order,
        snapshot_at,
        cast(null as text) as fill_id
    from snapshots_so_far
    union all
    select
        filled_at,
        1,
        null,
        fill_id
    from fills
),

fills_captured_by as (
    select
        fill_id,
        min(snapshot_at) over later_captures as first_snapshot_taken_after
    from capture_events
    window later_captures as (
        order by at desc, event_order rows between unbounded preceding and current row
    )
),

{#-
    One row per fill with the time it counts from: a snapshot includes the fills counted at or
    before its time. A fill after every snapshot so far counts from its fill time.
-#}
counted_fills as (
    select
        fills.symbol,
        fills.signed_qty,
        fills.price,
        least(fills.filled_at, fills_captured_by.first_snapshot_taken_after) as counted_at,
        fill_landings.ingested_at as landed_at
    from fills
    left join fills_captured_by
        on fills.fill_id = fills_captured_by.fill_id
    left join fill_landings
        on fills.fill_id = fill_landings.fill_id
),

{#-
    When everything a snapshot's checks read had landed, on the database's clock: the latest
    landing among the snapshots up to it and the fills counted in it. A resume acknowledges the
    mismatches landed before it (marts.trading_state); a late fill that changes an old
    snapshot's check makes it new evidence.
-#}
landing_events as (
    select
        counted_at as at,
        0 as event_order,
        landed_at
    from counted_fills
    union all
    select
        snapshot_at,
        1,
        landed_at
    from snapshots_so_far
),

landings_running as (
    select
        *,
        max(landed_at) over events_so_far as landed_so_far
    from landing_events
    window events_so_far as (
        order by at, event_order rows between unbounded preceding and current row
    )
),

snapshot_landings as (
    select
        at as snapshot_at,
        landed_so_far as landed_at
    from landings_running
    where event_order = 1
),

{#- The two latest snapshots at or before as_of: a difference must be in both to count. -#}
recent_snapshots as (
    select
        snapshot_at,
        row_number() over (order by snapshot_at desc) as recency
    from snapshots_so_far
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
        counted_fills.symbol,
        sum(counted_fills.signed_qty) as qty
    from counted_fills
    inner join recent_snapshots
        on counted_fills.counted_at <= recent_snapshots.snapshot_at
    where recent_snapshots.recency <= 2
    group by recent_snapshots.recency, counted_fills.symbol
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
    A fill the broker booked after our sync and before the snapshot (an order still filling
    while the cycle synced) is in that snapshot but not in the fills counted at it; it is in
    both at the next snapshot. So a position only disagrees when it disagrees at the two latest
    snapshots.
-#}
position_checks as (
    select
        'position' as check_name,
        latest.symbol as subject,
        recent_snapshots.snapshot_at as detected_at,
        snapshot_landings.landed_at,
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
    inner join snapshot_landings
        on recent_snapshots.snapshot_at = snapshot_landings.snapshot_at
    left join position_differences as previous
        on previous.recency = 2 and latest.symbol = previous.symbol
    where latest.recency = 1
),

{#-
    Cash, over every pair of snapshots two apart: the broker's cash must move by what the fills
    counted in between paid and received (a fill counted at a snapshot's time is in it), within
    var reconciliation_cash_tolerance plus 0.1% of the value traded (fees). Two snapshots apart,
    so a fill the broker booked after our sync and before its snapshot (in that snapshot but
    counted at the next) falls inside the next window; and a mismatch must show in two
    consecutive windows. Each mismatch is kept with its snapshot time, so trading stays halted
    until a resume after it.
-#}
cash_events as (
    select
        counted_fills.counted_at as at,
        1 as event_order,
        -counted_fills.signed_qty * counted_fills.price as flow,
        abs(counted_fills.signed_qty * counted_fills.price) as traded,
        cast(null as numeric) as cash
    from counted_fills
    cross join decision_time
    where counted_fills.counted_at <= decision_time.as_of
    union all
    select
        snapshot_at,
        2,
        0,
        0,
        cash
    from snapshots_so_far
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
        flagged.snapshot_at as detected_at,
        snapshot_landings.landed_at,
        flagged.cash - flagged.cash_change + flagged.fill_flow as ours,
        flagged.cash as broker,
        flagged.is_mismatch,
        'our fills since two snapshots before leave '
        || round(flagged.cash - flagged.cash_change + flagged.fill_flow, 2)
        || ' USD of cash; the broker reports ' || round(flagged.cash, 2) as detail
    from (
        select
            *,
            differs and coalesce(lag(differs) over (order by snapshot_at), false) as is_mismatch
        from cash_differences
    ) as flagged
    inner join snapshot_landings
        on flagged.snapshot_at = snapshot_landings.snapshot_at
    where flagged.is_mismatch or flagged.recency = 1
),

{#-
    Equity: at every snapshot the broker's reported equity must be its cash plus the shares our
    fills counted in it add up to, each valued at the broker's price for it at that snapshot.
    Cash is the broker's own (the cash check compares its movement); this checks what the
    positions are worth.
-#}
held_symbols as (
    select distinct symbol
    from counted_fills
),

{#-
    Our shares of each symbol at every snapshot, running over fills and snapshots in time order
    (a fill counted at a snapshot's time is in it), and the price of our latest fill before it:
    the first row of each run since a fill (Postgres has no last_value ignore nulls).
-#}
holding_events as (
    select
        symbol,
        counted_at as at,
        0 as event_order,
        signed_qty,
        price
    from counted_fills
    union all
    select
        held_symbols.symbol,
        snapshots_so_far.snapshot_at,
        1,
        0,
        null
    from snapshots_so_far
    cross join held_symbols
),

holdings_running as (
    select
        *,
        sum(signed_qty) over running as held,
        count(price) over running as fills_so_far
    from holding_events
    window running as (
        partition by symbol
        order by at, event_order rows between unbounded preceding and current row
    )
),

holdings_with_fill_price as (
    select
        *,
        first_value(price) over (
            partition by symbol, fills_so_far order by at, event_order
        ) as last_fill_price
    from holdings_running
),

broker_marks as (
    select
        snapshot_at,
        symbol,
        coalesce(current_price, market_value / nullif(qty, 0)) as mark
    from position_snapshots
),

{#-
    A symbol the broker does not list (it holds none: the position check flags that too) is
    valued at our last fill price. One it lists without a price leaves the snapshot unvalued:
    we do not invent the broker's price, so that snapshot is not checked.
-#}
valued_holdings as (
    select
        holdings_with_fill_price.at as snapshot_at,
        holdings_with_fill_price.symbol,
        holdings_with_fill_price.held,
        case
            when broker_marks.symbol is null then holdings_with_fill_price.last_fill_price
            else broker_marks.mark
        end as mark
    from holdings_with_fill_price
    left join broker_marks
        on
            holdings_with_fill_price.at = broker_marks.snapshot_at
            and holdings_with_fill_price.symbol = broker_marks.symbol
    where holdings_with_fill_price.event_order = 1 and holdings_with_fill_price.held <> 0
),

equity_valuations as (
    select
        snapshots_so_far.snapshot_at,
        snapshots_so_far.cash,
        snapshots_so_far.equity,
        snapshots_so_far.cash
        + coalesce(sum(valued_holdings.held * valued_holdings.mark), 0) as valued,
        coalesce(sum(abs(valued_holdings.held * valued_holdings.mark)), 0) as gross,
        string_agg(valued_holdings.symbol, ', ' order by valued_holdings.symbol)
            filter (where valued_holdings.mark is null) as unpriced
    from snapshots_so_far
    left join valued_holdings
        on snapshots_so_far.snapshot_at = valued_holdings.snapshot_at
    group by snapshots_so_far.snapshot_at, snapshots_so_far.cash, snapshots_so_far.equity
),

{#-
    Within var reconciliation_equity_tolerance plus 0.1% of the positions' value: the account and
    the positions are two requests, and a price may tick between them. Like cash, a difference
    must show at two consecutive snapshots to be a mismatch (a fill the broker booked between the
    sync and the snapshot is in one snapshot only); each mismatch is kept with its time.
-#}
equity_differences as (
    select
        snapshot_at,
        cash,
        equity,
        unpriced,
        case when unpriced is null then round(valued, 2) end as ours,
        unpriced is null
        and abs(valued - equity) > {{ equity_tolerance }} + 0.001 * gross as differs,
        row_number() over (order by snapshot_at desc) as recency
    from equity_valuations
),

equity_flagged as (
    select
        equity_differences.*,
        snapshot_landings.landed_at,
        equity_differences.differs
        and coalesce(
            lag(equity_differences.differs) over (order by equity_differences.snapshot_at), false
        ) as is_mismatch
    from equity_differences
    inner join snapshot_landings
        on equity_differences.snapshot_at = snapshot_landings.snapshot_at
),

equity_checks as (
    select
        'equity' as check_name,
        'account' as subject,
        snapshot_at as detected_at,
        landed_at,
        ours,
        equity as broker,
        is_mismatch,
        case
            when unpriced is not null
                then
                    'the broker lists no price for ' || unpriced
                    || ', which our fills hold: equity not checked at this snapshot'
            else
                'cash ' || round(cash, 2) || ' plus the shares our fills add up to at the '
                || 'broker''s prices make ' || ours || ' USD; the broker reports '
                || round(equity, 2) || ' USD of equity'
                || case
                    when is_mismatch
                        then
                            ', ' || round(abs(equity - ours), 2)
                            || ' USD apart (at this snapshot and the one before)'
                    else ''
                end
        end as detail
    from equity_flagged
    where is_mismatch or recency = 1
),

external_fills as (
    select
        'external_fill' as check_name,
        fills.symbol as subject,
        fills.filled_at as detected_at,
        fill_landings.ingested_at as landed_at,
        cast(0 as numeric) as ours,
        fills.signed_qty as broker,
        'fill ' || fills.fill_id || ' of order ' || fills.order_id || ' ('
        || coalesce(fills.client_order_id, 'no client_order_id')
        || ') carries no strategy prefix: a manual trade or a liquidation' as detail
    from fills
    cross join decision_time
    left join fill_landings
        on fills.fill_id = fill_landings.fill_id
    where fills.is_external and fills.filled_at <= decision_time.as_of
),

missing_orders as (
    select
        'order' as check_name,
        order_submissions.client_order_id as subject,
        order_submissions.created_at as detected_at,
        order_submissions.updated_at as landed_at,
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
        landed_at,
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
        landed_at,
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
        landed_at,
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
        landed_at,
        ours,
        broker,
        is_mismatch,
        detail
    from cash_checks
    union all
    select
        check_name,
        subject,
        detected_at,
        landed_at,
        ours,
        broker,
        is_mismatch,
        detail
    from equity_checks
),

final as (
    select
        cast(check_name as text) as check_name,
        cast(subject as text) as subject,
        cast(detected_at as timestamptz) as detected_at,
        cast(landed_at as timestamptz) as landed_at,
        cast(ours as numeric) as ours,
        cast(broker as numeric) as broker,
        cast(is_mismatch as boolean) as is_mismatch,
        cast(detail as text) as detail
    from checks
)

select * from final
