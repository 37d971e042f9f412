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
        strategy,
        symbol,
        bar_number,
        ts,
        close,
        in_position,
        target_weight,
        next_bar_number,
        next_ts,
        next_open
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- The key bar_number * 2 + in_position of each signalled bar: the largest so far is the last signal, its parity what it wanted. #}
wanted as (
    select
        *,
        coalesce(
            max(bar_number * 2 + cast(in_position as integer)) over (
                partition by symbol order by bar_number
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
    window symbol_bars as (partition by symbol order by bar_number)
),

entries as (
    select
        run_id,
        strategy,
        symbol,
        row_number() over (partition by symbol order by bar_number) as episode_number,
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
        row_number() over (partition by symbol order by bar_number) as episode_number,
        ts as exit_decision_ts,
        next_bar_number as exit_bar_number,
        next_ts as exit_at,
        next_open as exit_open
    from changes
    where stops_wanting
),

paired as (
    select
        entries.run_id,
        entries.strategy,
        entries.symbol,
        row_number() over (
            partition by entries.symbol order by entries.episode_number
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
        exits.exit_open * (1 - runs.slippage_bps / 10000) as exit_price
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

final as (
    select
        cast(run_id as uuid) as run_id,
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
