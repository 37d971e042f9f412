"""Orders page: the latest order decisions, approved or rejected, with the reason."""

from __future__ import annotations

import streamlit as st

from dashboard import columns, data


def render() -> None:
    """Draw the order decisions page."""
    st.title("Order decisions")
    st.caption(
        "What each strategy wanted to trade at the last build, and whether the risk rules let "
        "it through. Approved decisions are what the executor submits."
    )
    decisions = data.load("order decisions", data.risk_decisions)
    if decisions is None:
        return
    approved = int(decisions["is_approved"].sum())
    total_col, approved_col, rejected_col = st.columns(3)
    total_col.metric("Decisions", len(decisions), border=True)
    approved_col.metric("Approved", approved, border=True)
    rejected_col.metric("Rejected", len(decisions) - approved, border=True)
    with st.container(key="decisions"):
        st.dataframe(
            decisions,
            hide_index=True,
            column_order=[
                "symbol",
                "side",
                "qty",
                "is_approved",
                "rejection_reason",
                "signal",
                "reference_price",
                "current_qty",
                "target_qty",
                "decision_at",
                "strategy",
                "as_of",
                "client_order_id",
            ],
            column_config={
                "symbol": "Symbol",
                "side": "Side",
                "qty": columns.quantity("Qty"),
                "is_approved": st.column_config.CheckboxColumn("Approved"),
                "rejection_reason": "Rejection reason",
                "signal": "Signal",
                "reference_price": columns.money("Close"),
                "current_qty": columns.quantity("Held"),
                "target_qty": columns.quantity("Target"),
                "decision_at": columns.market_time("Bar closed"),
                "strategy": "Strategy",
                "as_of": columns.market_time("Decided"),
                "client_order_id": "Client order id",
            },
        )


if __name__ == "__main__":
    render()
