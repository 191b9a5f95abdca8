"""Bounded gRPC load generator: routecore's server against a no-op grpcio server of the same shapes.

Loopback only; every phase stops at a fixed count or a fixed time, whichever comes first. Each
server runs in a process of its own (one core each on a 2-core machine, the client on the other);
the same client drives both, so the ratio is what the server costs.

    python bench/load.py                    # the table (markdown) on stdout
    python bench/load.py --seconds 1 --count 2000 --json out.json

The no-op server is a plain generated `RouterServicer` (Python protobuf (de)serialisation) that
answers a fixed, realistic `RouteDecision` (a batch: one per request) and decides nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from pacing import open_loop, pct, status_name

HOST = "127.0.0.1"  # loopback only
AT = "2026-11-11T10:00:00+08:00"
PLAN = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance" / "plan.yaml"


def _requests(n: int) -> list[Any]:
    from routecore.v1 import routing_pb2 as pb

    # A realistic mix: IVR menu, forward to a group, a block-list reject, region routing.
    shapes = [
        ("4001234567", "13800138000", ""),
        ("4001234567", "13800138000", "1"),
        ("4001234567", "13912345678", ""),
        ("4006666666", "13923450000", ""),
    ]
    out = []
    for i in range(n):
        called, caller, digits = shapes[i % len(shapes)]
        out.append(pb.RouteRequest(call_id=f"c{i}", called=called, caller=caller, digits=digits, time=AT))
    return out


# --- servers (run in a child process) -------------------------------------------------------------


async def _serve_noop(port_file: str) -> None:
    from routecore.v1 import routing_pb2 as pb
    from routecore.v1 import routing_pb2_grpc as pb_grpc

    decision = pb.RouteDecision(
        call_id="c0",
        action=pb.RouteDecision.FORWARD,
        targets=[
            pb.Target(number="13800000010", ring_seconds=20, rate_per_minute=0.2),
            pb.Target(number="13800000011", ring_seconds=15, rate_per_minute=0.2),
            pb.Target(number="075586000010", ring_seconds=25, rate_per_minute=0.15),
        ],
        display=pb.Display(name="康宁诊所", tag="预约挂号", certified=True),
        caller=pb.Caller(
            normalized="13800138000",
            kind="mobile",
            province="北京",
            city="北京",
            carrier="移动",
            country="CN",
        ),
        called_class=pb.CalledClass(**{"class": "special", "tags": ["ascending-7"]}),
        tenant="clinic",
        rule="open",
        plan_version="0123456789abcdef",
        uri="sip:13800000010@127.0.0.1:5070",
    )

    class Noop(pb_grpc.RouterServicer):
        async def RouteCall(self, request: Any, context: Any) -> Any:
            return decision

        async def RouteStream(self, requests: Any, context: Any) -> AsyncIterator[Any]:
            async for _ in requests:
                yield decision

        async def RouteBatch(self, request: Any, context: Any) -> Any:
            return pb.RouteBatchResponse(decisions=[decision] * len(request.requests))

    server = grpc.aio.server()
    pb_grpc.add_RouterServicer_to_server(Noop(), server)
    await _run(server, port_file)


async def _serve_routecore(port_file: str, cap: bool = True) -> None:
    import routecore
    from routecore.server import ServerOptions, build_server, mark_serving

    engine = routecore.Engine.from_file(PLAN)
    server, checker = build_server(engine, options=ServerOptions() if cap else ServerOptions(max_in_flight=0))
    await mark_serving(checker)
    await _run(server, port_file)


async def _run(server: Any, port_file: str) -> None:
    port = server.add_insecure_port(f"{HOST}:0")
    await server.start()
    Path(port_file).write_text(str(port))
    # Bounded: the parent stops us; if it dies, we stop by ourselves after 10 minutes.
    await asyncio.wait_for(server.wait_for_termination(), timeout=600)


# --- client ---------------------------------------------------------------------------------------


async def _unary(
    channel: Any, payloads: list[bytes], count: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    call = channel.unary_unary("/routecore.v1.Router/RouteCall")
    done = 0
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    stop_at = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        i = k
        while done < count and time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                await call(payloads[i % len(payloads)], timeout=10)
            except grpc.RpcError as exc:
                errors[status_name(exc)] += 1
            else:
                latencies.append(time.perf_counter() - t0)
            done += 1
            i += concurrency

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {
        "calls": done,
        "decisions_per_s": len(latencies) / elapsed,
        "p50_us": pct(latencies, 0.5) * 1e6,
        "p99_us": pct(latencies, 0.99) * 1e6,
        "errors": dict(errors),
    }


async def _paced(channel: Any, payloads: list[bytes], rate: float, seconds: float) -> dict[str, Any]:
    """Open loop: calls started at a fixed rate (not waiting for answers), latency of each
    answered call; failed calls are counted by status."""
    call = channel.unary_unary("/routecore.v1.Router/RouteCall")
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            await call(payloads[i % len(payloads)], timeout=10)
        except grpc.RpcError as exc:
            errors[status_name(exc)] += 1
            return
        latencies.append(time.perf_counter() - t0)

    n, _ = await open_loop(one, rate, seconds)
    return {
        "rate": rate,
        "calls": n,
        "p50_us": pct(latencies, 0.5) * 1e6,
        "p99_us": pct(latencies, 0.99) * 1e6,
        "errors": dict(errors),
    }


async def _stream(
    channel: Any, payloads: list[bytes], count: int, seconds: float, streams: int
) -> dict[str, Any]:
    method = channel.stream_stream("/routecore.v1.Router/RouteStream")
    done = 0
    stop_at = time.perf_counter() + seconds
    window = 32  # requests in flight on one stream (a switch pipelines its calls)

    errors: Counter[str] = Counter()

    async def one(k: int) -> None:
        nonlocal done
        call = method()
        sent = 0
        received = 0
        try:
            while done < count and time.perf_counter() < stop_at:
                while sent - received < window:
                    await call.write(payloads[(k + sent) % len(payloads)])
                    sent += 1
                await call.read()
                received += 1
                done += 1
            await call.done_writing()
            while received < sent:
                await call.read()
                received += 1
                done += 1
        except grpc.RpcError as exc:  # the stream is over: counted, this worker stops
            errors[status_name(exc)] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(streams)))
    elapsed = time.perf_counter() - t0
    return {"decisions": done, "decisions_per_s": done / elapsed, "errors": dict(errors)}


async def _batch(
    channel: Any, payload: bytes, size: int, count: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    call = channel.unary_unary("/routecore.v1.Router/RouteBatch")
    done = 0
    stop_at = time.perf_counter() + seconds

    errors: Counter[str] = Counter()

    async def worker() -> None:
        nonlocal done
        while done < count and time.perf_counter() < stop_at:
            try:
                await call(payload, timeout=30)
            except grpc.RpcError as exc:
                errors[status_name(exc)] += 1
                continue
            done += size

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"decisions": done, "decisions_per_s": done / elapsed, "errors": dict(errors)}


async def _measure(port: int, args: argparse.Namespace) -> dict[str, Any]:
    from routecore.v1 import routing_pb2 as pb

    reqs = _requests(400)
    payloads = [r.SerializeToString() for r in reqs]
    batch = pb.RouteBatchRequest(requests=reqs[: args.batch]).SerializeToString()
    async with grpc.aio.insecure_channel(f"{HOST}:{port}") as channel:
        await _unary(channel, payloads, 200, 2, 4)  # warm up
        out: dict[str, Any] = {}
        out["RouteCall"] = await _unary(channel, payloads, args.count, args.seconds, args.concurrency)
        out["RouteCall_1client"] = await _unary(channel, payloads, args.count // 4, args.seconds / 2, 1)
        out["RouteStream"] = await _stream(channel, payloads, args.count * 2, args.seconds, 4)
        out["RouteBatch"] = await _batch(channel, batch, args.batch, args.count * 20, args.seconds, 4)
        return out


async def _latency(port: int, peak: float, args: argparse.Namespace) -> dict[str, Any]:
    reqs = _requests(400)
    payloads = [r.SerializeToString() for r in reqs]
    async with grpc.aio.insecure_channel(f"{HOST}:{port}") as channel:
        return {
            "50%": await _paced(channel, payloads, 0.5 * peak, args.seconds / 2),
            "90%": await _paced(channel, payloads, 0.9 * peak, args.seconds / 2),
        }


def _start(kind: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / f"{kind}.port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port-file", str(port_file)])
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"{kind} server did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric, the median over the rounds (rounds alternate the servers, so a noisy
    neighbour on the machine hits both alike)."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if key == "errors":  # failed calls by status, summed over the rounds
            total: Counter[str] = Counter()
            for r in runs:
                total.update(r[key])
            out[key] = dict(total)
        elif isinstance(value, dict):
            out[key] = _median([r[key] for r in runs])
        else:
            out[key] = statistics.median(r[key] for r in runs)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    # One event loop for the whole client: grpc.aio binds its completion-queue poller to the
    # first loop of the process (grpc/grpc#22234: "a single event loop"). This used to start a
    # loop per phase (`asyncio.run` each time), and two of three full runs saw one call of the
    # paced 90% phase, the last of a round, come back CANCELLED with nothing in the server log.
    return asyncio.run(_rounds(args))


async def _rounds(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    kinds = args.servers.split(",")
    rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for kind in kinds:
                proc, port = _start(kind, Path(tmp))
                try:
                    result = await _measure(port, args)
                    if kind.startswith("routecore") and not args.no_latency:
                        peak = result["RouteCall"]["decisions_per_s"]
                        result["latency"] = await _latency(port, peak, args)
                    rounds[kind].append(result)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    return {kind: _median(runs) for kind, runs in rounds.items()}


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    noop, rc = results["noop"], results["routecore"]
    lines = [
        "| RPC | no-op grpcio server | routecore | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in [
        ("RouteCall", f"RouteCall ({args.concurrency} concurrent), decisions/s"),
        ("RouteCall_1client", "RouteCall (1 client), decisions/s"),
        ("RouteStream", "RouteStream (4 streams, 32 in flight each), decisions/s"),
        ("RouteBatch", f"RouteBatch ({args.batch} per message, 4 concurrent), decisions/s"),
    ]:
        a, b = noop[key]["decisions_per_s"], rc[key]["decisions_per_s"]
        lines.append(f"| {label} | {a:,.0f} | {b:,.0f} | {b / a:.2f} |")
    a, b = noop["RouteCall_1client"], rc["RouteCall_1client"]
    lines.append(
        f"| RouteCall (1 client) p50 / p99 µs | {a['p50_us']:.0f} / {a['p99_us']:.0f} | "
        f"{b['p50_us']:.0f} / {b['p99_us']:.0f} | |"
    )
    if "latency" in rc:
        for load, r in rc["latency"].items():
            lines.append(
                f"| routecore RouteCall at {load} of peak ({r['rate']:,.0f}/s) p50 / p99 µs | | "
                f"{r['p50_us']:.0f} / {r['p99_us']:.0f} | |"
            )
    failed = {
        f"{kind} {phase}": r["errors"]
        for kind, result in results.items()
        for phase, r in [*result.items(), *result.get("latency", {}).items()]
        if isinstance(r, dict) and r.get("errors")
    }
    lines.append("")
    lines.append(
        "failed calls by status: "
        + (", ".join(f"{where}: {errs}" for where, errs in failed.items()) if failed else "none")
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="time limit of each phase")
    parser.add_argument("--count", type=int, default=40_000, help="call limit of each phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-latency", action="store_true", help="skip the paced latency runs")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are shown")
    parser.add_argument("--servers", default="noop,routecore", help="which servers, in order")
    parser.add_argument("--serve", choices=["noop", "routecore", "routecore-nocap"], help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.serve == "noop":
            asyncio.run(_serve_noop(args.port_file))
        else:
            asyncio.run(_serve_routecore(args.port_file, cap=args.serve == "routecore"))
        return
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(table(results, args))


if __name__ == "__main__":
    main()
