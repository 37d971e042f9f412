"""Serve the hourly cycle on its schedule with Prefect (a local Prefect server when none is set)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from loguru import logger
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.pipeline import hourly_cycle

HOURLY = Cron("5 * * * 1-5", timezone="America/New_York")
SERVER_START_SECONDS = 180


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_prefect_server() -> Iterator[str]:
    """A Prefect server on 127.0.0.1 for as long as we serve.

    Prefect's ephemeral mode runs no scheduler ("Cannot schedule flows on an ephemeral server"),
    so a scheduled deployment needs a real server; this one keeps its data in PREFECT_HOME.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with code {server.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Prefect server did not answer within {SERVER_START_SECONDS} s"
                )
            time.sleep(0.5)
        logger.bind(url=url).info("Prefect server started")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve_hourly() -> None:
    """Run `hourly_cycle` at minute 5 of every hour, Monday to Friday, New York time.

    The cycle itself asks the broker's clock and skips hours when the market is closed.
    """
    if os.environ.get("PREFECT_API_URL"):
        hourly_cycle.serve(name="hourly", schedules=[HOURLY])
        return
    with local_prefect_server() as url, temporary_settings({PREFECT_API_URL: url}):
        hourly_cycle.serve(name="hourly", schedules=[HOURLY])
