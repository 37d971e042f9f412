with

runs as (
    select
        run_id,
        initial_cash,
        is_fractional,
        commission_per_share,
        commission_bps,
        sec_fee_per_million,
        finra_taf_per_share,
        finra_taf_max
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

decided as (
    select
        run_id,
        trial,
        strategy,
        symbol,
        step,
        entry_decision_ts,
        entry_decision_close,
        target_weight,
        entry_bar_number,
        entry_at,
        entry_price,
        exit_decision_ts,
        exit_bar_number,
        exit_at,
        exit_price,
        exit_reason,
        held_through_bar_number
    from {{ ref('int_backtest_round_trips_decided') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- Each book's cash after a round trip sizes the next: one recursion step per round trip, every book at once (index lookups on the decided table). #}
walked as (
    with recursive walk as (
        select
            decided.run_id,
            decided.trial,
            decided.symbol,
            cast(0 as bigint) as step,
            runs.initial_cash as cash_after,
            cast(null as text) as strategy,
            cast(null as timestamptz) as entry_decision_ts,
            cast(null as numeric) as entry_decision_close,
            cast(null as numeric) as target_weight,
            cast(null as bigint) as entry_bar_number,
            cast(null as timestamptz) as entry_at,
            cast(null as numeric) as entry_price,
            cast(null as timestamptz) as exit_decision_ts,
            cast(null as bigint) as exit_bar_number,
            cast(null as timestamptz) as exit_at,
            cast(null as numeric) as exit_price,
            cast(null as text) as exit_reason,
            cast(null as bigint) as held_through_bar_number,
            cast(null as numeric) as cash_before,
            cast(null as numeric) as quantity,
            cast(null as numeric) as entry_fees,
            cast(null as numeric) as exit_fees,
            cast(null as numeric) as cash_while_held
        from decided
        inner join runs
            on decided.run_id = runs.run_id
        where decided.step = 1

        union all

        select
            walk.run_id,
            walk.trial,
            walk.symbol,
            decided.step,
            walk.cash_after - sized.quantity * decided.entry_price - fees.entry_fees
            + case
                when decided.exit_bar_number is not null
                    then sized.quantity * decided.exit_price - fees.exit_fees
                else 0
            end as cash_after,
            decided.strategy,
            decided.entry_decision_ts,
            decided.entry_decision_close,
            decided.target_weight,
            decided.entry_bar_number,
            decided.entry_at,
            decided.entry_price,
            decided.exit_decision_ts,
            decided.exit_bar_number,
            decided.exit_at,
            decided.exit_price,
            decided.exit_reason,
            decided.held_through_bar_number,
            walk.cash_after as cash_before,
            sized.quantity,
            fees.entry_fees,
            fees.exit_fees,
            walk.cash_after - sized.quantity * decided.entry_price - fees.entry_fees
                as cash_while_held
        from walk
        inner join decided
            on
                walk.run_id = decided.run_id
                and walk.trial = decided.trial
                and walk.symbol = decided.symbol
                and walk.step + 1 = decided.step
        inner join runs
            on walk.run_id = runs.run_id
        cross join lateral (
            select
                greatest(
                    0,
                    case
                        when runs.is_fractional
                            then decided.target_weight * walk.cash_after / decided.entry_decision_close
                        else floor(decided.target_weight * walk.cash_after / decided.entry_decision_close)
                    end
                ) as quantity
        ) as sized
        cross join lateral (
            select
                {{ backtest_fees('sized.quantity', 'decided.entry_price', 'false', 'runs') }}
                    as entry_fees,
                case
                    when decided.exit_bar_number is not null
                        then {{ backtest_fees('sized.quantity', 'decided.exit_price', 'true', 'runs') }}
                end as exit_fees
        ) as fees
    )

    select * from walk
    where step > 0
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(step as bigint) as step,
        cast(entry_decision_ts as timestamptz) as entry_decision_ts,
        trim_scale(cast(entry_decision_close as numeric)) as entry_decision_close,
        trim_scale(cast(target_weight as numeric)) as target_weight,
        trim_scale(cast(quantity as numeric)) as quantity,
        cast(quantity = 0 as boolean) as is_rejected,
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
        trim_scale(cast(exit_fees as numeric)) as exit_fees,
        cast(exit_bar_number is null as boolean) as is_open,
        trim_scale(cast(cash_before as numeric)) as cash_before,
        trim_scale(cast(cash_while_held as numeric)) as cash_while_held,
        trim_scale(cast(cash_after as numeric)) as cash_after
    from walked
    union all
    {#- A portfolio run's round trips were sized by the replay (one account): no per-book cash. #}
    select
        run_id,
        trial,
        strategy,
        symbol,
        step,
        entry_decision_ts,
        entry_decision_close,
        target_weight,
        quantity,
        false as is_rejected,
        entry_bar_number,
        entry_at,
        entry_price,
        entry_fees,
        exit_decision_ts,
        exit_bar_number,
        exit_at,
        exit_price,
        exit_reason,
        held_through_bar_number,
        exit_fees,
        exit_bar_number is null as is_open,
        cast(null as numeric) as cash_before,
        cast(null as numeric) as cash_while_held,
        cast(null as numeric) as cash_after
    from {{ ref('int_backtest_portfolio_round_trips') }}
    where {{ backtest_run_filter('run_id') }}
)

select * from final
