{#- The replay runs in the pre-hook (backtest_portfolio_replay): each decision time reads the record of the ones before it. -#}
{{ config(pre_hook="{{ backtest_portfolio_replay() }}") }}
-- depends_on: {{ ref('int_backtest_portfolio_signals') }}
-- depends_on: {{ ref('int_backtest_bars_selected') }}
-- depends_on: {{ ref('stg_trading__backtest_runs') }}
-- depends_on: {{ ref('stg_alpaca__assets') }}
-- depends_on: {{ ref('risk_limits') }}
-- depends_on: {{ ref('risk_policy') }}
-- depends_on: {{ ref('broker_order_rules') }}
-- depends_on: {{ ref('broker_price_increments') }}

select * from pg_temp.portfolio_record
