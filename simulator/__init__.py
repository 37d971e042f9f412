"""A local Alpaca-compatible market and paper broker on 127.0.0.1 (see simulator.server)."""
