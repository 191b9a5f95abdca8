"""Load on a real `routecore serve`: a short soak at 80% of the measured peak with memory and
open files sampled, overload at 150% refused at once while answers go on, recovery; and a burst
far past the in-flight cap. The long soak is `bench/soak.py` (figures in bench/README.md).

What is asserted is behaviour, not speed (the machine is shared): no status but the two refusals
ever (RESOURCE_EXHAUSTED from the cap, CANCELLED from grpc's core queue bound), answers at half
the peak or more during the overload, memory and file descriptors bounded, a call answered within
100 ms again soon after. How much is refused at 80% and 150% is a figure (bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import grpc
from routecore.v1 import routing_pb2 as pb
from serving import serving

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_short_soak_then_overload_then_recovery(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    args = [
        "--peak-seconds", "3", "--soak-seconds", "20", "--windows", "4", "--soak-share", "0.8",
        "--overload-seconds", "4", "--overload-share", "1.5", "--recovery-seconds", "3", "--json", str(out),
    ]  # fmt: skip
    run = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), *args], capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
    r = json.loads(out.read_text())
    phases = [*r["soak"], r["overload"], r["recovery"]]
    statuses = Counter()
    for phase in phases:
        statuses.update(phase["errors"])
    # Overload is refused (the cap's RESOURCE_EXHAUSTED, or CANCELLED by grpc's core past
    # `max_queued` waiting calls), never a deadline, never UNKNOWN or INTERNAL.
    assert set(statuses) <= {"RESOURCE_EXHAUSTED", "CANCELLED"}, (
        statuses,
        [p["error_samples"] for p in phases],
    )
    # Refusing must not starve answering (it did when every refusal cost a Python pickup: 198
    # answers in 6 s at 1,000 calls in flight): at 150% the server still answers at >= 50% of peak.
    over = r["overload"]
    assert over["answered"] / over["seconds"] >= 0.5 * r["peak_per_s"], (over["answered"], r["peak_per_s"])
    # Refused at once, not after waiting unread in the transport: grpc's threads outrank the one
    # that answers (`--loop-nice`). 64 ms or less measured (bench/README.md); the bound is loose.
    assert not over["errors"] or over["shed_p99_ms"] < 1000, over["shed_p99_ms"]
    # How much is shed at 80% depends on the machine (the client and the server share it): the
    # shares are figures for bench/README.md, not assertions; every phase answers calls.
    assert all(p["answered"] > 0 for p in phases), [p["answered"] for p in phases]
    first = r["soak"][0]
    rss = [w["rss_kib"] for w in r["soak"]]
    # Leaks are what the reload-storm test and bench/soak.py's long run look for; here the bound
    # only says that grpc's queue of waiting calls (at most twice `max_queued`) stays bounded.
    assert max(rss) - first["rss_kib"] < 96 * 1024, rss
    assert max(w["open_files"] for w in phases if "open_files" in w) <= first["open_files"] + 8
    assert r["recovered_after_s"] < 10, r["recovered_after_s"]
    assert r["server_exit"] == 0


def test_overload_from_a_c_client_is_answered_or_refused_at_once(tmp_path: Path) -> None:
    """h2load (nghttp2, C) on its own CPU, the server on the other: unlike the Python client it can
    offer 150% of what the server answers, so what is measured is the server. Every call ends,
    answered or refused, the answers go on, and recovery is clean."""
    out = tmp_path / "h2load.json"
    args = [
        "--closed-seconds", "2", "--peak-seconds", "3", "--overload-seconds", "5", "--recovery-seconds", "3",
        "--p99-ms", "1000", "--json", str(out),
    ]  # fmt: skip
    run = subprocess.run(
        [sys.executable, str(BENCH / "overload_h2load.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    r = json.loads(out.read_text())
    over = r["overload"]
    assert over["not_done"] == 0 and over["refused"] > 0, over  # overloaded indeed, nothing lost
    assert over["answered"] / over["seconds"] >= 0.5 * r["peak_per_s"], (over, r["peak_per_s"])
    # Bounded by the server's own queues (1,024 waiting in grpc's core, 256 in flight): 130-150 ms
    # measured at 150% (bench/README.md); the bound here is loose for a busy machine.
    assert over["p99_ms"] < 1000, over
    assert r["recovery"]["refused"] == 0 and r["recovery"]["not_done"] == 0, r["recovery"]


def test_a_burst_far_past_the_cap_is_shed_with_resource_exhausted(tmp_path: Path) -> None:
    """3,000 calls at once against a cap of 256 and a queue bound of 512: the excess is refused
    (RESOURCE_EXHAUSTED by the cap, CANCELLED by grpc's core past the queue bound), every call is
    answered one way or the other, and calls are served normally right after."""
    request = pb.RouteRequest(called="4001234567", caller="13800138000", time="2026-11-11T10:00:00+08:00")
    payload = request.SerializeToString()

    async def burst(port: int) -> tuple[Counter[str], Counter[str]]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/routecore.v1.Router/RouteCall")

            async def one(seen: Counter[str]) -> None:
                try:
                    await call(payload, timeout=60)
                    seen["OK"] += 1
                except grpc.aio.AioRpcError as e:
                    seen[e.code().name] += 1

            during: Counter[str] = Counter()
            await asyncio.gather(*(one(during) for _ in range(3000)))
            await asyncio.sleep(1.0)
            after: Counter[str] = Counter()
            for _ in range(20):
                await one(after)
            return during, after

    with serving(tmp_path / "serve.log", "--max-in-flight", "256", "--max-queued", "512") as served:
        during, after = asyncio.run(burst(served.port))
        assert served.stop() == 0
    assert sum(during.values()) == 3000
    assert set(during) <= {"OK", "RESOURCE_EXHAUSTED", "CANCELLED"}, during
    assert during["OK"] > 0 and during["OK"] < 3000, during
    assert after == Counter(OK=20), after
