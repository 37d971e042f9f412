with

runs as (
    select
        run_id,
        strategy,
        symbols,
        start_at,
        end_at
    from {{ ref('stg_trading__backtest_runs') }}
    {#- A backtest (one trial) is compared; a sweep's trials are not. #}
    where {{ backtest_run_filter('run_id') }} and kind = 'backtest'
),

trials as (
    select
        run_id,
        trial
    from {{ ref('stg_trading__backtest_trials') }}
    where {{ backtest_run_filter('run_id') }}
),

backtest_trades as (
    select
        run_id,
        trial,
        symbol,
        trade_number,
        entry_decision_ts,
        entry_at,
        entry_price,
        exit_decision_ts,
        exit_at,
        exit_price,
        quantity,
        exit_reason
    from {{ ref('backtest_trades') }}
    where
        {{ backtest_run_filter('run_id') }}
        and run_id in (select runs.run_id from runs)
),

bars as (
    select
        run_id,
        symbol,
        ts,
        bar_number
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

strategy_fills as (
    select
        fill_id,
        strategy,
        symbol,
        fill_number,
        filled_at,
        signed_qty,
        price,
        round_trip_number,
        closes_round_trip,
        is_bracket_exit
    from {{ ref('int_strategy_positions_accumulated') }}
),

attributed_fills as (
    select
        fill_id,
        client_order_id
    from {{ ref('int_fills_attributed') }}
),

order_submissions as (
    select
        client_order_id,
        decision_ts
    from {{ ref('stg_trading__order_submissions') }}
),

{#- The live fills of the run's strategy and symbols, each with the bar its order was decided on (none for a bracket's exit leg). #}
live_fills as (
    select
        runs.run_id,
        strategy_fills.symbol,
        strategy_fills.round_trip_number,
        strategy_fills.fill_number,
        strategy_fills.filled_at,
        strategy_fills.signed_qty,
        strategy_fills.price,
        strategy_fills.closes_round_trip,
        strategy_fills.is_bracket_exit,
        order_submissions.decision_ts,
        sign(strategy_fills.signed_qty) = sign(first_value(strategy_fills.signed_qty) over (
            partition by strategy_fills.symbol, strategy_fills.round_trip_number
            order by strategy_fills.fill_number
        )) as is_entry
    from strategy_fills
    inner join runs
        on
            strategy_fills.strategy = runs.strategy
            and strategy_fills.symbol = any(runs.symbols)
    left join attributed_fills
        on strategy_fills.fill_id = attributed_fills.fill_id
    left join order_submissions
        on attributed_fills.client_order_id = order_submissions.client_order_id
),

live_round_trips as (
    select
        run_id,
        symbol,
        round_trip_number,
        (array_agg(decision_ts order by fill_number) filter (where is_entry))[1]
            as entry_decision_ts,
        min(filled_at) filter (where is_entry) as entry_at,
        sum(signed_qty * price) filter (where is_entry)
        / sum(signed_qty) filter (where is_entry) as entry_price,
        sum(abs(signed_qty)) filter (where is_entry) as quantity,
        bool_or(closes_round_trip) as is_closed,
        max(decision_ts) filter (where closes_round_trip) as exit_decision_ts,
        max(filled_at) filter (where closes_round_trip) as exit_at,
        sum(signed_qty * price) filter (where not is_entry)
        / sum(signed_qty) filter (where not is_entry) as exit_price,
        coalesce(bool_or(is_bracket_exit) filter (where closes_round_trip), false)
            as is_bracket_exit
    from live_fills
    group by run_id, symbol, round_trip_number
),

{#- The live round trips entered in the run's window (the bar that decided the entry is one of the window's bars), once per trial: each trial's backtest is paired with them apart. #}
live_in_window as (
    select
        live_round_trips.*,
        trials.trial,
        case
            when not live_round_trips.is_closed then 'open'
            when live_round_trips.is_bracket_exit then 'bracket'
            when live_round_trips.exit_decision_ts is not null then 'signal'
            else 'other'
        end as exit_reason
    from live_round_trips
    inner join runs
        on live_round_trips.run_id = runs.run_id
    inner join trials
        on live_round_trips.run_id = trials.run_id
    where
        coalesce(live_round_trips.entry_decision_ts, live_round_trips.entry_at)
        >= coalesce(runs.start_at, '-infinity')
        and coalesce(live_round_trips.entry_decision_ts, live_round_trips.entry_at)
        < coalesce(runs.end_at, 'infinity')
),

{#- A live entry is the twin of the backtest round trip whose decided holding (from its entry decision to its exit decision) it was decided in; the first live entry in it claims it. #}
live_claims as (
    select
        live_in_window.*,
        backtest_trades.trade_number as claimed_trade_number,
        row_number() over (
            partition by live_in_window.trial, live_in_window.symbol, backtest_trades.trade_number
            order by live_in_window.entry_decision_ts, live_in_window.round_trip_number
        ) as claim_rank
    from live_in_window
    left join backtest_trades
        on
            live_in_window.run_id = backtest_trades.run_id
            and live_in_window.trial = backtest_trades.trial
            and live_in_window.symbol = backtest_trades.symbol
            and live_in_window.entry_decision_ts >= backtest_trades.entry_decision_ts
            and (
                backtest_trades.exit_decision_ts is null
                or live_in_window.entry_decision_ts < backtest_trades.exit_decision_ts
            )
),

live_paired as (
    select
        *,
        case when claim_rank = 1 then claimed_trade_number end as trade_number
    from live_claims
),

paired as (
    select
        coalesce(backtest_trades.run_id, live_paired.run_id) as run_id,
        coalesce(backtest_trades.trial, live_paired.trial) as trial,
        coalesce(backtest_trades.symbol, live_paired.symbol) as symbol,
        case
            when backtest_trades.trade_number is null then 'only_live'
            when live_paired.round_trip_number is null then 'only_backtest'
            else 'matched'
        end as match,
        backtest_trades.trade_number,
        live_paired.round_trip_number as live_round_trip_number,
        backtest_trades.entry_decision_ts as backtest_entry_decision_ts,
        live_paired.entry_decision_ts as live_entry_decision_ts,
        backtest_trades.entry_at as backtest_entry_at,
        live_paired.entry_at as live_entry_at,
        backtest_trades.entry_price as backtest_entry_price,
        live_paired.entry_price as live_entry_price,
        backtest_trades.quantity as backtest_quantity,
        live_paired.quantity as live_quantity,
        backtest_trades.exit_decision_ts as backtest_exit_decision_ts,
        live_paired.exit_decision_ts as live_exit_decision_ts,
        case when backtest_trades.exit_reason = 'signal' then backtest_trades.exit_at end
            as backtest_exit_at,
        live_paired.exit_at as live_exit_at,
        case when backtest_trades.exit_reason = 'signal' then backtest_trades.exit_price end
            as backtest_exit_price,
        live_paired.exit_price as live_exit_price,
        backtest_trades.exit_reason as backtest_exit_reason,
        live_paired.exit_reason as live_exit_reason
    from backtest_trades
    full outer join live_paired
        on
            backtest_trades.run_id = live_paired.run_id
            and backtest_trades.trial = live_paired.trial
            and backtest_trades.symbol = live_paired.symbol
            and backtest_trades.trade_number = live_paired.trade_number
),

compared as (
    select
        paired.*,
        runs.strategy,
        row_number() over (
            partition by paired.trial, paired.symbol
            order by
                coalesce(paired.backtest_entry_decision_ts, paired.live_entry_decision_ts),
                paired.live_entry_decision_ts,
                paired.live_round_trip_number,
                paired.trade_number
        ) as pair_number,
        case
            when paired.match = 'matched'
                then live_entry_bars.bar_number - backtest_entry_bars.bar_number
        end as entry_decision_lag_bars,
        case
            when paired.match = 'matched'
                then live_exit_bars.bar_number - backtest_exit_bars.bar_number
        end as exit_decision_lag_bars,
        (paired.live_entry_price - paired.backtest_entry_price)
        / paired.backtest_entry_price * 10000 as entry_price_diff_bps,
        (paired.live_exit_price - paired.backtest_exit_price)
        / paired.backtest_exit_price * 10000 as exit_price_diff_bps
    from paired
    inner join runs
        on paired.run_id = runs.run_id
    left join bars as backtest_entry_bars
        on
            paired.run_id = backtest_entry_bars.run_id
            and paired.symbol = backtest_entry_bars.symbol
            and paired.backtest_entry_decision_ts = backtest_entry_bars.ts
    left join bars as live_entry_bars
        on
            paired.run_id = live_entry_bars.run_id
            and paired.symbol = live_entry_bars.symbol
            and paired.live_entry_decision_ts = live_entry_bars.ts
    left join bars as backtest_exit_bars
        on
            paired.run_id = backtest_exit_bars.run_id
            and paired.symbol = backtest_exit_bars.symbol
            and paired.backtest_exit_decision_ts = backtest_exit_bars.ts
    left join bars as live_exit_bars
        on
            paired.run_id = live_exit_bars.run_id
            and paired.symbol = live_exit_bars.symbol
            and paired.live_exit_decision_ts = live_exit_bars.ts
),

final as (
    select
        cast(run_id as uuid) as run_id,
        cast(trial as integer) as trial,
        cast(strategy as text) as strategy,
        cast(symbol as text) as symbol,
        cast(pair_number as bigint) as pair_number,
        cast(match as text) as match,
        cast(trade_number as bigint) as trade_number,
        cast(live_round_trip_number as bigint) as live_round_trip_number,
        cast(backtest_entry_decision_ts as timestamptz) as backtest_entry_decision_ts,
        cast(live_entry_decision_ts as timestamptz) as live_entry_decision_ts,
        cast(entry_decision_lag_bars as bigint) as entry_decision_lag_bars,
        cast(backtest_entry_at as timestamptz) as backtest_entry_at,
        cast(live_entry_at as timestamptz) as live_entry_at,
        trim_scale(cast(backtest_entry_price as numeric)) as backtest_entry_price,
        trim_scale(cast(live_entry_price as numeric)) as live_entry_price,
        cast(entry_price_diff_bps as double precision) as entry_price_diff_bps,
        trim_scale(cast(backtest_quantity as numeric)) as backtest_quantity,
        trim_scale(cast(live_quantity as numeric)) as live_quantity,
        cast(backtest_exit_decision_ts as timestamptz) as backtest_exit_decision_ts,
        cast(live_exit_decision_ts as timestamptz) as live_exit_decision_ts,
        cast(exit_decision_lag_bars as bigint) as exit_decision_lag_bars,
        cast(backtest_exit_at as timestamptz) as backtest_exit_at,
        cast(live_exit_at as timestamptz) as live_exit_at,
        trim_scale(cast(backtest_exit_price as numeric)) as backtest_exit_price,
        trim_scale(cast(live_exit_price as numeric)) as live_exit_price,
        cast(exit_price_diff_bps as double precision) as exit_price_diff_bps,
        cast(backtest_exit_reason as text) as backtest_exit_reason,
        cast(live_exit_reason as text) as live_exit_reason
    from compared
)

select * from final
