{#-
    Breakout: get in when the close breaks above middle + entry_k half-band widths (entry_k = 1:
    the upper band), get out when it falls below middle + exit_k half-band widths (exit_k = 0:
    the middle band). A zero-width band (a flat stretch) breaks out of nothing.
-#}
with

bars as (
    {{ strategy_bars(parameters=['entry_k', 'exit_k']) }}
),

lines as (
    select
        *,
        cast(bb_middle_20 as double precision)
        + entry_k * nullif(cast(bb_upper_20 - bb_middle_20 as double precision), 0) as entry_line,
        cast(bb_middle_20 as double precision)
        + exit_k * nullif(cast(bb_upper_20 - bb_middle_20 as double precision), 0) as exit_line,
        nullif(cast(bb_upper_20 - bb_middle_20 as double precision), 0) as half_width
    from bars
),

rules as (
    select
        *,
        case
            when close > entry_line then true
            when close < exit_line then false
        end as wants_position,
        case
            when close > entry_line then (close - entry_line) / half_width
            when close < exit_line then (exit_line - close) / half_width
            else 0
        end as strength
    from lines
),

{{ strategy_signals('rules') }}
