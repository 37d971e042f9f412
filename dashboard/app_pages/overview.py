"""Overview page: account metrics, equity curve, open positions, latest signals, a price chart."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, columns, data


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _signed_money(value: float) -> str | None:
    # st.metric reads the direction from a leading minus sign, so it must come before the "$".
    if round(value, 2) == 0:
        return None
    return f"-${-value:,.2f}" if value < 0 else f"+${value:,.2f}"


def _account() -> None:
    """Equity, cash and open-position count, then the equity curve."""
    curve = data.load("equity snapshots", data.equity_curve)
    positions = data.peek(data.open_positions)
    equity_col, cash_col, positions_col = st.columns(3)
    if curve is None:
        equity_col.metric("Equity", "—", border=True)
        cash_col.metric("Cash", "—", border=True)
    else:
        last = curve.iloc[-1]
        previous = curve.iloc[-2] if len(curve) > 1 else last
        equity_col.metric(
            "Equity",
            _money(last["equity"]),
            delta=_signed_money(last["equity"] - previous["equity"]),
            delta_description="since the previous snapshot",
            border=True,
        )
        cash_col.metric(
            "Cash",
            _money(last["cash"]),
            delta=_signed_money(last["cash"] - previous["cash"]),
            delta_color="off",
            border=True,
        )
    positions_col.metric(
        "Open positions", "—" if positions is None else str(len(positions)), border=True
    )
    if curve is not None:
        as_of = charts.to_market_time(curve["snapshot_at"]).iloc[-1]
        st.caption(f"Last account snapshot: {as_of:%Y-%m-%d %H:%M} New York time.")
        st.plotly_chart(charts.equity_figure(curve), config={"displaylogo": False})


def _positions() -> None:
    """The open positions table, valued at the latest close."""
    st.subheader("Open positions")
    positions = data.load("positions", data.open_positions)
    if positions is not None:
        st.dataframe(
            positions,
            hide_index=True,
            column_order=[
                "symbol",
                "strategy",
                "qty",
                "avg_cost",
                "last_price",
                "market_value",
                "unrealized_pl",
                "last_filled_at",
            ],
            column_config={
                "symbol": "Symbol",
                "strategy": "Strategy",
                "qty": columns.quantity("Qty"),
                "avg_cost": columns.money("Avg cost"),
                "last_price": columns.money("Last"),
                "market_value": columns.money("Value"),
                "unrealized_pl": columns.money("Unrealized P&L"),
                "last_filled_at": columns.market_time("Last fill"),
            },
        )


def _signals() -> None:
    """The latest signal per strategy and symbol."""
    st.subheader("Latest signals")
    signals = data.load("signals", data.latest_signals)
    if signals is not None:
        st.dataframe(
            signals,
            hide_index=True,
            column_order=[
                "symbol",
                "strategy",
                "signal",
                "strength",
                "in_position",
                "target_weight",
                "reference_price",
                "ts",
            ],
            column_config={
                "symbol": "Symbol",
                "signal": "Signal",
                "strength": st.column_config.ProgressColumn("Strength", min_value=0, max_value=1),
                "in_position": st.column_config.CheckboxColumn("Wants position"),
                "target_weight": st.column_config.NumberColumn("Target weight", format="percent"),
                "reference_price": columns.money("Close"),
                "ts": columns.market_time("Bar"),
                "strategy": "Strategy",
            },
        )


def _price_chart() -> None:
    """Candles, SMA 20 and RSI 14 for a chosen symbol and timeframe."""
    st.subheader("Price and indicators")
    choices = data.load("bars", data.chart_choices)
    if choices is None:
        return
    symbol_col, timeframe_col = st.columns([3, 1])
    symbol = symbol_col.selectbox("Symbol", sorted(choices["symbol"].unique()), key="chart_symbol")
    timeframes = choices.loc[choices["symbol"] == symbol, "timeframe"].tolist()
    timeframe = timeframe_col.selectbox("Timeframe", timeframes, key="chart_timeframe")
    if symbol is None or timeframe is None:
        return
    bars = data.load(f"bars for {symbol}", data.bars_with_indicators, symbol, timeframe)
    if bars is not None:
        st.plotly_chart(
            charts.candlestick_figure(bars, symbol, timeframe),
            key="candles",
            config={"displaylogo": False},
        )


def render() -> None:
    """Draw the overview page."""
    header, button = st.columns([5, 1], vertical_alignment="bottom")
    header.title("Trading overview")
    if button.button("Refresh", icon=":material/refresh:"):
        data.refresh()
    with st.container(key="account"):
        _account()
    left, right = st.columns(2)
    with left.container(key="positions"):
        _positions()
    with right.container(key="signals"):
        _signals()
    with st.container(key="price_chart"):
        _price_chart()


if __name__ == "__main__":
    render()
