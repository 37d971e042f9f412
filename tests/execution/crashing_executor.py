"""Test only: `trading execute`'s work in a process that SIGKILLs itself at one checkpoint.

Usage: python tests/execution/crashing_executor.py recorded|answered (settings from the env).
"""

from __future__ import annotations

import os
import signal
import sys

from config.database import make_engine, resolve_connection
from config.settings import load_settings
from execution.orders import approved_orders
from execution.submit import submit_orders
from ingestion.alpaca import trading_client


def main(kill_at: str) -> None:
    """Run the execute step; die without any cleanup when `kill_at` is reached."""
    settings = load_settings()
    engine = make_engine(resolve_connection(settings))

    def checkpoint(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    orders = approved_orders(engine)
    submit_orders(trading_client(settings), engine, orders, settings.trading_mode, checkpoint)
    sys.exit(f"never reached checkpoint {kill_at!r}")


if __name__ == "__main__":
    main(sys.argv[1])
