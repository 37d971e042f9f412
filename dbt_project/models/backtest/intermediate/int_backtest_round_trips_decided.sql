with

runs as (
    select
        run_id,
        slippage_bps,
        entry_order_type,
        time_in_force,
        exit_order_type,
        limit_offset,
        stop_offset,
        take_profit,
        stop_loss
    from {{ ref('stg_trading__backtest_runs') }}
    where {{ backtest_run_filter('run_id') }}
),

{#- Not materialized: the lateral lookups below then use the index on (run_id, symbol, bar_number). #}
bars as not materialized (
    select
        run_id,
        symbol,
        bar_number,
        ts,
        open,
        high,
        low,
        close,
        cast(ts at time zone 'America/New_York' as date) as market_date
    from {{ ref('int_backtest_bars_selected') }}
    where {{ backtest_run_filter('run_id') }}
),

day_ends as (
    select
        run_id,
        symbol,
        market_date,
        max(bar_number) as last_bar_number
    from bars
    group by run_id, symbol, market_date
),

broker_price_increments as (
    select
        min_price,
        increment
    from {{ ref('broker_price_increments') }}
),

{#- Buys and sells alternate in each trial's series of a symbol, starting with a buy: the n-th of each make the n-th episode. #}
decisions as not materialized (
    select
        signals.run_id,
        signals.trial,
        signals.strategy,
        signals.symbol,
        signals.signal,
        signals.target_weight,
        signals.ts as decision_ts,
        bars.bar_number as decision_bar_number,
        bars.close as decision_close,
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

{#- Each episode's orders, priced by the live rule (macro risk_order_prices): the entry from the buy's close, a limit exit from the sell's. #}
entry_orders as (
    select
        buys.run_id,
        buys.trial,
        buys.strategy,
        buys.symbol,
        buys.episode_number,
        buys.target_weight,
        buys.decision_ts as entry_decision_ts,
        buys.decision_close as entry_decision_close,
        buys.decision_bar_number as entry_decision_bar_number,
        sells.decision_ts as exit_decision_ts,
        sells.decision_close as exit_decision_close,
        sells.decision_bar_number as exit_decision_bar_number,
        'buy' as side,
        case when runs.entry_order_type = 'bracket' then 'market' else runs.entry_order_type end
            as order_type,
        case when runs.entry_order_type = 'bracket' then 'bracket' else 'simple' end as order_class,
        buys.decision_close as reference_price,
        runs.slippage_bps,
        runs.time_in_force,
        runs.exit_order_type,
        runs.limit_offset,
        runs.stop_offset,
        runs.take_profit,
        runs.stop_loss,
        {#- A day order ends with the day it was first live on (the deciding bar's next bar's day). #}
        case
            when runs.time_in_force = 'day' then day_ends.last_bar_number
            else 9223372036854775807
        end as expires_after_bar_number
    from decisions as buys
    inner join runs
        on buys.run_id = runs.run_id
    left join bars as first_live
        on
            buys.run_id = first_live.run_id
            and buys.symbol = first_live.symbol
            and buys.decision_bar_number + 1 = first_live.bar_number
    left join day_ends
        on
            first_live.run_id = day_ends.run_id
            and first_live.symbol = day_ends.symbol
            and first_live.market_date = day_ends.market_date
    left join decisions as sells
        on
            buys.run_id = sells.run_id
            and buys.trial = sells.trial
            and buys.symbol = sells.symbol
            and buys.episode_number = sells.episode_number
            and sells.signal = 'sell'
    where buys.signal = 'buy'
),

entry_prices as (
    {{ risk_order_prices('entry_orders', 'broker_price_increments') }}
),

{#- The entry fills at the first bar after its decision that reaches its price, while the order lives: until the strategy stops wanting the symbol (its sell decision's bar) and, for a day order, to the end of the day it was first live on. #}
entered as (
    select
        entry_prices.*,
        fill.bar_number as entry_bar_number,
        fill.ts as entry_at,
        fill.price as entry_price
    from entry_prices
    cross join lateral (
        select
            bars.bar_number,
            bars.ts,
            case entry_prices.order_type
                when 'limit' then least(bars.open, entry_prices.limit_price)
                when 'stop'
                    then greatest(bars.open, entry_prices.stop_price)
                    * (1 + entry_prices.slippage_bps / 10000)
                when 'stop_limit' then greatest(bars.open, entry_prices.stop_price)
                else bars.open * (1 + entry_prices.slippage_bps / 10000)
            end as price
        from bars
        where
            bars.run_id = entry_prices.run_id
            and bars.symbol = entry_prices.symbol
            and bars.bar_number > entry_prices.entry_decision_bar_number
            and bars.bar_number <= coalesce(
                entry_prices.exit_decision_bar_number, 9223372036854775807
            )
            and (
                entry_prices.order_type = 'market'
                or bars.bar_number <= entry_prices.expires_after_bar_number
            )
            and case entry_prices.order_type
                when 'limit' then bars.low <= entry_prices.limit_price
                when 'stop' then bars.high >= entry_prices.stop_price
                when 'stop_limit'
                    then
                        bars.high >= entry_prices.stop_price
                        and greatest(bars.open, entry_prices.stop_price) <= entry_prices.limit_price
                else true
            end
        order by bars.bar_number
        limit 1
    ) as fill
),

{#- A bracket's legs live from the entry's bar (after its open) through the sell decision's bar (then they are cancelled for the signal's exit). When both could fill in one bar, the stop-loss is taken (the cautious assumption); a gap through the stop fills at the open. #}
bracket_exits as (
    select
        entered.run_id,
        entered.trial,
        entered.symbol,
        entered.episode_number,
        leg.bar_number as exit_bar_number,
        leg.ts as exit_at,
        leg.price as exit_price,
        leg.exit_reason
    from entered
    cross join lateral (
        select
            bars.bar_number,
            bars.ts,
            {{ backtest_bracket_leg_price(
                'bars', 'entered.stop_loss_price', 'entered.take_profit_price', 'entered.slippage_bps'
            ) }} as price,
            {{ backtest_bracket_leg_reason('bars', 'entered.stop_loss_price') }} as exit_reason
        from bars
        where
            bars.run_id = entered.run_id
            and bars.symbol = entered.symbol
            and bars.bar_number >= entered.entry_bar_number
            and bars.bar_number <= coalesce(entered.exit_decision_bar_number, 9223372036854775807)
            and {{ backtest_bracket_leg_reached(
                'bars', 'entered.stop_loss_price', 'entered.take_profit_price'
            ) }}
        order by bars.bar_number
        limit 1
    ) as leg
    where entered.order_class = 'bracket'
),

exit_orders as (
    select
        entered.run_id,
        entered.trial,
        entered.symbol,
        entered.episode_number,
        entered.exit_decision_bar_number,
        entered.slippage_bps,
        entered.limit_offset,
        'sell' as side,
        entered.exit_order_type as order_type,
        'simple' as order_class,
        entered.exit_decision_close as reference_price,
        cast(null as numeric) as stop_offset,
        cast(null as numeric) as take_profit,
        cast(null as numeric) as stop_loss
    from entered
    left join bracket_exits
        on
            entered.run_id = bracket_exits.run_id
            and entered.trial = bracket_exits.trial
            and entered.symbol = bracket_exits.symbol
            and entered.episode_number = bracket_exits.episode_number
    where entered.exit_decision_bar_number is not null and bracket_exits.run_id is null
),

exit_prices as (
    {{ risk_order_prices('exit_orders', 'broker_price_increments') }}
),

{#- The signal's exit: a market order at the next bar's open, or a limit order from the next bar on until a bar reaches it. #}
signal_exits as (
    select
        exit_prices.run_id,
        exit_prices.trial,
        exit_prices.symbol,
        exit_prices.episode_number,
        fill.bar_number as exit_bar_number,
        fill.ts as exit_at,
        fill.price as exit_price,
        'signal' as exit_reason
    from exit_prices
    cross join lateral (
        select
            bars.bar_number,
            bars.ts,
            case exit_prices.order_type
                when 'limit' then greatest(bars.open, exit_prices.limit_price)
                else bars.open * (1 - exit_prices.slippage_bps / 10000)
            end as price
        from bars
        where
            bars.run_id = exit_prices.run_id
            and bars.symbol = exit_prices.symbol
            and bars.bar_number > exit_prices.exit_decision_bar_number
            and (exit_prices.order_type <> 'limit' or bars.high >= exit_prices.limit_price)
        order by bars.bar_number
        limit 1
    ) as fill
),

exits as (
    select * from bracket_exits
    union all
    select * from signal_exits
),

paired as (
    select
        entered.run_id,
        entered.trial,
        entered.strategy,
        entered.symbol,
        row_number() over (
            partition by entered.trial, entered.symbol order by entered.episode_number
        ) as step,
        entered.entry_decision_ts,
        entered.entry_decision_close,
        entered.target_weight,
        entered.order_type as entry_order_type,
        entered.entry_bar_number,
        entered.entry_at,
        entered.entry_price,
        entered.exit_decision_ts,
        exits.exit_bar_number,
        exits.exit_at,
        exits.exit_price,
        coalesce(exits.exit_reason, 'open') as exit_reason,
        {#- The last bar the position is held through: a leg fills inside its bar, a signal's exit at the open of its bar. #}
        case
            when exits.exit_reason in ('stop_loss', 'take_profit') then exits.exit_bar_number
            else exits.exit_bar_number - 1
        end as held_through_bar_number
    from entered
    left join exits
        on
            entered.run_id = exits.run_id
            and entered.trial = exits.trial
            and entered.symbol = exits.symbol
            and entered.episode_number = exits.episode_number
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
        cast(entry_order_type as text) as entry_order_type,
        cast(entry_bar_number as bigint) as entry_bar_number,
        cast(entry_at as timestamptz) as entry_at,
        trim_scale(cast(entry_price as numeric)) as entry_price,
        cast(exit_decision_ts as timestamptz) as exit_decision_ts,
        cast(exit_bar_number as bigint) as exit_bar_number,
        cast(exit_at as timestamptz) as exit_at,
        trim_scale(cast(exit_price as numeric)) as exit_price,
        cast(exit_reason as text) as exit_reason,
        cast(held_through_bar_number as bigint) as held_through_bar_number
    from paired
)

select * from final
