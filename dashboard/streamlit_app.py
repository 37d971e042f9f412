"""The Streamlit entry point: page setup and navigation over `dashboard/app_pages/`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


def main() -> None:
    """Configure the app, check the database once, and run the chosen page."""
    st.set_page_config(
        page_title="Trading dashboard", page_icon=":material/monitoring:", layout="wide"
    )
    page = st.navigation(
        [
            st.Page(
                PAGES_DIR / "overview.py",
                title="Overview",
                icon=":material/dashboard:",
                default=True,
            ),
            st.Page(
                PAGES_DIR / "orders.py", title="Order decisions", icon=":material/receipt_long:"
            ),
            st.Page(
                PAGES_DIR / "performance.py", title="Performance", icon=":material/trending_up:"
            ),
            st.Page(PAGES_DIR / "backtests.py", title="Backtests", icon=":material/history:"),
        ]
    )
    if not data.database_ready():
        st.stop()
    page.run()


if __name__ == "__main__":
    main()
