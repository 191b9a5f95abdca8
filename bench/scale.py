"""Decisions per second and latency of one node with in-process state vs one and two nodes with
their state on Redis, in the same run (issue 7).

A node is a process routing the acceptance plan's mixed calls (region routing, an IVR walk to a
capped sequential group, weighted, a carrier rule) one `Engine.route` at a time, as the server's
event loop does. Configurations alternate over the rounds; the table shows medians. Redis is a
real `redis-server` on a free loopback port, started and stopped (by PID) by this script. Every
phase is bounded in count and time.

    .venv/bin/python bench/scale.py                 # --seconds 3 --rounds 3 --latency-calls 4000
    .venv/bin/python bench/scale.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SPEC_PLAN = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance" / "plan.yaml"
AT = "2026-11-11T10:00:00+08:00"
LATER = "2026-11-20T10:00:00+08:00"
# (called, caller, digits, time, label): what each call reads and writes in the state.
CALLS = [
    ("4006666666", "15907550000", "", AT, "region"),  # region routing: no state read
    ("4001234567", "13800138000", "1", AT, "ivr"),  # IVR walk to a sequential group: no state read
    ("4008888888", "13800138000", "", AT, "weighted"),  # weighted credits: 1 round trip
    ("4008888888", "13800138000", "", LATER, "least_busy"),  # caps + least busy: 2 round trips
    ("4001234567", "13900000000", "", AT, "per_caller"),  # a new call: the caller's window, 1 round trip
]
KINDS = [c[4] for c in CALLS]


def _call(i: int) -> tuple[str, str, str, str]:
    called, caller, digits, at, label = CALLS[i % len(CALLS)]
    if label == "per_caller":
        caller = f"139{i % 100_000:08d}"  # many callers: most are admitted
    return called, caller, digits, at


def node(state: str | None, prefix: str, seconds: float, latency_calls: int, start: Any, out: Any) -> None:
    """One node: a latency phase (each call timed), then a throughput phase (calls for `seconds`)."""
    import routecore

    engine = routecore.Engine.from_file(SPEC_PLAN, state=state, state_prefix=prefix)
    for i in range(200):  # warm up: scripts loaded, connections open
        engine.route(*_call(i), call_id=f"w{i}")
    start.wait(60)
    lat: list[int] = []
    by_kind: list[list[int]] = [[] for _ in CALLS]
    clock = time.perf_counter_ns
    for i in range(latency_calls):
        call = _call(i)
        t0 = clock()
        engine.route(*call, call_id=f"l{i}")
        took = clock() - t0
        lat.append(took)
        by_kind[i % len(CALLS)].append(took)
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline and n < 2_000_000:
        for i in range(n, n + 100):
            engine.route(*_call(i), call_id=f"t{i}")
        n += 100
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lat.sort()
    status = engine.state_status()
    out.put(
        {
            "decisions": n,
            "per_second": n / wall,
            "cpu_us": cpu / n * 1e6,
            "p50_us": lat[len(lat) // 2] / 1000,
            "p99_us": lat[int(len(lat) * 0.99)] / 1000,
            **{f"p50_{KINDS[k]}_us": statistics.median(v) / 1000 for k, v in enumerate(by_kind)},
            "fallbacks": status["fallbacks"] if status else 0,
        }
    )


def run(config: str, url: str, seconds: float, latency_calls: int) -> dict[str, Any]:
    nodes, state = {"local, 1 node": (1, None), "redis, 1 node": (1, url), "redis, 2 nodes": (2, url)}[config]
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(nodes + 1)
    out = ctx.Queue()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    procs = [
        ctx.Process(target=node, args=(state, prefix, seconds, latency_calls, start, out))
        for _ in range(nodes)
    ]
    for p in procs:
        p.start()
    try:
        start.wait(120)
        results = [out.get(timeout=120 + seconds * 4) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    return {
        "per_second": sum(r["per_second"] for r in results),
        "p50_us": statistics.median(r["p50_us"] for r in results),
        "p99_us": statistics.median(r["p99_us"] for r in results),
        "cpu_us": statistics.median(r["cpu_us"] for r in results),
        "fallbacks": sum(r["fallbacks"] for r in results),
        **{f"p50_{k}_us": statistics.median(r[f"p50_{k}_us"] for r in results) for k in KINDS},
    }


def main() -> None:
    from services import RedisServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="throughput phase per node and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-calls", type=int, default=4000)
    ap.add_argument("--json", type=Path, help="also write the medians here")
    args = ap.parse_args()
    configs = ["local, 1 node", "redis, 1 node", "redis, 2 nodes"]
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="routecore-bench-redis-")))
    rows: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    try:
        for _ in range(args.rounds):
            for c in configs:
                rows[c].append(run(c, redis.url, args.seconds, args.latency_calls))
    finally:
        redis.stop()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f}; {args.rounds} rounds; medians\n")
    print(
        "| configuration | decisions/s (all nodes) | p50 all | p99 all | "
        + " | ".join(f"p50 {k}" for k in KINDS)
        + " | CPU per decision (node) |"
    )
    print("| --- " + "| ---: " * (len(KINDS) + 4) + "|")
    summary = {}
    for c in configs:
        med = {k: statistics.median(r[k] for r in rows[c]) for k in rows[c][0]}
        summary[c] = med
        print(
            f"| {c} | {med['per_second']:,.0f} | {med['p50_us']:.1f} µs | {med['p99_us']:.1f} µs | "
            + " | ".join(f"{med[f'p50_{k}_us']:.1f} µs" for k in KINDS)
            + f" | {med['cpu_us']:.1f} µs |"
        )
        if med["fallbacks"]:
            print(f"  ({c}: {med['fallbacks']} fallback steps: Redis did not answer every step)")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "rounds": rows, "medians": summary}, indent=2))


if __name__ == "__main__":
    main()
