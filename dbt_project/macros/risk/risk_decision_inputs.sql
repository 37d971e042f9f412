{% macro risk_decision_inputs(
    deciding_bars,
    positions,
    open_positions,
    specs,
    policy,
    equity,
    exposure,
    loss_streaks,
    bracket_exits,
    trading_state,
    risk_limits,
    assets,
    book=none
) -%}
    {%- set same_book -%}
        {%- if book %} and {{ deciding_bars }}.{{ book }} = {{ exposure }}.{{ book }}{% endif -%}
    {%- endset %}
    select
        {{ deciding_bars }}.*,
        coalesce({{ positions }}.position_qty, 0) as current_qty,
        coalesce({{ open_positions }}.open_positions, 0) as open_positions,
        {{ specs }}.max_positions,
        {{ equity }}.equity,
        coalesce(symbol_limits.max_position_value, default_limits.max_position_value)
            as max_position_value,
        {{ specs }}.entry_order_type,
        {{ specs }}.time_in_force,
        {{ specs }}.exit_order_type,
        {{ specs }}.limit_offset,
        {{ specs }}.stop_offset,
        {{ specs }}.take_profit,
        {{ specs }}.stop_loss,
        {{ trading_state }}.state as trading_state,
        {{ policy }}.fractional_trading,
        coalesce({{ assets }}.is_fractionable, false) as is_fractionable,
        {{ bracket_exits }}.symbol is not null as exited_by_bracket,
        {{ policy }}.max_position_weight,
        {{ policy }}.max_gross_exposure,
        {{ policy }}.max_net_exposure,
        {{ policy }}.max_open_positions,
        {{ policy }}.min_order_value,
        {{ policy }}.max_order_value,
        {{ exposure }}.account_open_positions,
        {{ exposure }}.gross_value,
        {{ exposure }}.net_value,
        {{ loss_streaks }}.last_loss_at
        + {{ policy }}.loss_streak_cooldown_bars
        * {{ timeframe_interval(deciding_bars ~ '.timeframe') }}
            as cooldown_until
    from {{ deciding_bars }}
    inner join {{ trading_state }}
        on {{ deciding_bars }}.as_of = {{ trading_state }}.as_of
    inner join {{ exposure }}
        on {{ deciding_bars }}.as_of = {{ exposure }}.as_of{{ same_book }}
    left join {{ policy }}
        on {{ deciding_bars }}.as_of = {{ policy }}.as_of
    left join {{ loss_streaks }}
        on
            {{ deciding_bars }}.as_of = {{ loss_streaks }}.as_of
            {%- if book %}
            and {{ deciding_bars }}.{{ book }} = {{ loss_streaks }}.{{ book }}
            {%- endif %}
            and {{ deciding_bars }}.symbol = {{ loss_streaks }}.symbol
    left join {{ positions }}
        on
            {{ deciding_bars }}.as_of = {{ positions }}.as_of
            and {{ deciding_bars }}.strategy = {{ positions }}.strategy
            and {{ deciding_bars }}.symbol = {{ positions }}.symbol
    left join {{ open_positions }}
        on
            {{ deciding_bars }}.as_of = {{ open_positions }}.as_of
            and {{ deciding_bars }}.strategy = {{ open_positions }}.strategy
    left join {{ specs }}
        on
            {{ deciding_bars }}.as_of = {{ specs }}.as_of
            and {{ deciding_bars }}.strategy = {{ specs }}.strategy
    left join {{ equity }}
        on {{ deciding_bars }}.as_of = {{ equity }}.as_of
    left join {{ risk_limits }} as symbol_limits
        on {{ deciding_bars }}.symbol = symbol_limits.symbol
    left join {{ risk_limits }} as default_limits
        on default_limits.symbol = '*'
    left join {{ assets }}
        on {{ deciding_bars }}.symbol = {{ assets }}.symbol
    left join {{ bracket_exits }}
        on
            {{ deciding_bars }}.as_of = {{ bracket_exits }}.as_of
            and {{ deciding_bars }}.strategy = {{ bracket_exits }}.strategy
            and {{ deciding_bars }}.symbol = {{ bracket_exits }}.symbol
{%- endmacro %}
