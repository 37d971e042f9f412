with

runs as (
    select
        run_id,
        slippage_bps,
        commission_per_share,
        commission_bps,
        sec_fee_per_million,
        finra_taf_per_share,
        finra_taf_max
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }} and mode = 'portfolio'
),

bars as not materialized (
    select
        run_id,
        symbol,
        bar_number,
        ts,
        bar_end_at,
        open,
        high,
        low
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- The orders the replay sent (approved, at least one share; its portfolio_orders), as decided, with their decision's bar. #}
decisions as (
    select
        run_id,
        strategy,
        symbol,
        timeframe,
        as_of,
        decision_ts,
        decision_at,
        decision_id,
        client_order_id,
        side,
        qty,
        order_class,
        take_profit_price,
        stop_loss_price,
        is_approved,
        reference_price,
        target_weight
    from {{ ref('backtest_portfolio_decisions') }}
    where {{ backtest_run_filter('run_id') }} and is_approved and qty > 0
),

{#- The same fills the replay's book saw, now over the whole record. #}
fills as (
    {{ backtest_paper_fills('decisions', 'bars', 'runs') }}
),

{#- Long only, one entry per round trip: the n-th buy of a symbol pairs with its n-th exit. #}
numbered as (
    select
        fills.*,
        decisions.decision_ts,
        decisions.reference_price,
        decisions.target_weight,
        row_number() over (
            partition by fills.run_id, fills.symbol, fills.side
            order by fills.filled_at, fills.is_bracket_exit
        ) as step
    from fills
    inner join decisions
        on
            fills.run_id = decisions.run_id
            and fills.client_order_id = decisions.client_order_id
),

paired as (
    select
        entries.run_id,
        entries.strategy,
        entries.symbol,
        entries.step,
        entries.decision_ts as entry_decision_ts,
        entries.reference_price as entry_decision_close,
        entries.target_weight,
        entries.qty as quantity,
        entries.bar_number as entry_bar_number,
        entries.filled_at as entry_at,
        entries.price as entry_price,
        entries.fees as entry_fees,
        case when not exits.is_bracket_exit then exits.decision_ts end as exit_decision_ts,
        exits.bar_number as exit_bar_number,
        exits.filled_at as exit_at,
        exits.price as exit_price,
        coalesce(exits.exit_reason, 'open') as exit_reason,
        case
            when exits.is_bracket_exit then exits.bar_number else exits.bar_number - 1
        end as held_through_bar_number,
        exits.fees as exit_fees
    from numbered as entries
    left join numbered as exits
        on
            entries.run_id = exits.run_id
            and entries.symbol = exits.symbol
            and entries.step = exits.step
            and exits.side = 'sell'
    where entries.side = 'buy'
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(1 as integer) as trial,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(step as bigint) as step,
        cast(entry_decision_ts as timestamptz) as entry_decision_ts,
        trim_scale(cast(entry_decision_close as numeric)) as entry_decision_close,
        trim_scale(cast(target_weight as numeric)) as target_weight,
        trim_scale(cast(quantity as numeric)) as quantity,
        cast(entry_bar_number as bigint) as entry_bar_number,
        cast(entry_at as timestamptz) as entry_at,
        trim_scale(cast(entry_price as numeric)) as entry_price,
        trim_scale(cast(entry_fees as numeric)) as entry_fees,
        cast(exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(exit_bar_number as bigint) as exit_bar_number,
        cast(exit_at as timestamptz) as exit_at,
        trim_scale(cast(exit_price as numeric)) as exit_price,
        cast(exit_reason as text) as exit_reason,
        cast(held_through_bar_number as bigint) as held_through_bar_number,
        trim_scale(cast(exit_fees as numeric)) as exit_fees
    from paired
)

select * from final
