"""Soak and overload of a real `routecore serve`: memory, open files and latency over time.

Loopback only; every phase is bounded in time and the server is stopped by its PID. The phases:

1. peak: first a closed-loop estimate E (`--concurrency` calls always in flight, the median of
   one-second slices over `--peak-seconds`), then an open loop offering 1.5 E for as long: the
   peak P is what the server answers per second while offered more than it can take. That is
   the rate an open loop can be served at (this client's own work included, on the same cores),
   which a closed loop overstates by ~25% here; it is measurable because an overloaded server
   keeps answering at full rate (the excess is dropped by grpc's core).
2. soak: open loop at `--soak-share` (80%) of P for `--soak-seconds`, in `--windows` windows;
   after each window the server's RSS and open file descriptors are read from /proc. One call in
   `--report-every` is a `ReportCall` (a durable record: the SQLite store and its fsync in play).
3. overload: open loop at `--overload-share` (150%) of P for `--overload-seconds`: calls past the
   in-flight cap are refused at once: RESOURCE_EXHAUSTED from the server's cap, or CANCELLED
   from grpc's core once more than `--max-queued` calls wait for the server (see
   `server.build_server`), never another status; the server keeps answering at least half its
   peak meanwhile (a refusal that cost as much as an answer would starve the answers).
4. recovery: open loop at 50% of P for `--recovery-seconds`: no error, latency back.

    python bench/soak.py                                    # minutes; markdown on stdout
    python bench/soak.py --soak-seconds 20 --windows 4 --json out.json --check

`--check` exits 1 when a check fails (what tests/test_soak.py runs, short). The checks: during
the soak no status but the two refusals and at most `--max-soak-shed` (1%) of those, RSS
growth after the first window within `--rss-bound-mib`, open files within 8 of the first
window, the last window's p99 within 3x the first window's (or 50 ms); in overload every
failure a refusal, refusals' p99 under `--shed-p99-ms`, answers at >= 50% of peak; after it, a call answered
within 100 ms in under 10 s, then 50% of peak with at most 1% shed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
from pacing import add_overload_options, open_loop, pct, status_name

# The server process is the one the tests start (tests/serving.py): loopback, stopped by its PID.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from serving import Served, start

HOST = "127.0.0.1"
# How an overloaded server refuses a call: its in-flight cap, or grpc's core dropping calls past
# `--max-queued` waiting for the Python server (a bare CANCELLED, at no cost to the server).
REFUSED = {"RESOURCE_EXHAUSTED", "CANCELLED"}
AT = "2026-11-11T10:00:00+08:00"


# --- the client (one event loop for the whole run: grpc.aio wants one) -----------------------------


class Client:
    def __init__(self, channel: Any) -> None:
        from routecore.v1 import routing_pb2 as pb

        self.route = channel.unary_unary("/routecore.v1.Router/RouteCall")
        self.report = channel.unary_unary("/routecore.v1.Router/ReportCall")
        shapes = [
            ("4001234567", "13800138000", ""),
            ("4001234567", "13800138000", "1"),
            ("4006666666", "15907550000", ""),
            ("4008888888", "13912345678", ""),
        ]
        self.routes = [
            pb.RouteRequest(called=c, caller=f"{caller[:-4]}{i:04d}", digits=d, time=AT).SerializeToString()
            for i in range(400)
            for c, caller, d in [shapes[i % len(shapes)]]
        ]
        self.pb = pb
        self.sequence = 0

    def event(self) -> bytes:
        self.sequence += 1
        return self.pb.CallEvent(
            call_id=f"soak-{os.getpid()}-{self.sequence}",
            type=self.pb.CallEvent.ENDED,
            target="13800000010",
            time=AT,
            duration_seconds=60,
            disposition="answered",
        ).SerializeToString()

    async def closed_loop(self, seconds: float, concurrency: int) -> float:
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.perf_counter() < stop_at:
                try:
                    await self.route(self.routes[i % len(self.routes)], timeout=10)
                    done += 1
                except grpc.RpcError:
                    pass
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done / (time.perf_counter() - t0)

    async def recovered(self, limit: float) -> float:
        """Seconds after the overload stopped until a call is answered within 100 ms again."""
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            t0 = time.perf_counter()
            try:
                await self.route(self.routes[0], timeout=10)
                if time.perf_counter() - t0 < 0.1:
                    return t0 - start
            except grpc.RpcError:
                pass
            await asyncio.sleep(0.05)
        return float("inf")

    async def open_loop(self, rate: float, seconds: float, report_every: int = 0) -> dict[str, Any]:
        """Calls started at `rate`/s whatever the answers; each call's outcome and latency."""
        ok: list[float] = []
        shed: list[float] = []
        errors: Counter[str] = Counter()
        samples: dict[str, str] = {}

        async def one(i: int) -> None:
            report = report_every and i % report_every == 0
            t0 = time.perf_counter()
            try:
                if report:
                    await self.report(self.event(), timeout=10)
                else:
                    await self.route(self.routes[i % len(self.routes)], timeout=10)
            except grpc.RpcError as exc:
                code = status_name(exc)
                errors[code] += 1
                if code in REFUSED:
                    shed.append(time.perf_counter() - t0)
                else:
                    samples.setdefault(code, f"{exc.details()}")  # type: ignore[attr-defined]
                return
            ok.append(time.perf_counter() - t0)

        # How late this client's own event loop runs (a 10 ms heartbeat): a latency above it is
        # the server's, one near it may be this client's, which shares the machine's two cores.
        lags: list[float] = []

        async def heartbeat() -> None:
            while True:
                due = time.perf_counter() + 0.01
                await asyncio.sleep(0.01)
                lags.append(max(0.0, time.perf_counter() - due))

        beat = asyncio.ensure_future(heartbeat())
        started = time.perf_counter()
        try:
            n, offered_in = await open_loop(one, rate, seconds)
        finally:
            beat.cancel()
        return {
            "client_lag_p99_ms": pct(lags, 0.99) * 1e3,
            "seconds": time.perf_counter() - started,  # until the last answer, not the last call
            "rate": rate,
            "calls": n,
            "offered_per_s": n / offered_in if offered_in > 0 else float("nan"),
            "answered": len(ok),
            "errors": dict(errors),
            "error_samples": samples,
            "p50_ms": pct(ok, 0.5) * 1e3,
            "p99_ms": pct(ok, 0.99) * 1e3,
            "shed_p50_ms": pct(shed, 0.5) * 1e3,
            "shed_p99_ms": pct(shed, 0.99) * 1e3,
        }


