"""A bounded HTTP/JSON load generator for routecore's `/v1/route` (loopback only).

It starts the server in a child process (the embedded demo plan, `127.0.0.1`, a free port),
drives it from client processes over keep-alive connections, and prints requests/s and latency
percentiles. Every run is bounded twice: a fixed number of requests per connection and a time
limit; the server child is stopped at the end.

Scenarios:
- `one`: one client, one connection, one request at a time (the latency figure).
- `peak`: `--connections` connections over `--clients` processes, each connection closed-loop.
- `at 50% / 90%`: the same connections paced to that share of the peak rate (each connection
  sends at most one request at a time, at its scheduled times). Latency counts from the actual
  send (epoll's 1 ms timer granularity would otherwise add the client's own lateness); a server
  that cannot keep up shows as an achieved rate below the offered one.

Run:  .venv/bin/python bench/http_load.py [--requests 20000] [--connections 8] [--clients 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from selectors import EVENT_READ, DefaultSelector
from urllib.parse import quote, urlencode

AT = "2026-11-11T10:00:00+08:00"
# (called, digits) of the demo plan that forward; callers vary so per-caller limits stay out of the way.
CALLS = [
    ("4001234567", "1"),
    ("4001234567", "2"),
    ("4006666666", ""),
    ("4008888888", ""),
    ("4009512345", "1"),
]
_CLEN = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


def requests(n: int = 2000, seed: int = 7) -> list[bytes]:
    """`n` distinct keep-alive GET requests for the demo plan."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        called, digits = CALLS[i % len(CALLS)]
        caller = f"13{rnd.randrange(10**9):09d}"
        q = urlencode({"called": called, "caller": caller, "digits": digits, "time": AT}, quote_via=quote)
        out.append(f"GET /v1/route?{q} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return out


# --- the server child ---------------------------------------------------------------------------


def serve_child(use_uvloop: bool = False) -> None:
    """The server process: prints its port, serves until SIGTERM or stdin closes."""
    import asyncio

    import routecore
    from routecore.http import start_http

    async def main() -> None:
        engine = routecore.Engine.demo()
        server = await start_http(engine, "127.0.0.1", 0)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_reader(
            sys.stdin.fileno(), lambda: stop.set() if not os.read(sys.stdin.fileno(), 1) else None
        )
        print(server.port, flush=True)
        await stop.wait()
        await server.stop(1.0)

    if use_uvloop:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerChild:
    """The server in a child process (ended by its own pid at exit)."""

    def __init__(self, use_uvloop: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", *(["--uvloop"] if use_uvloop else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far (Linux /proc)."""
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


# --- the clients --------------------------------------------------------------------------------


class _Conn:
    __slots__ = ("buf", "done", "due", "i", "sent_at", "sock")

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.i = 0
        self.done = 0
        self.sent_at = 0
        self.due = 0


def _complete(buf: bytes) -> int:
    """Length of the first complete response in `buf`, or 0."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    m = _CLEN.search(buf, 0, end + 2)
    n = end + 4 + (int(m.group(1)) if m else 0)
    return n if len(buf) >= n else 0


def client_worker(port: int, conns: int, per_conn: int, seconds: float, rate: float, out: mp.Queue) -> None:
    """Drives `conns` connections, each closed-loop (one request outstanding) for `per_conn`
    requests or `seconds`, whichever ends first; paced at `rate` requests/s over all of them
    when `rate` > 0. Puts (latencies in ns, errors, elapsed s) on `out`."""
    reqs = requests()
    sel = DefaultSelector()
    cs = [_Conn(port) for _ in range(conns)]
    gap = int(1e9 * conns / rate) if rate > 0 else 0
    lat = array("q")
    errors = 0
    t0 = time.perf_counter_ns()
    stop_at = t0 + int(seconds * 1e9)
    for k, c in enumerate(cs):
        sel.register(c.sock, EVENT_READ, c)
        c.due = t0 + (gap * k) // conns

    def send(c: _Conn, now: int) -> None:
        c.sent_at = now
        c.sock.send(reqs[(c.i * 7919 + id(c)) % len(reqs)])
        c.i += 1

    waiting = []  # paced connections waiting for their next due time
    for c in cs:
        if gap:
            waiting.append(c)
        else:
            send(c, time.perf_counter_ns())
    active = len(cs)
    while active:
        now = time.perf_counter_ns()
        if now >= stop_at:
            break
        if waiting:
            ready = [c for c in waiting if c.due <= now]
            for c in ready:
                waiting.remove(c)
                send(c, now)
            timeout = max(0.0, (min((c.due for c in waiting), default=now) - now) / 1e9) if waiting else 0.05
            timeout = min(timeout, 0.05)
        else:
            timeout = 0.05
        for key, _ in sel.select(timeout):
            c = key.data
            chunk = c.sock.recv(65536)
            if not chunk:
                errors += 1
                sel.unregister(c.sock)
                active -= 1
                continue
            c.buf += chunk
            n = _complete(c.buf)
            if not n:
                continue
            done = time.perf_counter_ns()
            if not c.buf.startswith(b"HTTP/1.1 200"):
                errors += 1
            c.buf = c.buf[n:]
            lat.append(done - c.sent_at)
            c.done += 1
            if c.done >= per_conn:
                sel.unregister(c.sock)
                active -= 1
            elif gap:
                c.due += gap
                waiting.append(c)
            else:
                send(c, done)
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    for c in cs:
        c.sock.close()
    sel.close()
    out.put((lat.tobytes(), errors, elapsed))


@dataclass
class Result:
    name: str
    connections: int
    count: int
    errors: int
    seconds: float
    p50_us: float
    p90_us: float
    p99_us: float
    offered: float = 0.0
    server_cpu_us: float = float("nan")  # server CPU time per request

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        offered = f"{self.offered:,.0f}" if self.offered else "closed loop"
        return (
            f"| {self.name:<14} | {self.connections:>5} | {self.count:>8} | {offered:>11} | "
            f"{self.rps:>9,.0f} | "
            f"{self.p50_us:>8.0f} | {self.p90_us:>8.0f} | {self.p99_us:>8.0f} | {self.server_cpu_us:>7.1f} | "
            f"{self.errors:>6} |"
        )


HEADER = (
    "| scenario       | conns | requests | offered/s   |   req/s   "
    "| p50 µs   | p90 µs   | p99 µs   | CPU µs  | errors |\n"
    "| -------------- | ----: | -------: | ----------: | --------: "
    "| -------: | -------: | -------: | ------: | -----: |"
)


def _pct(sorted_ns: Sequence[int], p: float) -> float:
    if not sorted_ns:
        return float("nan")
    return sorted_ns[min(len(sorted_ns) - 1, int(p * len(sorted_ns)))] / 1000


def run(
    name: str,
    port: int,
    connections: int,
    clients: int,
    per_conn: int,
    seconds: float,
    rate: float = 0.0,
    server_pid: int = 0,
) -> Result:
    """One scenario: `connections` spread over `clients` processes; returns the merged figures."""
    cpu0 = cpu_seconds(server_pid) if server_pid else float("nan")
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    split = [connections // clients + (1 if i < connections % clients else 0) for i in range(clients)]
    procs = [
        ctx.Process(target=client_worker, args=(port, n, per_conn, seconds, rate * n / connections, q))
        for n in split
        if n
    ]
    for p in procs:
        p.start()
    lat = array("q")
    errors, elapsed = 0, 0.0
    for _ in procs:
        raw, err, secs = q.get(timeout=seconds + 30)
        lat.frombytes(raw)
        errors += err
        elapsed = max(elapsed, secs)
    for p in procs:
        p.join(10)
    ordered = sorted(lat)
    cpu = (cpu_seconds(server_pid) - cpu0) / len(ordered) * 1e6 if server_pid and ordered else float("nan")
    return Result(
        name,
        connections,
        len(ordered),
        errors,
        elapsed,
        _pct(ordered, 0.5),
        _pct(ordered, 0.9),
        _pct(ordered, 0.99),
        offered=rate,
        server_cpu_us=cpu,
    )


def in_process_floor(n: int = 20000) -> float:
    """Mean µs of decide + encode in process (no HTTP), as the server does it (`route_json`)."""
    import routecore
    from routecore._routecore import route_json

    e = routecore.Engine.demo()
    rnd = random.Random(3)
    args = [(c, f"13{rnd.randrange(10**9):09d}", d, AT) for c, d in (CALLS[i % len(CALLS)] for i in range(n))]
    t0 = time.perf_counter()
    for a in args:
        route_json(e, *a)
    return (time.perf_counter() - t0) / n * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, default=20000, help="requests per connection (default 20000)")
    ap.add_argument("--seconds", type=float, default=8.0, help="time limit per scenario (default 8)")
    ap.add_argument("--connections", type=int, default=8, help="connections for the peak run (default 8)")
    ap.add_argument("--clients", type=int, default=1, help="client processes for the peak run (default 1)")
    ap.add_argument("--uvloop", action="store_true", help="serve on uvloop (if installed) instead of asyncio")
    ap.add_argument(
        "--port", type=int, default=0, help="an already running server on 127.0.0.1 (default: start one)"
    )
    args = ap.parse_args(argv)
    if args.serve:
        serve_child(args.uvloop)
        return
    child = None if args.port else ServerChild(args.uvloop)
    port = args.port or child.port  # type: ignore[union-attr]
    pid = child.proc.pid if child is not None else 0
    try:
        run("warm-up", port, 1, 1, 2000, 2.0)
        results = [run("one client", port, 1, 1, args.requests, args.seconds, server_pid=pid)]
        peak = run("peak", port, args.connections, args.clients, args.requests, args.seconds, server_pid=pid)
        results.append(peak)
        for share in (0.5, 0.9):
            results.append(
                run(
                    f"at {share:.0%} of peak", port, args.connections, args.clients,
                    args.requests, args.seconds, rate=share * peak.rps, server_pid=pid,
                )
            )  # fmt: skip
    finally:
        if child is not None:
            child.close()
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"routecore HTTP/JSON, GET /v1/route, demo plan, loopback, {os.cpu_count()} CPUs, server on {loop}")
    print(f"in-process decide + encode: {in_process_floor():.1f} µs per request\n")
    print(HEADER)
    for r in results:
        print(r.row())


if __name__ == "__main__":
    main()
