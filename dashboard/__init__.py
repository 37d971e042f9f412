"""The Streamlit dashboard: reads `marts.*` only, as the read-only `trading_reader` role."""