async def _run(args: argparse.Namespace, server: Served) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(f"{HOST}:{server.port}") as channel:
        client = Client(channel)
        await client.closed_loop(1.0, 8)  # warm up
        # The median of one-second slices: a moment when the machine's other work paused must
        # not set the soak's rate (the machine is shared).
        seconds = max(1, int(args.peak_seconds))
        slices = [await client.closed_loop(1.0, args.concurrency) for _ in range(seconds)]
        offered = await client.open_loop(1.5 * statistics.median(slices), seconds)
        peak = offered["answered"] / offered["seconds"]
        windows = []
        per = args.soak_seconds / args.windows
        for _ in range(args.windows):
            w = await client.open_loop(args.soak_share * peak, per, args.report_every)
            w["rss_kib"], w["open_files"] = server.rss_kib(), server.open_files()
            windows.append(w)
        overload = await client.open_loop(args.overload_share * peak, args.overload_seconds)
        overload["rss_kib"] = server.rss_kib()
        recovered_after = await client.recovered(30.0)
        recovery = await client.open_loop(0.5 * peak, args.recovery_seconds)
        recovery["rss_kib"], recovery["open_files"] = server.rss_kib(), server.open_files()
    return {
        "peak_slices_per_s": slices,
        "peak_open_loop": offered,
        "peak_per_s": peak,
        "soak": windows,
        "overload": overload,
        "recovered_after_s": recovered_after,
        "recovery": recovery,
    }


