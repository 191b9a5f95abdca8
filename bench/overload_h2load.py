"""Overload of a real `routecore serve` from a C client: h2load (nghttp2) sends gRPC RouteCalls.

`soak.py`'s client is grpc.aio in Python: on one core it cannot offer much more than the server
answers, and past that its own queue, not the server's, sets the latency. h2load can: here the
server runs on CPU 0 and h2load on CPU 1 (a switch on its own machine), loopback only, every
phase bounded in time, the server stopped by its PID. The phases:

1. peak: h2load offers `--probe-share` (2x) of a closed-loop estimate for `--peak-seconds`;
   the peak is what the server answered per second meanwhile (its decisions counter).
2. overload: `--overload-share` (150%) of that peak for `--overload-seconds`: every request must
   end (answered, or refused by the core's queue bound or the in-flight cap) and the p99 of all
   of them stay under `--p99-ms`, while the server answers at least half its peak.
3. recovery: 50% of peak for `--recovery-seconds`: everything answered.

    python bench/overload_h2load.py            # needs h2load: apt-get install nghttp2-client

h2load counts a gRPC refusal as a success (HTTP 200, the status is in the trailers), so the
refused calls are those done less those the server's decisions counter says it answered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from pacing import add_overload_options, pct
from routecore.v1 import routing_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from serving import Served, start

METHOD = "/routecore.v1.Router/RouteCall"
SERVER_CPU, CLIENT_CPU = 0, 1


def answered(server: Served) -> float:
    """Calls the server has answered so far (its gRPC decisions counter, all actions)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return sum(float(v) for v in re.findall(r"^routecore_grpc_decisions_total\{[^}]*\} (\S+)$", text, re.M))


def h2load(server: Served, body: Path, log: Path, seconds: float, rate: float | None) -> dict[str, Any]:
    """One h2load run on `CLIENT_CPU`: closed loop (64 in flight) when `rate` is None, else an open loop
    at `rate`/s (enough streams allowed that it never waits for answers)."""
    log.unlink(missing_ok=True)
    load = ["-m", "64"] if rate is None else ["-m", str(max(64, int(rate))), "--rps", str(int(rate))]
    before = answered(server)
    headers = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    command = ["h2load", "-c", "1", *load, "-D", str(int(seconds)), "--log-file", str(log), "-d", str(body)]
    run = subprocess.run(
        [*command, *headers, f"http://127.0.0.1:{server.port}{METHOD}"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        preexec_fn=lambda: os.sched_setaffinity(0, {CLIENT_CPU}),
    )
    after = answered(server)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", run.stdout)  # fmt: skip
    if run.returncode != 0 or m is None:
        raise RuntimeError(f"h2load failed ({run.returncode}): {run.stdout[-2000:]} {run.stderr[-2000:]}")
    total, _, done, _, failed, errored, timeout = map(int, m.groups())
    times = [int(line.split("\t")[2]) / 1e6 for line in log.read_text().splitlines()]
    return {
        "offered_per_s": total / seconds,
        "done": done,
        "answered": after - before,
        "refused": max(0, done - int(after - before)),
        "not_done": total - done + failed + errored + timeout,
        "p50_ms": pct(times, 0.5) * 1e3,
        "p99_ms": pct(times, 0.99) * 1e3,
        "max_ms": max(times, default=float("nan")) * 1e3,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed-seconds", type=float, default=5.0, help="the closed-loop estimate")
    parser.add_argument("--peak-seconds", type=float, default=10.0)
    parser.add_argument("--probe-share", type=float, default=2.0)
    parser.add_argument("--loop-nice", type=int, default=10, help="the server's --loop-nice")
    parser.add_argument("--p99-ms", type=float, default=250.0, help="bound on the overload's p99 (all calls)")
    add_overload_options(parser)
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two CPUs: the server on one, h2load on the other")
    request = pb.RouteRequest(called="4001234567", caller="13800138000", time="2026-11-11T10:00:00+08:00")
    message = request.SerializeToString()
    with tempfile.TemporaryDirectory() as tmp:
        body, log = Path(tmp) / "request.grpc", Path(tmp) / "h2load.tsv"
        body.write_bytes(b"\x00" + struct.pack(">I", len(message)) + message)  # gRPC framing
        server = start(
            Path(tmp) / "serve.log",
            *("--loop-nice", str(args.loop_nice)),
            http=True,
            preexec=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        )
        try:
            closed = h2load(server, body, log, args.closed_seconds, None)
            estimate = closed["done"] / args.closed_seconds
            probe = h2load(server, body, log, args.peak_seconds, args.probe_share * estimate)
            peak = probe["answered"] / args.peak_seconds
            over = h2load(server, body, log, args.overload_seconds, args.overload_share * peak)
            rec = h2load(server, body, log, args.recovery_seconds, 0.5 * peak)
        finally:
            exit_code = server.stop()
    print(f"closed loop (64 in flight): {estimate:,.0f}/s; peak: {peak:,.0f} answered/s "
          f"while offered {probe['offered_per_s']:,.0f}/s\n")  # fmt: skip
    print("| phase | offered/s | answered/s | refused | not done | p50 / p99 / max ms (all calls) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in (("peak probe", probe), ("overload", over), ("recovery (50%)", rec)):
        rate = r["answered"] / r["seconds"]
        times = f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f}"
        cells = [
            name,
            f"{r['offered_per_s']:,.0f}",
            f"{rate:,.0f}",
            f"{r['refused']:,}",
            str(r["not_done"]),
            times,
        ]
        print("| " + " | ".join(cells) + " |")
    result = {"closed_per_s": estimate, "peak_per_s": peak, "probe": probe, "overload": over, "recovery": rec}
    checks = {
        "overload: every call ended (answered or refused)": over["not_done"] == 0,
        f"overload: p99 of all calls < {args.p99_ms:g} ms": over["p99_ms"] < args.p99_ms,
        "overload: answers at >= 50% of peak meanwhile": over["answered"] / over["seconds"] >= 0.5 * peak,
        "recovery: everything answered": rec["not_done"] == 0 and rec["refused"] == 0,
        "the server stopped cleanly (exit 0)": exit_code == 0,
    }
    if args.json:
        args.json.write_text(json.dumps({**result, "checks": checks}, indent=2))
    print()
    for name, ok in checks.items():
        print(f"- {'✓' if ok else '✗'} {name}")
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
