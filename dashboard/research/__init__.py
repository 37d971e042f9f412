"""The Backtests page's views of one recorded run: a backtest, a sweep or a walk-forward."""
