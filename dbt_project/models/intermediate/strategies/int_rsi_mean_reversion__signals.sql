{#- Mean reversion: get in when RSI is oversold, get out once it has recovered past exit_above. -#}
with

bars as (
    {{ strategy_bars(parameters=['oversold', 'exit_above']) }}
),

rules as (
    select
        *,
        case
            when rsi_14 < oversold then true
            when rsi_14 > exit_above then false
        end as wants_position,
        case
            when rsi_14 < oversold then (oversold - rsi_14) / oversold
            when rsi_14 > exit_above then (rsi_14 - exit_above) / (100 - exit_above)
            else 0
        end as strength
    from bars
),

{{ strategy_signals('rules') }}
