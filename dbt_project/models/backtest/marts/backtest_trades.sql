with

round_trips as (
    select
        run_id,
        strategy,
        symbol,
        step,
        entry_decision_ts,
        entry_at,
        entry_price,
        entry_fees,
        exit_decision_ts,
        exit_at,
        exit_price,
        exit_fees,
        quantity,
        is_open,
        last_marked_at,
        last_close,
        lowest_low,
        highest_high,
        bars_held
    from {{ ref('int_backtest_round_trips_simulated') }}
    where {{ backtest_run_filter('run_id') }} and quantity > 0
),

valued as (
    select
        *,
        row_number() over (partition by run_id, symbol order by step) as trade_number,
        coalesce(exit_price, last_close) as closing_price,
        entry_fees + coalesce(exit_fees, 0) as fees,
        quantity * (coalesce(exit_price, last_close) - entry_price)
        - entry_fees - coalesce(exit_fees, 0) as pnl
    from round_trips
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(trade_number as bigint) as trade_number,
        cast(entry_decision_ts as timestamptz) as entry_decision_ts,
        cast(entry_at as timestamptz) as entry_at,
        trim_scale(cast(entry_price as numeric)) as entry_price,
        cast(exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(coalesce(exit_at, last_marked_at) as timestamptz) as exit_at,
        trim_scale(cast(closing_price as numeric)) as exit_price,
        trim_scale(cast(quantity as numeric)) as quantity,
        trim_scale(cast(fees as numeric)) as fees,
        trim_scale(cast(pnl as numeric)) as pnl,
        cast(pnl / (quantity * entry_price) as double precision) as return,
        cast(bars_held as bigint) as bars_held,
        cast(case when is_open then 'open' else 'signal' end as text) as exit_reason,
        cast(lowest_low / entry_price - 1 as double precision) as mae,
        cast(highest_high / entry_price - 1 as double precision) as mfe
    from valued
)

select * from final