def checks(r: dict[str, Any], args: argparse.Namespace) -> dict[str, bool]:
    soak, first, last = r["soak"], r["soak"][0], r["soak"][-1]
    soak_calls = sum(w["calls"] for w in soak)
    soak_errors: Counter[str] = Counter()
    for w in soak:
        soak_errors.update(w["errors"])
    shed = args.max_soak_shed
    over, rec = r["overload"], r["recovery"]
    rss_growth = max(w["rss_kib"] for w in soak) - first["rss_kib"]
    return {
        f"soak: no failure but refusals, at most {shed:.0%}": set(soak_errors) <= REFUSED
        and sum(soak_errors.values()) <= shed * soak_calls,
        f"soak: RSS growth after the first window <= {args.rss_bound_mib:g} MiB": rss_growth
        <= args.rss_bound_mib * 1024,
        "soak: open files within 8 of the first window": max(w["open_files"] for w in soak)
        <= first["open_files"] + 8,
        "soak: last window p99 within 3x the first's (or 50 ms)": last["p99_ms"]
        <= max(3 * first["p99_ms"], 50.0),
        "overload: every failure is a refusal": set(over["errors"]) <= REFUSED,
        f"overload: refusals p99 < {args.shed_p99_ms:g} ms": not over["errors"]
        or over["shed_p99_ms"] < args.shed_p99_ms,
        "overload: answers at >= 50% of peak meanwhile": over["answered"] / over["seconds"]
        >= 0.5 * r["peak_per_s"],
        "recovery: a call answered within 100 ms again less than 10 s after the overload": (
            r["recovered_after_s"] < 10
        ),
        "recovery (50% of peak): at most 1% refused, nothing else": set(rec["errors"]) <= REFUSED
        and sum(rec["errors"].values()) <= 0.01 * rec["calls"],
    }


def table(r: dict[str, Any], ok: dict[str, bool]) -> str:
    lines = [
        f"closed-loop estimate (median of 1 s slices "
        f"{', '.join(f'{x:,.0f}' for x in r['peak_slices_per_s'])}); "
        f"peak: {r['peak_per_s']:,.0f} calls/s answered while offered "
        f"{r['peak_open_loop']['offered_per_s']:,.0f}/s",
        "",
        "| phase | offered/s (target) | answered | failed by status | p50 / p99 ms | refused p99 ms "
        "| client lag p99 ms | RSS MiB | fds |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [(f"soak {i + 1}", w) for i, w in enumerate(r["soak"])]
    rows += [("overload", r["overload"]), ("recovery (50%)", r["recovery"])]
    for name, w in rows:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(w["errors"].items())) or "-"
        shed = f"{w['shed_p99_ms']:.1f}" if set(w["errors"]) & REFUSED else "-"
        lines.append(
            f"| {name} | {w['offered_per_s']:,.0f} ({w['rate']:,.0f}) | {w['answered']:,} | {errs} | "
            f"{w['p50_ms']:.2f} / {w['p99_ms']:.2f} | {shed} | {w['client_lag_p99_ms']:.0f} | "
            f"{w['rss_kib'] / 1024:.1f} | "
            f"{w.get('open_files', '')} |"
        )
    lines.append("")
    lines.append(f"answering within 100 ms again {r['recovered_after_s']:.2f} s after the overload")
    lines.append("")
    lines += [f"- {'✓' if passed else '✗'} {name}" for name, passed in ok.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak-seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop calls in flight (peak)")
    parser.add_argument("--soak-seconds", type=float, default=300.0)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--soak-share", type=float, default=0.8)
    parser.add_argument("--report-every", type=int, default=20, help="one ReportCall in N soak calls")
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--max-queued", type=int, default=512)
    parser.add_argument("--rss-bound-mib", type=float, default=32.0)
    parser.add_argument("--max-soak-shed", type=float, default=0.01, help="share of soak calls shed")
    parser.add_argument("--shed-p99-ms", type=float, default=250.0, help="bound on refusals' p99")
    parser.add_argument("--check", action="store_true", help="exit 1 if a check fails")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server on CPU 0, this client on CPU 1: the client stands in for a switch on its own machine",
    )
    add_overload_options(parser)
    args = parser.parse_args()
    pin = args.pin and len(os.sched_getaffinity(0)) >= 2
    with tempfile.TemporaryDirectory() as tmp:
        server = start(
            Path(tmp) / "serve.log",
            *("--cdr", str(Path(tmp) / "records.db"), "--max-in-flight", str(args.max_in_flight)),
            *("--max-queued", str(args.max_queued)),
            http=True,
            # Before exec, so every thread the server starts (grpc's included) inherits it.
            preexec=(lambda: os.sched_setaffinity(0, {0})) if pin else None,
        )
        if pin:
            os.sched_setaffinity(0, {1})
        try:
            result = asyncio.run(_run(args, server))
        finally:
            result_exit = server.stop()
        result["server_exit"] = result_exit
    ok = checks(result, args)
    ok["the server stopped cleanly (exit 0)"] = result_exit == 0
    result["checks"] = ok
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(table(result, ok))
    if args.check and not all(ok.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
