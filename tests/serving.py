"""`routecore serve` as a real process for the fault, load and TLS tests: started on free loopback
ports with its log in a file, its RSS and open files read from /proc, stopped by its PID."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A `routecore serve` process: its PID, gRPC port, optional HTTP port and log file."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, http_port: int | None, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.http_port = http_port
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kib(self) -> int:
        """Resident memory now (VmRSS, KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def open_files(self) -> int:
        """File descriptors open now (sockets, the database, its WAL…)."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def events(self, event: str) -> list[dict[str, Any]]:
        """The structured log lines with this `event`."""
        return log_events(self.log, event)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; SIGKILL if it does not stop in time. The exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def log_events(log: Path, event: str) -> list[dict[str, Any]]:
    """The structured (JSON) lines of a server log with this `event`."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == event:
                out.append(entry)
    return out


def start(
    log: Path,
    *args: str,
    http: bool = False,
    preexec: Callable[[], None] | None = None,
    log_pipe: bool = False,
) -> Served:
    """`routecore serve --grpc 127.0.0.1:0 [--http 127.0.0.1:<free>] ARGS`, once it listens.

    `log_pipe`: the log reaches its file through a pipe copied by a thread of this process, so a
    file-size limit put on the server (RLIMIT_FSIZE) does not stop its log."""
    http_port = free_port() if http else None
    # Without `http`, none: the default address (127.0.0.1:8080) is no free port.
    extra: Sequence[str] = ("--http", f"127.0.0.1:{http_port}") if http else ("--http", "off")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", *extra, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if log_pipe else out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=preexec,  # resource limits only, before exec
        )
    if log_pipe:
        assert proc.stderr is not None
        threading.Thread(target=_copy, args=(proc.stderr, log), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"serving gRPC on [^\"]*:(\d+)", log.read_text(errors="replace"))
        if m:
            return Served(proc, int(m.group(1)), http_port, log)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("server did not start: " + log.read_text(errors="replace"))


def _copy(pipe: Any, log: Path) -> None:
    with pipe, log.open("ab") as out:
        for line in pipe:
            out.write(line)
            out.flush()


@contextmanager
def serving(log: Path, *args: str, **kwargs: Any) -> Iterator[Served]:
    """`start`, and whatever happens the process is stopped by its PID."""
    served = start(log, *args, **kwargs)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()


def until(check: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
