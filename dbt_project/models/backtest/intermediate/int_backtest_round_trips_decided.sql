with

runs as (
    select
        run_id,
        slippage_bps
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

bars as (
    select
        run_id,
        symbol,
        ts,
        close,
        next_bar_number,
        next_ts,
        next_open
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- Buys and sells alternate in each trial's series of a symbol, starting with a buy: the n-th of each make the n-th round trip. #}
decisions as (
    select
        signals.run_id,
        signals.trial,
        signals.strategy,
        signals.symbol,
        signals.signal,
        signals.target_weight,
        signals.ts as decision_ts,
        bars.close as decision_close,
        bars.next_bar_number,
        bars.next_ts,
        bars.next_open,
        row_number() over (
            partition by signals.trial, signals.symbol, signals.signal order by signals.ts
        ) as episode_number
    from {{ ref('int_backtest_signals_selected') }} as signals
    inner join bars
        on
            signals.run_id = bars.run_id
            and signals.symbol = bars.symbol
            and signals.ts = bars.ts
    where {{ backtest_run_filter('signals.run_id') }}
),

entries as (
    select * from decisions
    where signal = 'buy' and next_bar_number is not null
),

exits as (
    select * from decisions
    where signal = 'sell'
),

paired as (
    select
        entries.run_id,
        entries.trial,
        entries.strategy,
        entries.symbol,
        entries.episode_number as step,
        entries.decision_ts as entry_decision_ts,
        entries.decision_close as entry_decision_close,
        entries.target_weight,
        entries.next_bar_number as entry_bar_number,
        entries.next_ts as entry_at,
        entries.next_open * (1 + runs.slippage_bps / 10000) as entry_price,
        exits.decision_ts as exit_decision_ts,
        exits.next_bar_number as exit_bar_number,
        exits.next_ts as exit_at,
        exits.next_open * (1 - runs.slippage_bps / 10000) as exit_price
    from entries
    inner join runs
        on entries.run_id = runs.run_id
    left join exits
        on
            entries.run_id = exits.run_id
            and entries.trial = exits.trial
            and entries.symbol = exits.symbol
            and entries.episode_number = exits.episode_number
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
        cast(entry_bar_number as bigint) as entry_bar_number,
        cast(entry_at as timestamptz) as entry_at,
        trim_scale(cast(entry_price as numeric)) as entry_price,
        cast(exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(exit_bar_number as bigint) as exit_bar_number,
        cast(exit_at as timestamptz) as exit_at,
        trim_scale(cast(exit_price as numeric)) as exit_price
    from paired
)

select * from final
