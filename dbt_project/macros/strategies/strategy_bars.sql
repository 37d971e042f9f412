{#- The strategy a signal model belongs to: `int_<strategy>__signals` → `<strategy>`. -#}
{% macro strategy_name() -%}
    {#- A unit test renders the model under its own name: use the tested model's. -#}
    {%- set name = (model.tested_node_unique_id or model.unique_id).split('.')[-1] -%}
    {%- if not (name.startswith('int_') and name.endswith('__signals')) -%}
        {{ exceptions.raise_compiler_error(
            "strategy macros belong in a model named int_<strategy>__signals, not " ~ name
        ) }}
    {%- endif -%}
    {{ return(name[4:-9]) }}
{%- endmacro %}


{#-
    The warm indicator rows a strategy decides on, with its parameters in force at each bar.
    In a backtest build (the var backtest_run_id set; the signal models are then ephemeral)
    the rows are the run's symbols up to its window's end (the state carries in from the
    history before its start, as in the live table), once per trial of the run, with that trial's
    parameters and the limits and sizing of the spec the run recorded: columns run_id and
    trial come first.
-#}
{% macro strategy_bars(parameters=[]) -%}
    {%- set strategy = strategy_name() -%}
    {%- set trial_mode = backtest_run_id() is not none -%}
    {%- set run = backtest_run() if trial_mode else none -%}
    {%- if is_incremental() -%}
        {#- A literal (not a subquery) lets the planner use the index on computed_at. -#}
        {%- set built_until = run_query(
            "select coalesce(cast(max(indicators_computed_at) as text), '-infinity') from " ~ this
        ).columns[0].values()[0] -%}
    {%- endif %}
    with

    {% if trial_mode -%}
    {#- The run's trials as spec versions that apply to the whole window. #}
    specs as (
        select
            runs.run_id,
            trials.trial,
            runs.strategy,
            runs.timeframe,
            cast('-infinity' as timestamptz) as applies_from,
            cast('-infinity' as timestamptz) as effective_from,
            cast(null as timestamptz) as effective_to,
            trials.parameters,
            {{ spec_limit_columns('runs.spec') }},
            runs.symbols as universe
        from {{ ref('stg_trading__backtest_runs') }} as runs
        inner join {{ ref('stg_trading__backtest_trials') }} as trials
            on runs.run_id = trials.run_id
        where
            {{ backtest_run_filter('runs.run_id') }}
            and runs.strategy = '{{ strategy }}'
    ),
    {%- else -%}
    specs as (
        select
            strategy,
            timeframe,
            applies_from,
            effective_from,
            effective_to,
            parameters,
            capital_budget,
            max_positions,
            sizing_method,
            sizing_annual_volatility,
            sizing_measure,
            universe
        from {{ ref('stg_trading__strategy_params') }}
        where strategy = '{{ strategy }}'
    ),
    {%- endif %}

    spec_symbols as (
        select
            specs.*,
            {{ timeframe_interval('specs.timeframe') }} as bar_length,
            sqrt({{ bars_per_year('specs.timeframe') }}) as annualiser,
            unnest(specs.universe) as symbol
        from specs
    ),

    indicators as (
        select
            symbol,
            timeframe,
            ts,
            open,
            high,
            low,
            close,
            volume,
            sma_20,
            sma_50,
            ema_12,
            ema_26,
            rsi_14,
            macd,
            macd_signal,
            macd_hist,
            bb_middle_20,
            bb_upper_20,
            bb_lower_20,
            atr_14,
            vwap,
            return_1,
            log_return_1,
            volatility_20,
            computed_at
        from {{ ref('indicators') }}
        where
            is_warm
            {%- if is_incremental() %}
            and computed_at > timestamptz '{{ built_until }}'
            {%- endif %}
            {%- if trial_mode %}
            {#- Literals, so the planner uses the index on (symbol, timeframe, ts). #}
            and {{ backtest_window(
                run if run is not none and run.strategy == strategy else none, from_first_bar=true
            ) }}
            {%- endif %}
    ),

    decided as (
        select
            indicators.*,
            indicators.ts + spec_symbols.bar_length as decision_at,
            {%- if trial_mode %}
            spec_symbols.run_id,
            spec_symbols.trial,
            {%- endif %}
            spec_symbols.effective_from,
            spec_symbols.applies_from,
            spec_symbols.effective_to,
            spec_symbols.parameters,
            spec_symbols.capital_budget,
            spec_symbols.max_positions,
            spec_symbols.sizing_method,
            spec_symbols.sizing_annual_volatility,
            spec_symbols.sizing_measure,
            spec_symbols.annualiser
        from indicators
        inner join spec_symbols
            on
                indicators.symbol = spec_symbols.symbol
                and indicators.timeframe = spec_symbols.timeframe
    )

    select
        {%- if trial_mode %}
        decided.run_id,
        decided.trial,
        {%- endif %}
        decided.symbol,
        decided.timeframe,
        decided.ts,
        decided.decision_at,
        decided.open,
        decided.high,
        decided.low,
        decided.close,
        decided.volume,
        decided.sma_20,
        decided.sma_50,
        decided.ema_12,
        decided.ema_26,
        decided.rsi_14,
        decided.macd,
        decided.macd_signal,
        decided.macd_hist,
        decided.bb_middle_20,
        decided.bb_upper_20,
        decided.bb_lower_20,
        decided.atr_14,
        decided.vwap,
        decided.return_1,
        decided.log_return_1,
        decided.volatility_20,
        {%- for name in parameters %}
        cast(decided.parameters ->> '{{ name }}' as double precision) as {{ name }},
        {%- endfor %}
        decided.computed_at as indicators_computed_at,
        decided.effective_from as spec_effective_from,
        cast(
            case decided.sizing_method
                when 'volatility_target' then least(
                    decided.capital_budget / decided.max_positions,
                    cast(
                        decided.sizing_annual_volatility / nullif(
                            case decided.sizing_measure
                                when 'atr' then decided.atr_14 / nullif(decided.close, 0)
                                else decided.volatility_20
                            end * decided.annualiser,
                            0
                        ) as numeric
                    )
                )
                else decided.capital_budget / decided.max_positions
            end as numeric
        ) as position_weight
    from decided
    where
        decided.decision_at >= decided.applies_from
        and (decided.effective_to is null or decided.decision_at < decided.effective_to)
{%- endmacro %}


{#- The limits and sizing columns of a spec held as JSON (raw.strategy_params.spec, raw.backtest_runs.spec). -#}
{% macro spec_limit_columns(spec) -%}
    cast({{ spec }} -> 'limits' ->> 'capital_budget' as numeric) as capital_budget,
    cast({{ spec }} -> 'limits' ->> 'max_positions' as integer) as max_positions,
    cast(coalesce({{ spec }} -> 'sizing' ->> 'method', 'fixed_fraction') as text) as sizing_method,
    cast({{ spec }} -> 'sizing' ->> 'annual_volatility' as double precision) as sizing_annual_volatility,
    cast(coalesce({{ spec }} -> 'sizing' ->> 'measure', 'realized') as text) as sizing_measure
{%- endmacro %}


{#- The order columns of a spec held as JSON, with the spec loader's defaults. -#}
{% macro spec_order_columns(spec) -%}
    cast(coalesce({{ spec }} -> 'order' ->> 'type', 'market') as text) as entry_order_type,
    cast(coalesce({{ spec }} -> 'order' ->> 'time_in_force', 'day') as text) as time_in_force,
    cast(coalesce({{ spec }} -> 'order' ->> 'exit_type', 'market') as text) as exit_order_type,
    cast({{ spec }} -> 'order' ->> 'limit_offset' as numeric) as limit_offset,
    cast({{ spec }} -> 'order' ->> 'stop_offset' as numeric) as stop_offset,
    cast({{ spec }} -> 'order' ->> 'take_profit' as numeric) as take_profit,
    cast({{ spec }} -> 'order' ->> 'stop_loss' as numeric) as stop_loss
{%- endmacro %}
