{#-
    Portfolio mode: the live risk review (the risk_* macros marts.risk_decisions calls), replayed
    decision time by decision time over one simulated account. Each decision time first marks
    the account (its equity, for the loss limits), then decides against the book the earlier
    decisions made (backtest_paper_fills). The record lands in the temporary table
    portfolio_record, which the model then selects; pre-hook of backtest_portfolio_decisions.

    Kept up as the replay goes, so that no decision time recomputes the history: the paper
    fills of every order so far (portfolio_fills: an order's are added when it is decided, and
    a sell removes the fills of the symbol's earlier bracket legs from its decision on) and, at
    each decision time, the fills known by then accumulated into positions (portfolio_book).
    Each decision time reads only what its review looks at: each symbol's newest signal and the
    buys of the last 7 days (backtest_portfolio_signals_read), the latest and the peak mark.
-#}
{% macro backtest_portfolio_replay() -%}
    {%- set run_id = backtest_run_id() -%}
    drop table if exists pg_temp.portfolio_symbols;
    drop table if exists pg_temp.portfolio_orders;
    drop table if exists pg_temp.portfolio_fills;
    drop table if exists pg_temp.portfolio_book;
    drop table if exists pg_temp.portfolio_accounts;
    drop table if exists pg_temp.portfolio_record;
    create temporary table portfolio_symbols as
    select distinct
        strategy,
        symbol
    from {{ ref('int_backtest_portfolio_signals') }}
    where {{ backtest_run_filter('run_id') }};
    analyze portfolio_symbols;
    create temporary table portfolio_orders (
        run_id uuid,
        strategy text,
        symbol text,
        timeframe text,
        as_of timestamptz,
        decision_at timestamptz,
        decision_id uuid,
        client_order_id text,
        side text,
        qty numeric,
        order_class text,
        take_profit_price numeric,
        stop_loss_price numeric,
        is_approved boolean
    );
    create index on portfolio_orders (as_of);
    create temporary table portfolio_fills as
    with
    {{ backtest_portfolio_inputs() }},
    paper_fills as (
        {{ backtest_paper_fills('pg_temp.portfolio_orders', 'bars', 'runs') }}
    )
    select * from paper_fills
    with no data;
    create index on portfolio_fills (symbol);
    create temporary table portfolio_book as
    with known_fills as (select * from pg_temp.portfolio_fills)
    {{ shadow_positions_accumulated('known_fills') }}
    with no data;
    create temporary table portfolio_accounts (
        run_id uuid,
        snapshot_at timestamptz,
        equity numeric,
        last_equity numeric
    );
    create index on portfolio_accounts (snapshot_at);
    create index on portfolio_accounts (equity);
    create temporary table portfolio_record as
    {{ backtest_portfolio_step('cast(null as timestamptz)') }}
    with no data;
    create index on portfolio_record (as_of);
    {%- if run_id is not none %}
    {#- One plan per statement for the whole loop: planning these reviews anew at every decision time costs as much as running them. #}
    set local plan_cache_mode = force_generic_plan;
    do $replay$
    declare
        step_at timestamptz;
        steps integer := 0;
    begin
        for step_at in
            select distinct decision_at
            from {{ ref('int_backtest_portfolio_signals') }}
            where {{ backtest_run_filter('run_id') }}
            order by decision_at
        loop
            {#- Statistics at 1, 2, 4, 8 … steps, so that the cached plans fit the tables' size. #}
            steps := steps + 1;
            if steps & (steps - 1) = 0 then
                analyze pg_temp.portfolio_orders;
                analyze pg_temp.portfolio_fills;
                analyze pg_temp.portfolio_book;
                analyze pg_temp.portfolio_accounts;
                analyze pg_temp.portfolio_record;
            end if;
            truncate pg_temp.portfolio_book;
            insert into pg_temp.portfolio_book
            with known_fills as (
                select * from pg_temp.portfolio_fills where known_at <= step_at
            )
            {{ shadow_positions_accumulated('known_fills') }};

            insert into pg_temp.portfolio_accounts
            {{ backtest_portfolio_account('step_at') }};

            insert into pg_temp.portfolio_record
            {{ backtest_portfolio_step('step_at') }};

            insert into pg_temp.portfolio_orders
            select
                run_id,
                strategy,
                symbol,
                timeframe,
                as_of,
                decision_at,
                decision_id,
                client_order_id,
                side,
                qty,
                order_class,
                take_profit_price,
                stop_loss_price,
                is_approved
            from pg_temp.portfolio_record
            where as_of = step_at and is_approved and qty > 0;

            {#- A sell cuts the legs of the symbol's earlier brackets from its decision on. #}
            delete from pg_temp.portfolio_fills as legs
            using pg_temp.portfolio_orders as sells
            where
                sells.as_of = step_at
                and sells.side = 'sell'
                and legs.is_bracket_exit
                and legs.symbol = sells.symbol
                and legs.strategy = sells.strategy
                and legs.decision_at < sells.decision_at
                and legs.filled_at >= sells.decision_at;
            insert into pg_temp.portfolio_fills
            with
            {{ backtest_portfolio_inputs() }},
            ordered as (
                select * from pg_temp.portfolio_orders where as_of = step_at
            ),
            paper_fills as (
                {{ backtest_paper_fills('ordered', 'bars', 'runs') }}
            )
            select * from paper_fills;
        end loop;
    end
    $replay$;
    {%- endif %}
{%- endmacro %}


{#- The run's costs and bars, as every statement of the replay reads them. -#}
{% macro backtest_portfolio_inputs() -%}
    runs as (
        select
            run_id,
            strategy,
            timeframe,
            spec,
            initial_cash,
            slippage_bps,
            commission_per_share,
            commission_bps,
            sec_fee_per_million,
            finra_taf_per_share,
            finra_taf_max,
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

    {#- Not materialized: the lookups below use the bars' indexes. #}
    bars as not materialized (
        select
            run_id,
            symbol,
            timeframe,
            bar_number,
            ts,
            bar_end_at,
            open,
            high,
            low,
            close
        from {{ ref('int_backtest_bars_selected') }}
        where {{ backtest_run_filter('run_id') }}
    )
{%- endmacro %}


{#- The account's book at one decision time: the orders decided before it and the fills of them known by then (portfolio_book). -#}
{% macro backtest_portfolio_book(step_at) -%}
    {{ backtest_portfolio_inputs() }},

    decision_time as (
        select cast({{ step_at }} as timestamptz) as as_of
    ),

    earlier_orders as (
        select portfolio_orders.*
        from pg_temp.portfolio_orders
        inner join decision_time
            on portfolio_orders.as_of < decision_time.as_of
    ),

    {#- The fills known by then, accumulated: their columns with the position after each (shadow_positions_accumulated). #}
    paper_fills as (
        select * from pg_temp.portfolio_book
    ),

    positions_as_of as (
        {{ risk_positions_as_of('paper_fills', 'decision_time') }}
    ),

    {#- The positions held (a closed one marks to nothing): what the marks look up. #}
    held_positions as (
        select * from positions_as_of where position_qty <> 0
    )
{%- endmacro %}


{#- The account at a decision time: cash from the known fills, positions at the latest known close; last_equity is the previous day's last mark. -#}
{% macro backtest_portfolio_account(step_at) -%}
    with

    {{ backtest_portfolio_book(step_at) }},

    cash as (
        select coalesce(sum(-signed_qty * price - fees), 0) as cash_change
        from paper_fills
    ),

    marked as (
        select coalesce(sum(held_positions.position_qty * marks.close), 0) as position_value
        from held_positions
        cross join lateral (
            select bars.close
            from bars
            where
                bars.symbol = held_positions.symbol
                and bars.bar_end_at <= cast({{ step_at }} as timestamptz)
                and bars.ts < cast({{ step_at }} as timestamptz)
            order by bars.ts desc
            limit 1
        ) as marks
    )

    select
        runs.run_id,
        decision_time.as_of as snapshot_at,
        runs.initial_cash + cash.cash_change + marked.position_value as equity,
        coalesce(
            (
                select earlier.equity
                from pg_temp.portfolio_accounts as earlier
                where
                    earlier.run_id = runs.run_id
                    and earlier.snapshot_at
                    < cast(
                        cast(decision_time.as_of at time zone 'America/New_York' as date)
                        as timestamp
                    ) at time zone 'America/New_York'
                order by earlier.snapshot_at desc
                limit 1
            ),
            runs.initial_cash
        ) as last_equity
    from runs
    cross join decision_time
    cross join cash
    cross join marked
{%- endmacro %}


{#- One decision time's review: the live rules (risk_*) over the account's own book, one account per run (book='strategy'). -#}
{% macro backtest_portfolio_step(step_at) -%}
    with

    {{ backtest_portfolio_book(step_at) }},

    {#- Only the rows the review reads (risk_deciding_bars, risk_bracket_exits): each symbol's newest signal, and the buys of the last 7 days. #}
    signals as (
        {{ backtest_portfolio_signals_read(step_at) }}
    ),

    {#- The run's recorded spec, in force over the whole window. #}
    strategy_specs as (
        select
            strategy,
            cast('-infinity' as timestamptz) as applies_from,
            cast(null as timestamptz) as effective_to,
            cast('live' as text) as mode,
            timeframe,
            {{ spec_limit_columns('spec') }},
            entry_order_type,
            time_in_force,
            exit_order_type,
            limit_offset,
            stop_offset,
            take_profit,
            stop_loss
        from runs
    ),

    {{ risk_reference_inputs() }}

    {#- The marks the loss limits read (the latest, and the peak for the drawdown): all the others would change nothing. #}
    account_snapshots as (
        (
            select
                snapshot_at,
                equity,
                last_equity
            from pg_temp.portfolio_accounts
            order by snapshot_at desc
            limit 1
        )
        union
        (
            select
                snapshot_at,
                equity,
                last_equity
            from pg_temp.portfolio_accounts
            order by equity desc
            limit 1
        )
    ),

    {#- The newest sell of each symbol: the legs of the brackets decided before it are cancelled. #}
    last_sells as (
        select
            strategy,
            symbol,
            max(decision_at) as sold_at
        from earlier_orders
        where side = 'sell' and is_approved
        group by strategy, symbol
    ),

    {#- Orders whose fill is not known yet, and the exit legs of a held bracket (hashed lookups: these lists grow with the replay). #}
    open_orders as (
        select
            decision_time.as_of,
            earlier_orders.strategy,
            earlier_orders.symbol,
            false as is_exit_leg,
            earlier_orders.client_order_id as group_client_order_id
        from earlier_orders
        cross join decision_time
        where
            earlier_orders.is_approved
            and earlier_orders.qty > 0
            and earlier_orders.decision_id not in (select paper_fills.order_id from paper_fills)
        union all
        select
            decision_time.as_of,
            entries.strategy,
            entries.symbol,
            true,
            entries.client_order_id
        from paper_fills as entries
        cross join decision_time
        left join last_sells
            on entries.strategy = last_sells.strategy and entries.symbol = last_sells.symbol
        where
            entries.order_class = 'bracket'
            and entries.client_order_id not in (
                select legs.client_order_id
                from paper_fills as legs
                where legs.is_bracket_exit
            )
            and coalesce(last_sells.sold_at <= entries.decision_at, true)
    ),

    open_positions_per_strategy as (
        {{ risk_strategy_open_positions('positions_as_of') }}
    ),

    specs_as_of as (
        {{ risk_specs_as_of('strategy_specs', 'decision_time') }}
    ),

    policy_as_of as (
        {{ risk_policy_as_of('risk_policy', 'decision_time') }}
    ),

    loss_policy as (
        select
            max_drawdown,
            max_daily_loss
        from risk_policy
        cross join decision_time
        where risk_policy.effective_from <= decision_time.as_of
        order by risk_policy.effective_from desc
        limit 1
    ),

    equity_as_of as (
        {{ risk_equity_as_of('account_snapshots', 'decision_time') }}
    ),

    latest_equity as (
        {{ risk_latest_equity('account_snapshots', 'decision_time') }}
    ),

    reductions as (
        {{ risk_equity_reductions('latest_equity', 'loss_policy') }}
    ),

    {#- A backtest has no manual halt, failed load or reconciliation: only the loss limits apply. #}
    state_as_of as (
        select
            as_of,
            case when exists (select from reductions) then 'REDUCING' else 'ACTIVE' end as state
        from decision_time
    ),

    books as (
        select
            as_of,
            strategy,
            timeframe
        from specs_as_of
    ),

    account_exposure as materialized (
        {{ paper_book_exposure('books', 'held_positions', 'bars') }}
    ),

    loss_streaks as (
        {{ risk_loss_streaks('paper_fills', 'policy_as_of', book='strategy') }}
    ),

    exited_since_entry as (
        {{ risk_bracket_exits('signals', 'paper_fills', 'decision_time') }}
    ),

    deciding_bars as (
        {{ risk_deciding_bars('signals', 'decision_time') }}
    ),

    decision_inputs as (
        {{ risk_decision_inputs(
            deciding_bars='deciding_bars',
            positions='positions_as_of',
            open_positions='open_positions_per_strategy',
            specs='specs_as_of',
            policy='policy_as_of',
            equity='equity_as_of',
            exposure='account_exposure',
            loss_streaks='loss_streaks',
            bracket_exits='exited_since_entry',
            trading_state='state_as_of',
            risk_limits='risk_limits',
            assets='assets',
            book='strategy'
        ) }}
    ),

    {{ risk_review(
        'decision_inputs',
        'open_orders',
        'broker_order_rules',
        'broker_price_increments',
        var('max_signal_age_minutes'),
        book='strategy'
    ) }}

    recorded as (
        {{ risk_decision_record('reviewed', 'portfolio') }}
    )

    select
        runs.run_id,
        recorded.*
    from recorded
    cross join runs
{%- endmacro %}


{#-
    The signals a decision time's review reads, through the model's indexes: the signals known
    at this bar end; for a symbol without one (a gap, a halt), its newest earlier one within the
    7 days risk_deciding_bars looks at; and every buy of those 7 days (risk_bracket_exits takes
    each symbol's newest). A signal is known at its bar's end, after the bar starts, so the
    newest bar is the newest signal.
-#}
{% macro backtest_portfolio_signals_read(step_at) -%}
    {%- set columns = [
        'strategy', 'symbol', 'timeframe', 'ts', 'decision_at', 'signal', 'strength',
        'target_weight', 'in_position', 'reference_price'
    ] -%}
    with

    at_step as (
        select {% for column in columns %}signals.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ ref('int_backtest_portfolio_signals') }} as signals
        where
            {{ backtest_run_filter('signals.run_id') }}
            and signals.decision_at = cast({{ step_at }} as timestamptz)
    )

    select * from at_step
    union all
    select newest.*
    from pg_temp.portfolio_symbols as symbols
    cross join lateral (
        select {% for column in columns %}signals.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ ref('int_backtest_portfolio_signals') }} as signals
        where
            {{ backtest_run_filter('signals.run_id') }}
            and signals.strategy = symbols.strategy
            and signals.symbol = symbols.symbol
            and signals.ts < cast({{ step_at }} as timestamptz)
            {#- Bounds the index scan: a bar ends well within a week of its start. #}
            and signals.ts > cast({{ step_at }} as timestamptz) - interval '14 days'
            and signals.decision_at < cast({{ step_at }} as timestamptz)
            and signals.decision_at > cast({{ step_at }} as timestamptz) - interval '7 days'
        order by signals.ts desc
        limit 1
    ) as newest
    where not exists (
        select
        from at_step
        where at_step.strategy = symbols.strategy and at_step.symbol = symbols.symbol
    )
    union all
    select {% for column in columns %}signals.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ ref('int_backtest_portfolio_signals') }} as signals
    where
        {{ backtest_run_filter('signals.run_id') }}
        and signals.signal = 'buy'
        and signals.decision_at < cast({{ step_at }} as timestamptz)
        and signals.decision_at > cast({{ step_at }} as timestamptz) - interval '7 days'
{%- endmacro %}
