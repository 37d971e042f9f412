"""The command line that serves the dashboard with Streamlit."""

from __future__ import annotations

import sys
from pathlib import Path

APP_PATH = Path(__file__).resolve().parent / "streamlit_app.py"
LOCALHOST = "127.0.0.1"


def streamlit_command(port: int, headless: bool = True) -> list[str]:
    """The argv for `python -m streamlit run` serving the dashboard on 127.0.0.1:`port`."""
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    # A headless server is a deployment, not a dev loop: no file watcher, no reload on save.
    watcher = "none" if headless else "auto"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        f"--server.port={port}",
        f"--server.address={LOCALHOST}",
        f"--server.headless={'true' if headless else 'false'}",
        f"--server.fileWatcherType={watcher}",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        f"--browser.serverAddress={LOCALHOST}",
        f"--browser.serverPort={port}",
        "--client.toolbarMode=minimal",
    ]
