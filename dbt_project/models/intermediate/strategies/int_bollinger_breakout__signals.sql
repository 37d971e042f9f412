{#-
    Breakout: get in when the close breaks above middle + entry_k half-band widths (entry_k = 1:
    the upper band), get out when it falls below middle + exit_k half-band widths (exit_k = 0:
    the middle band). A zero-width band (a flat stretch) breaks out of nothing.
-#}
with

bars as (
    {{ strategy_bars(parameters=['entry_k', 'exit_k']) }}
),

bands as (
    select
        *,
        nullif(bb_upper_20 - bb_middle_20, 0) as half_width
    from bars
),

rules as (
    select
        *,
        case
            when close > bb_middle_20 + entry_k * half_width then true
            when close < bb_middle_20 + exit_k * half_width then false
        end as wants_position,
        case
            when close > bb_middle_20 + entry_k * half_width
                then (close - bb_middle_20 - entry_k * half_width) / half_width
            when close < bb_middle_20 + exit_k * half_width
                then (bb_middle_20 + exit_k * half_width - close) / half_width
            else 0
        end as strength
    from bands
),

{{ strategy_signals('rules') }}
