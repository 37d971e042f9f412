"""Nothing a command starts outlives it: not after `kill -9`, not after a normal end.

The processes a command started are found as its descendants in /proc while it runs (Linux);
after the kill each must be gone (a zombie waiting for init to reap it counts as gone).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from flows.prefect_server import prefect_api
from simulator.server import SimulatorHandle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform != "linux", reason="reads the process tree from /proc"),
]

TRADING = Path(sys.executable).with_name("trading")
# A process the kernel is told to kill is gone within milliseconds; this bound only keeps a
# failing test from hanging.
GONE_SECONDS = 30
START_SECONDS = 180

Process = tuple[int, str]  # pid and start time: a pid alone may be reused


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a `trading run` on the simulator and a fresh database, with no
    Prefect server of its own (so it starts one)."""
    environ = {**os.environ, **env, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    environ.pop("PREFECT_API_URL", None)
    return environ


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def _process(pid: int) -> Process | None:
    fields = _stat(pid)
    return (pid, fields[19]) if fields else None  # field 22, starttime


def _alive(process: Process) -> bool:
    fields = _stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _descendants(pid: int) -> set[Process]:
    """Every live process below `pid`, children of any of its threads included."""
    found: set[Process] = set()
    parents = [pid]
    while parents:
        parent = parents.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(child) for child in children.read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            for child in pids:
                process = _process(child)
                if process and process not in found:
                    found.add(process)
                    parents.append(child)
    return found


def _prefect_servers(processes: set[Process]) -> list[str]:
    return [_cmdline(pid) for pid, _ in processes if "prefect" in _cmdline(pid)]


def _wait_for(condition: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _survivors(processes: set[Process], seconds: float = GONE_SECONDS) -> list[str]:
    """The command lines of `processes` still running after up to `seconds`; then kills them,
    so a failing test leaves nothing running either."""
    deadline = time.monotonic() + seconds
    while any(_alive(process) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [process for process in processes if _alive(process)]
    survivors = [_cmdline(pid) for pid, _ in alive]
    for pid, _ in alive:
        os.kill(pid, signal.SIGKILL)
    return survivors


def test_kill_9_of_trading_run_leaves_no_process_it_started(
    env: dict[str, str], sim: SimulatorHandle, tmp_path: Path
) -> None:
    """`trading run` killed with SIGKILL while its cycle loads bars: its Prefect server
    and any other process it started end with it."""
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(  # noqa: S603 (our own console script)
            [str(TRADING), "run", "--force"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started: set[Process] = set()
    try:

        def cycle_loading_bars() -> bool:
            assert run.poll() is None, f"trading run ended first:\n{log.read_text()}"
            started.update(_descendants(run.pid))
            loading = any("/bars" in request for request in sim.simulator.requests.counts())
            return loading and bool(_prefect_servers(started))

        _wait_for(cycle_loading_bars, "the cycle to load bars", START_SECONDS)
    finally:
        run.kill()
        run.wait()
    assert not _survivors(started), "still running after kill -9 of trading run"


SERVE_AND_WAIT = """
import time
from flows.prefect_server import prefect_api
with prefect_api(scheduler=True) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def test_kill_9_of_a_command_serving_with_a_scheduler_leaves_no_server(tmp_path: Path) -> None:
    """The server `trading serve` starts (all services, scheduler included) ends with it too."""
    environ = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    environ.pop("PREFECT_API_URL", None)
    command = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed script)
        [sys.executable, "-c", SERVE_AND_WAIT],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    started: set[Process] = set()
    try:
        assert command.stdout is not None
        url = command.stdout.readline().strip()
        started.update(_descendants(command.pid))
        assert _prefect_servers(started), "no Prefect server was started"
        # Serving: the kill lands on a server that has started its services.
        _wait_for(lambda: _healthy(url), "the Prefect server to answer", START_SECONDS)
    finally:
        command.kill()
        command.wait()
    assert not _survivors(started), "still running after kill -9 of the command"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_normal_end_stops_the_server_after_its_logs_reach_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the end of the block the server is gone, and the flow's last log line was stored."""
    from prefect import flow, get_run_logger
    from prefect.settings import PREFECT_HOME

    line = f"the last line, {uuid.uuid4()}"

    @flow(name="no_orphan_probe")
    def probe() -> int:
        get_run_logger().info(line)
        return 7

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    before = _descendants(os.getpid())  # e.g. what earlier tests left to this process
    with prefect_api():
        servers = _descendants(os.getpid()) - before
        assert _prefect_servers(servers)
        assert probe() == 7
    assert not any(_alive(process) for process in servers)
    with closing(sqlite3.connect(Path(PREFECT_HOME.value()) / "prefect.db")) as db:
        stored = db.execute("select count(*) from log where message = ?", (line,)).fetchone()
    assert stored == (1,)
