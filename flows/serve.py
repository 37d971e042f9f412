"""Serve the hourly cycle on its schedule with Prefect (no separate server needed)."""

from __future__ import annotations

from prefect.schedules import Cron

from flows.pipeline import hourly_cycle

HOURLY = Cron("5 * * * 1-5", timezone="America/New_York")


def serve_hourly() -> None:
    """Run `hourly_cycle` at minute 5 of every hour, Monday to Friday, New York time.

    The cycle itself asks the broker's clock and skips hours when the market is closed.
    """
    hourly_cycle.serve(name="hourly", schedules=[HOURLY])
