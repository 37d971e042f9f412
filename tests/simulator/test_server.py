"""Tests for hosting the simulator: the background server, `serve` guards, the clock wiring."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from simulator.server import Simulator, running_simulator, serve

START = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)


def test_running_simulator_serves_on_loopback_and_frees_the_port_on_exit(
    http: httpx.Client,
) -> None:
    with running_simulator(start=START) as handle:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", handle.url)
        assert handle.url.endswith(f":{handle.port}")
        assert http.get(f"{handle.url}/admin/clock").json()["now"] == "2024-01-03T15:00:00.000000Z"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", handle.port), timeout=2):
        pass


def test_running_simulator_accepts_a_fixed_port(http: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_simulator(start=START, port=port) as handle:
        assert handle.url == f"http://127.0.0.1:{port}"
        assert http.get(f"{handle.url}/admin/clock").status_code == 200


def test_serve_refuses_to_bind_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        serve(host="0.0.0.0", port=1, start=START)  # noqa: S104 - the refusal is the point


def test_simulator_refuses_naive_or_out_of_calendar_start_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulator(start=datetime(2024, 1, 3, 15, 0))  # noqa: DTZ001 - the refusal is the point
    with pytest.raises(ValueError, match="outside the simulated calendar"):
        Simulator(start=datetime(2040, 1, 1, tzinfo=UTC))


def test_a_running_clock_moves_forward_between_requests(http: httpx.Client) -> None:
    with running_simulator(start=START, speed=3600.0) as handle:
        first = http.get(f"{handle.url}/admin/clock").json()
        second = http.get(f"{handle.url}/admin/clock").json()
    assert first["speed"] == 3600.0
    assert second["now"] > first["now"] >= "2024-01-03T15:00:00"


def test_state_file_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 999}), encoding="utf-8")
    with pytest.raises(ValueError, match="version 999"):
        Simulator(start=START, state_path=state)
