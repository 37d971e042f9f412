"""The Prefect API a command talks to: PREFECT_API_URL, or a local server that dies with us.

Prefect's own ephemeral server (`SubprocessASGIServer`) is a child process that outlives a
`kill -9` of the command that started it. The server started here cannot: on Linux the kernel
kills it when its parent dies (`PR_SET_PDEATHSIG`); elsewhere a watchdog thread in the server
ends it once its parent is gone. It runs uvicorn on Prefect's app in one process and starts no
process of its own.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from loguru import logger

HOST = "127.0.0.1"
# PR_SET_PDEATHSIG from <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# How often the server's watchdog looks for its parent where the kernel does not watch for it.
WATCHDOG_SECONDS = 0.5
STOP_SECONDS = 10
DRAIN_SECONDS = 5
BACKLOG = 64
# The server's last lines, in the error when it does not start: the cause is at the end.
LOG_TAIL_LINES = 3


class PrefectServerError(RuntimeError):
    """The local Prefect server stopped serving or never served."""


@contextmanager
def prefect_api(scheduler: bool = False) -> Iterator[str]:
    """The Prefect API URL for this command, with Prefect's settings pointing at it meanwhile.

    With PREFECT_API_URL set (in the environment or the Prefect profile), that server is used
    and nothing is started. Otherwise a local server runs for the life of the `with` block and
    no longer, even if this process is killed. `scheduler=True` runs all the server's services
    and its UI (for `flow.serve`); a one-shot run needs only those of Prefect's ephemeral mode.
    Returns at once: the server starts while the block's own work goes on, and the block's
    first Prefect request waits for it. Enter it from the main thread.
    """
    url = _api_url_set()
    if url:
        yield url
        return
    server = LocalPrefectServer(scheduler)
    # Started before Prefect is imported here (when it is not yet): the two load in parallel.
    server.start()
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        url = _api_url_set()
        if url:  # from the Prefect profile, known once Prefect is loaded
            server.stop()
            yield url
            return
        try:
            with temporary_settings({PREFECT_API_URL: server.url}):
                try:
                    yield server.url
                finally:
                    # A failed run's logs matter most: send them whatever ended the block.
                    if not server.exited():
                        drain_prefect_workers()
        except Exception as error:
            if server.exited():
                raise PrefectServerError(server.failure()) from error
            raise
    finally:
        server.stop()


def _api_url_set() -> str | None:
    """PREFECT_API_URL from the environment or, once Prefect is loaded, from its settings (the
    profile, or an enclosing `prefect_api`)."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    return os.environ.get("PREFECT_API_URL")


class LocalPrefectServer:
    """A Prefect server process on 127.0.0.1 (data in PREFECT_HOME) that cannot outlive us."""

    def __init__(self, scheduler: bool = False) -> None:
        self.scheduler = scheduler
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[str] | None = None
        self._stopping = False

    def start(self) -> None:
        """Start the server; its socket already accepts connections, which wait until it serves."""
        if threading.current_thread() is not threading.main_thread():
            # The kernel's parent-death signal follows the thread that forked the server: from
            # a thread that ends first, the server would be killed while we still need it.
            raise RuntimeError("start the local Prefect server from the main thread")
        # Bound and listening here, then handed down: no other process can take the port, and a
        # request sent while the server still loads waits in the kernel's backlog, not refused.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            sock.listen(BACKLOG)
            self.url = f"http://{HOST}:{sock.getsockname()[1]}/api"
            env = {**os.environ}
            env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop)
            self._process = subprocess.Popen(  # noqa: S603 (our interpreter and module)
                [
                    sys.executable,
                    "-P",  # not the working directory's modules: a `flows/` there is not ours
                    "-m",
                    "flows.prefect_server",
                    str(os.getpid()),
                    str(sock.fileno()),
                    "full" if self.scheduler else "ephemeral",
                ],
                env=env,
                pass_fds=[sock.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                # Out of the terminal's process group: Ctrl-C reaches the command, which sends
                # what Prefect still queues and then stops the server.
                start_new_session=True,
            )
        logger.bind(url=self.url).debug("local Prefect server starting")

    def exited(self) -> bool:
        """Whether the server process has ended without being asked to."""
        return self._process is not None and not self._stopping and self._process.poll() is not None

    def failure(self) -> str:
        """Why the server is not serving: its exit code and last lines, and where its data is."""
        from prefect.settings import PREFECT_HOME

        code = self._process.poll() if self._process else None
        state = "is running" if code is None else f"exited with code {code}"
        tail = "(no output)"
        if self._log is not None and not self._log.closed:
            self._log.seek(0)
            tail = " | ".join(self._log.read().strip().splitlines()[-LOG_TAIL_LINES:]) or tail
        return (
            f"the local Prefect server {state} (PREFECT_HOME={PREFECT_HOME.value()}; "
            f"set PREFECT_API_URL to use another server): {tail}"
        )

    def stop(self) -> None:
        """Stop the server and wait for it to end; safe to call twice."""
        self._stopping = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()


def drain_prefect_workers() -> None:
    """Send the logs and events Prefect still queues, while the server is there to take them.

    Drained from a thread of its own: where this thread has an event loop running (a caller's
    async code, a sync Playwright session), Prefect's `drain_all` returns a coroutine instead
    of waiting, and the last lines would be lost.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    def drain() -> None:
        APILogWorker.drain_all(timeout=DRAIN_SECONDS, at_exit=False)
        EventsWorker.drain_all(timeout=DRAIN_SECONDS, at_exit=False)

    drainer = threading.Thread(target=drain, name="prefect-drain")
    drainer.start()
    drainer.join()


def _die_with(parent: int) -> None:
    """End this process when `parent` ends, however it ends (kill -9 included)."""
    if sys.platform == "linux":
        # SIGKILL: nothing here needs a graceful end (SQLite is crash-safe), and a shutdown on
        # SIGTERM could hang on a service once the command is gone.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(WATCHDOG_SECONDS)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    # A parent that died before prctl took effect: orphans are re-parented, so a different
    # parent id means ours is gone.
    if os.getppid() != parent:
        os._exit(1)


def _serve(parent: int, fd: int, mode: str) -> None:
    """The server process: Prefect's app on the inherited socket, in this one process."""
    _die_with(parent)
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_HOME

    # Prefect creates its home's last level only; its SQLite database lives there.
    Path(PREFECT_HOME.value()).mkdir(parents=True, exist_ok=True)
    app = create_app(final=True, ephemeral=mode == "ephemeral")
    config = uvicorn.Config(app, log_level="error", lifespan="on")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
