{#-
    The fills of a portfolio backtest's orders, a function of its decision record and its bars:
    each approved order at the open of the first bar starting at or after its decision (the
    next bar), with slippage; a bracket entry's exit legs from that fill's bar until a later
    approved sell of the symbol cancels them (backtest_bracket_leg_*). known_at is the fill
    bar's end: the book sees a fill from the first decision time at or after it.
-#}
{% macro backtest_paper_fills(orders, bars, runs) -%}
    with

    order_fills as (
        select
            {{ orders }}.run_id,
            {{ orders }}.strategy,
            {{ orders }}.symbol,
            {{ orders }}.timeframe,
            {{ orders }}.decision_id as order_id,
            {{ orders }}.client_order_id,
            {{ orders }}.decision_at,
            {{ orders }}.side,
            {{ orders }}.qty,
            {{ orders }}.order_class,
            {{ orders }}.stop_loss_price,
            {{ orders }}.take_profit_price,
            {{ runs }}.slippage_bps,
            fill.bar_number,
            fill.ts as filled_at,
            fill.bar_end_at as known_at,
            fill.open * (
                1 + case when {{ orders }}.side = 'buy' then 1 else -1 end * {{ runs }}.slippage_bps / 10000
            ) as price
        from {{ orders }}
        inner join {{ runs }}
            on {{ orders }}.run_id = {{ runs }}.run_id
        cross join lateral (
            select
                {{ bars }}.bar_number,
                {{ bars }}.ts,
                {{ bars }}.bar_end_at,
                {{ bars }}.open
            from {{ bars }}
            where
                {{ bars }}.run_id = {{ orders }}.run_id
                and {{ bars }}.symbol = {{ orders }}.symbol
                and {{ bars }}.ts >= {{ orders }}.decision_at
            order by {{ bars }}.ts
            limit 1
        ) as fill
        where {{ orders }}.is_approved and {{ orders }}.qty > 0
    ),

    {#- The legs live until the first approved sell decided after the entry. #}
    leg_fills as (
        select
            entries.run_id,
            entries.strategy,
            entries.symbol,
            entries.timeframe,
            cast(md5(cast(entries.order_id as text) || '|leg') as uuid) as order_id,
            entries.client_order_id,
            entries.decision_at,
            cast('sell' as text) as side,
            entries.qty,
            cast('simple' as text) as order_class,
            leg.bar_number,
            leg.ts as filled_at,
            leg.bar_end_at as known_at,
            leg.price,
            leg.exit_reason
        from order_fills as entries
        cross join lateral (
            select
                {{ bars }}.bar_number,
                {{ bars }}.ts,
                {{ bars }}.bar_end_at,
                {{ backtest_bracket_leg_price(
                    bars, 'entries.stop_loss_price', 'entries.take_profit_price', 'entries.slippage_bps'
                ) }} as price,
                {{ backtest_bracket_leg_reason(bars, 'entries.stop_loss_price') }} as exit_reason
            from {{ bars }}
            where
                {{ bars }}.run_id = entries.run_id
                and {{ bars }}.symbol = entries.symbol
                and {{ bars }}.ts >= entries.filled_at
                and {{ bars }}.ts < coalesce(
                    (
                        select min(sells.decision_at)
                        from {{ orders }} as sells
                        where
                            sells.run_id = entries.run_id
                            and sells.strategy = entries.strategy
                            and sells.symbol = entries.symbol
                            and sells.side = 'sell'
                            and sells.is_approved
                            and sells.decision_at > entries.decision_at
                    ),
                    'infinity'
                )
                and {{ backtest_bracket_leg_reached(
                    bars, 'entries.stop_loss_price', 'entries.take_profit_price'
                ) }}
            order by {{ bars }}.ts
            limit 1
        ) as leg
        where entries.order_class = 'bracket'
    ),

    fills as (
        select
            run_id,
            strategy,
            symbol,
            timeframe,
            order_id,
            client_order_id,
            decision_at,
            side,
            qty,
            order_class,
            bar_number,
            filled_at,
            known_at,
            price,
            false as is_bracket_exit,
            case when side = 'sell' then 'signal' end as exit_reason
        from order_fills
        union all
        select
            run_id,
            strategy,
            symbol,
            timeframe,
            order_id,
            client_order_id,
            decision_at,
            side,
            qty,
            order_class,
            bar_number,
            filled_at,
            known_at,
            price,
            true as is_bracket_exit,
            exit_reason
        from leg_fills
    )

    select
        fills.*,
        case when fills.side = 'buy' then 1 else -1 end * fills.qty as signed_qty,
        {{ backtest_fees('fills.qty', 'fills.price', "fills.side = 'sell'", runs) }} as fees
    from fills
    inner join {{ runs }}
        on fills.run_id = {{ runs }}.run_id
{%- endmacro %}
