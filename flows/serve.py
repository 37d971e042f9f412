"""Serve the hourly cycle on its schedule with Prefect (a local Prefect server when none is set)."""

from __future__ import annotations

from prefect.schedules import Cron

from flows.pipeline import hourly_cycle
from flows.prefect_server import prefect_api

HOURLY = Cron("5 * * * 1-5", timezone="America/New_York")


def serve_hourly() -> None:
    """Run `hourly_cycle` at minute 5 of every hour, Monday to Friday, New York time.

    The cycle itself asks the broker's clock and skips hours when the market is closed.
    Prefect's ephemeral mode runs no scheduler ("Cannot schedule flows on an ephemeral
    server"), so without PREFECT_API_URL a local server with all its services runs meanwhile.
    """
    with prefect_api(scheduler=True):
        hourly_cycle.serve(name="hourly", schedules=[HOURLY])
