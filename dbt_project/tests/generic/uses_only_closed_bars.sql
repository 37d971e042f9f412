{#-
    No look-ahead: every decision row must be about a landed bar of its symbol and timeframe
    that had closed by the decision time, and must act on that bar's close (not a later one).
-#}
{% test uses_only_closed_bars(model, price_column='reference_price') %}

with

decisions as (
    select
        symbol,
        timeframe,
        ts,
        decision_at,
        {{ price_column }} as decided_price
    from {{ model }}
),

bars as (
    select
        symbol,
        timeframe,
        ts,
        bar_end_at,
        close
    from {{ ref('stg_alpaca__bars') }}
),

checked as (
    select
        decisions.*,
        bars.bar_end_at,
        bars.close,
        case
            when bars.ts is null then 'no such bar'
            when bars.bar_end_at > decisions.decision_at then 'bar still open at decision_at'
            when bars.close <> decisions.decided_price then 'price is not the bar close'
        end as violation
    from decisions
    left join bars
        on
            decisions.symbol = bars.symbol
            and decisions.timeframe = bars.timeframe
            and decisions.ts = bars.ts
)

select *
from checked
where violation is not null

{% endtest %}
