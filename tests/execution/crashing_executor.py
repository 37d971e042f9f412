"""Test only: `trading execute`'s work in a process that SIGKILLs itself at one checkpoint.

Usage: python tests/execution/crashing_executor.py recorded|answered [N] (settings from the env):
killed the Nth time (default the first) the checkpoint is reached.
"""

from __future__ import annotations

import os
import signal
import sys

from config.alpaca import trading_client
from config.database import make_engine, resolve_connection
from config.settings import load_settings
from execution.orders import approved_orders
from execution.submit import submit_orders


def main(kill_at: str, nth: int) -> None:
    """Run the execute step; die without any cleanup the `nth` time `kill_at` is reached."""
    settings = load_settings()
    engine = make_engine(resolve_connection(settings))
    reached = 0

    def checkpoint(step: str) -> None:
        nonlocal reached
        reached += step == kill_at
        if reached == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    orders = approved_orders(engine)
    submit_orders(trading_client(settings), engine, orders, settings.trading_mode, checkpoint)
    sys.exit(f"never reached checkpoint {kill_at!r} {nth} times")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
