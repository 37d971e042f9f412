with

runs as (
    select
        run_id,
        initial_cash,
        slippage_bps,
        commission_per_share,
        commission_bps,
        sec_fee_per_million,
        finra_taf_per_share,
        finra_taf_max
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

bars as (
    select
        run_id,
        strategy,
        symbol,
        bar_number,
        ts,
        bar_end_at,
        low,
        high,
        close,
        in_position,
        target_weight,
        next_bar_number,
        next_ts,
        next_open
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- The wanted position after each bar: the last signal's in_position (a bar without a signal row, a warm-up bar, decides nothing), false before the first. Key bar_number * 2 + wanted: the largest so far is the last signal, its parity what it wanted. #}
wanted as (
    select
        *,
        coalesce(
            max(bar_number * 2 + cast(in_position as integer)) over (
                partition by run_id, symbol order by bar_number
                rows between unbounded preceding and current row
            ) % 2 = 1,
            false
        ) as wants
    from bars
),

changes as (
    select
        *,
        wants and not coalesce(lag(wants) over symbol_bars, false) as starts_wanting,
        not wants and coalesce(lag(wants) over symbol_bars, false) as stops_wanting
    from wanted
    window symbol_bars as (partition by run_id, symbol order by bar_number)
),

entries as (
    select
        run_id,
        strategy,
        symbol,
        row_number() over (partition by run_id, symbol order by bar_number) as episode_number,
        ts as entry_decision_ts,
        close as entry_decision_close,
        target_weight,
        next_bar_number as entry_bar_number,
        next_ts as entry_at,
        next_open as entry_open
    from changes
    where starts_wanting
),

exits as (
    select
        run_id,
        symbol,
        row_number() over (partition by run_id, symbol order by bar_number) as episode_number,
        ts as exit_decision_ts,
        next_bar_number as exit_bar_number,
        next_ts as exit_at,
        next_open as exit_open
    from changes
    where stops_wanting
),

{#- An entry decided on a symbol's last bar never fills; every other wanted stretch is one step of its book. #}
episodes as materialized (
    select
        entries.run_id,
        entries.strategy,
        entries.symbol,
        row_number() over (
            partition by entries.run_id, entries.symbol order by entries.episode_number
        ) as step,
        entries.entry_decision_ts,
        entries.entry_decision_close,
        entries.target_weight,
        entries.entry_bar_number,
        entries.entry_at,
        entries.entry_open * (1 + runs.slippage_bps / 10000) as entry_price,
        exits.exit_decision_ts,
        exits.exit_bar_number,
        exits.exit_at,
        exits.exit_open * (1 - runs.slippage_bps / 10000) as exit_price,
        runs.initial_cash,
        runs.commission_per_share,
        runs.commission_bps,
        runs.sec_fee_per_million,
        runs.finra_taf_per_share,
        runs.finra_taf_max
    from entries
    inner join runs
        on entries.run_id = runs.run_id
    left join exits
        on
            entries.run_id = exits.run_id
            and entries.symbol = exits.symbol
            and entries.episode_number = exits.episode_number
    where entries.entry_bar_number is not null
),

{#- Each book's cash after a round trip sizes the next: a recursion over the steps, all books at once. #}
walked as (
    with recursive walk as (
        select
            run_id,
            symbol,
            cast(0 as bigint) as step,
            cast(null as numeric) as cash_before,
            cast(null as numeric) as quantity,
            cast(null as numeric) as entry_fees,
            cast(null as numeric) as exit_fees,
            cast(null as numeric) as cash_while_held,
            initial_cash as cash_after
        from episodes
        where step = 1

        union all

        select
            walk.run_id,
            walk.symbol,
            episodes.step,
            walk.cash_after as cash_before,
            sized.quantity,
            fees.entry_fees,
            fees.exit_fees,
            walk.cash_after - sized.quantity * episodes.entry_price - fees.entry_fees
                as cash_while_held,
            walk.cash_after - sized.quantity * episodes.entry_price - fees.entry_fees
            + case
                when episodes.exit_bar_number is not null
                    then sized.quantity * episodes.exit_price - fees.exit_fees
                else 0
            end as cash_after
        from walk
        inner join episodes
            on
                walk.run_id = episodes.run_id
                and walk.symbol = episodes.symbol
                and episodes.step = walk.step + 1
        cross join lateral (
            select
                greatest(
                    0, floor(episodes.target_weight * walk.cash_after / episodes.entry_decision_close)
                ) as quantity
        ) as sized
        cross join lateral (
            select
                sized.quantity * episodes.commission_per_share
                + sized.quantity * episodes.entry_price * episodes.commission_bps / 10000
                    as entry_fees,
                case
                    when episodes.exit_bar_number is not null
                        then
                            sized.quantity * episodes.commission_per_share
                            + sized.quantity * episodes.exit_price * episodes.commission_bps / 10000
                            + sized.quantity * episodes.exit_price * episodes.sec_fee_per_million
                            / 1000000
                            + least(
                                sized.quantity * episodes.finra_taf_per_share,
                                episodes.finra_taf_max
                            )
                end as exit_fees
        ) as fees
    )

    select * from walk
    where step > 0
),

simulated as (
    select
        episodes.run_id,
        episodes.strategy,
        episodes.symbol,
        episodes.step,
        episodes.entry_decision_ts,
        episodes.entry_decision_close,
        episodes.target_weight,
        episodes.entry_bar_number,
        episodes.entry_at,
        episodes.entry_price,
        episodes.exit_decision_ts,
        episodes.exit_bar_number,
        episodes.exit_at,
        episodes.exit_price,
        walked.quantity,
        walked.entry_fees,
        walked.exit_fees,
        walked.cash_before,
        walked.cash_while_held,
        walked.cash_after
    from episodes
    inner join walked
        on
            episodes.run_id = walked.run_id
            and episodes.symbol = walked.symbol
            and episodes.step = walked.step
),

{#- The trade each bar belongs to: the latest step entered at or before it, while it is held. #}
entered_bars as (
    select
        bars.run_id,
        bars.symbol,
        bars.bar_number,
        bars.low,
        bars.high,
        bars.close,
        max(simulated.step) over (
            partition by bars.run_id, bars.symbol order by bars.bar_number
            rows between unbounded preceding and current row
        ) as step
    from bars
    left join simulated
        on
            bars.run_id = simulated.run_id
            and bars.symbol = simulated.symbol
            and bars.bar_number = simulated.entry_bar_number
            and simulated.quantity > 0
),

excursions as (
    select
        entered_bars.run_id,
        entered_bars.symbol,
        entered_bars.step,
        min(entered_bars.low) as lowest_low,
        max(entered_bars.high) as highest_high,
        count(*) as bars_held
    from entered_bars
    inner join simulated
        on
            entered_bars.run_id = simulated.run_id
            and entered_bars.symbol = simulated.symbol
            and entered_bars.step = simulated.step
    where
        simulated.exit_bar_number is null
        or entered_bars.bar_number < simulated.exit_bar_number
    group by entered_bars.run_id, entered_bars.symbol, entered_bars.step
),

last_bars as (
    select distinct on (run_id, symbol)
        run_id,
        symbol,
        bar_end_at as last_marked_at,
        close as last_close
    from bars
    order by run_id asc, symbol asc, bar_number desc
),

final as (
    select
        cast(simulated.run_id as uuid) as run_id,
        cast(simulated.strategy as text) as strategy,
        cast(simulated.symbol as text) as symbol,
        cast(simulated.step as bigint) as step,
        cast(simulated.entry_decision_ts as timestamptz) as entry_decision_ts,
        trim_scale(cast(simulated.entry_decision_close as numeric)) as entry_decision_close,
        trim_scale(cast(simulated.target_weight as numeric)) as target_weight,
        trim_scale(cast(simulated.quantity as numeric)) as quantity,
        cast(simulated.quantity = 0 as boolean) as is_rejected,
        cast(simulated.entry_bar_number as bigint) as entry_bar_number,
        cast(simulated.entry_at as timestamptz) as entry_at,
        trim_scale(cast(simulated.entry_price as numeric)) as entry_price,
        trim_scale(cast(simulated.entry_fees as numeric)) as entry_fees,
        cast(simulated.exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(simulated.exit_bar_number as bigint) as exit_bar_number,
        cast(simulated.exit_at as timestamptz) as exit_at,
        trim_scale(cast(simulated.exit_price as numeric)) as exit_price,
        trim_scale(cast(simulated.exit_fees as numeric)) as exit_fees,
        cast(simulated.exit_bar_number is null as boolean) as is_open,
        cast(last_bars.last_marked_at as timestamptz) as last_marked_at,
        trim_scale(cast(last_bars.last_close as numeric)) as last_close,
        trim_scale(cast(excursions.lowest_low as numeric)) as lowest_low,
        trim_scale(cast(excursions.highest_high as numeric)) as highest_high,
        cast(excursions.bars_held as bigint) as bars_held,
        trim_scale(cast(simulated.cash_before as numeric)) as cash_before,
        trim_scale(cast(simulated.cash_while_held as numeric)) as cash_while_held,
        trim_scale(cast(simulated.cash_after as numeric)) as cash_after
    from simulated
    inner join last_bars
        on
            simulated.run_id = last_bars.run_id
            and simulated.symbol = last_bars.symbol
    left join excursions
        on
            simulated.run_id = excursions.run_id
            and simulated.symbol = excursions.symbol
            and simulated.step = excursions.step
)

select * from final
