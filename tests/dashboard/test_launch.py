"""The argv that serves the dashboard."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dashboard.launch import streamlit_command


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in argv if arg.startswith("--"))


def test_command_runs_the_app_with_this_python_on_localhost() -> None:
    """The command serves dashboard/streamlit_app.py on 127.0.0.1 at the port asked for."""
    argv = streamlit_command(8765)
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(argv[4]) == Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
    assert Path(argv[4]).is_file()
    flags = _flags(argv)
    assert flags["server.port"] == "8765"
    assert flags["server.address"] == "127.0.0.1"
    assert flags["browser.gatherUsageStats"] == "false"


def test_headless_is_the_default_and_can_be_turned_off() -> None:
    """Headless servers neither open a browser nor watch files; interactive runs do both."""
    assert _flags(streamlit_command(8501))["server.headless"] == "true"
    assert _flags(streamlit_command(8501))["server.fileWatcherType"] == "none"
    interactive = _flags(streamlit_command(8501, headless=False))
    assert interactive["server.headless"] == "false"
    assert interactive["server.fileWatcherType"] == "auto"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_impossible_port_is_refused(port: int) -> None:
    """A port outside 1–65535 fails before anything is started."""
    with pytest.raises(ValueError, match="port"):
        streamlit_command(port)
