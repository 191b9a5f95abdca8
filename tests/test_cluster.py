"""Several `routecore serve` nodes on one Redis (state, broadcasts) and one PostgreSQL (records):
caps and round robin hold across nodes, a Redis restart under load stops neither routing nor
the records, reloads and list updates reach every node; the acceptance vectors pass through two
nodes. Real processes and servers on loopback, each stopped by its PID; every load is bounded."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import routecore
from google.protobuf.json_format import MessageToDict
from reference.vectors import load_vectors, run_case
from routecore.server import build_server, mark_serving, shutdown
from routecore.v1 import routing_pb2 as pb
from routecore.v1 import routing_pb2_grpc as pb_grpc
from services import PostgresServer, RedisServer, free_port
from serving import Served, start

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
CASES = load_vectors(SPEC / "vectors.jsonl") if (SPEC / "vectors.jsonl").exists() else []

PLAN = """
version: 1
timezone: Asia/Shanghai
lists:
  fraud: {numbers: ["13000000000"], reason: fraud}
blocklists: [fraud]
tenants:
  shop:
    name: shop
    groups:
      capped:
        strategy: sequential
        targets:
          - {number: "13800000001", max_calls: 2}
          - {number: "13800000002", max_calls: 1}
          - {number: "13800000003", max_calls: 1}
        overflow: {reject: {code: 486, reason: busy}}
      rotation:
        strategy: round_robin
        targets:
          - {number: "13900000001"}
          - {number: "13900000002"}
          - {number: "13900000003"}
    numbers:
      "4001000001": {flow: [{id: capped, forward: capped}]}
      "4001000002": {flow: [{id: rotation, forward: rotation}]}
"""
CAPS = {"13800000001": 2, "13800000002": 1, "13800000003": 1}


class Node(Served):
    """A `routecore serve` node (started by tests/serving.py) and gRPC stubs on one channel."""

    def __init__(self, served: Served) -> None:
        super().__init__(served.proc, served.port, served.http_port, served.log)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.router = pb_grpc.RouterStub(self.channel)
        self.admin = pb_grpc.AdminStub(self.channel)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as r:
            return str(r.read().decode())

    def stop(self, timeout: float = 30.0) -> int:
        self.channel.close()
        return super().stop(timeout)


@dataclass
class Cluster:
    redis: RedisServer
    dsn: str
    plan: Path
    nodes: list[Node]


def start_node(tmp: Path, name: str, *args: str) -> Node:
    return Node(start(tmp / f"{name}.log", *args, http=True))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    plan = tmp / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    redis = RedisServer(tmp / "redis")
    pg: PostgresServer | None = None
    nodes: list[Node] = []
    try:
        pg = PostgresServer()
        dsn = pg.new_database()
        args = ("--plan", str(plan), "--state", redis.url, "--state-prefix", "rc-test", "--cdr", dsn)
        for i in range(3):
            nodes.append(start_node(tmp, f"node{i}", *args))
        yield Cluster(redis, dsn, plan, nodes)
    finally:
        for node in nodes:
            node.stop()
        if pg is not None:
            pg.stop()
        redis.stop()


def report(node: Node, call_id: str, kind: str, target: str, duration: int = 0) -> pb.CallEventAck:
    return node.router.ReportCall(
        pb.CallEvent(
            call_id=call_id,
            type=pb.CallEvent.Type.Value(kind),
            target=target,
            duration_seconds=duration,
        ),
        timeout=10,
    )


def run_threads(n: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a load thread did not finish"
    if errors:
        raise errors[0]


def test_concurrent_calls_over_nodes_never_get_a_full_target(cluster: Cluster) -> None:
    """8 switches' worth of calls over 3 nodes: route on one node, report ANSWERED and ENDED on
    others. A target full by acknowledged events (and not freed while the request was in flight)
    must never be offered, whichever node decides."""
    lock = threading.Lock()
    busy: Counter[str] = Counter()  # acknowledged ANSWERED minus ENDED about to be sent
    freed: Counter[str] = Counter()  # slots freed so far, per target
    violations: list[str] = []
    outcomes: Counter[str] = Counter()
    nodes = cluster.nodes

    def worker(w: int) -> None:
        rng = random.Random(w)
        for i in range(30):
            with lock:
                full = {t for t, cap in CAPS.items() if busy[t] >= cap}
                freed_before = dict(freed)
            d = rng.choice(nodes).router.RouteCall(
                pb.RouteRequest(called="4001000001", caller=f"1330000{w:02d}{i:02d}", call_id=f"cap-{w}-{i}"),
                timeout=10,
            )
            offered = [t.number for t in d.targets]
            with lock:
                for t in offered:
                    if t in full and freed[t] == freed_before.get(t, 0):
                        violations.append(
                            f"cap-{w}-{i} offered {t}, full on every node ({busy[t]}/{CAPS[t]})"
                        )
                outcomes["forward" if offered else d.reject.reason] += 1
            if not offered:
                continue
            target = offered[0]
            report(rng.choice(nodes), d.call_id, "ANSWERED", target)
            with lock:
                busy[target] += 1
            time.sleep(rng.uniform(0, 0.02))
            with lock:
                busy[target] -= 1
                freed[target] += 1
            report(rng.choice(nodes), d.call_id, "ENDED", target, 1)

    run_threads(8, worker)
    assert not violations, violations[:5]
    # The load did reach the caps: some calls found every target full.
    assert outcomes["forward"] > 50 and outcomes["busy"] > 0, outcomes


def test_round_robin_is_exactly_fair_across_nodes(cluster: Cluster) -> None:
    def first(node: Node, caller: str) -> str:
        d = node.router.RouteCall(pb.RouteRequest(called="4001000002", caller=caller), timeout=10)
        return str(d.targets[0].number)

    # One call after another, each on a node picked at random: the first target cycles exactly
    # as listed (one shared position), wherever the cycle stood when the test began.
    rng = random.Random(7)
    seq = [first(rng.choice(cluster.nodes), f"1340000{i:04d}") for i in range(12)]
    listed = ["13900000001", "13900000002", "13900000003"]
    start = listed.index(seq[0])
    assert seq == [listed[(start + i) % 3] for i in range(12)]
    # Concurrently: 6 threads × 10 calls over the nodes; each target first exactly 20 times.
    firsts: list[str] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        rng = random.Random(100 + w)
        for i in range(10):
            number = first(rng.choice(cluster.nodes), f"1341000{w:02d}{i:02d}")
            with lock:
                firsts.append(number)

    run_threads(6, worker)
    assert Counter(firsts) == {"13900000001": 20, "13900000002": 20, "13900000003": 20}


def test_redis_restart_under_load_stops_neither_routing_nor_records(cluster: Cluster) -> None:
    acked_ended: set[str] = set()
    failures: list[str] = []
    decisions = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + 4.0
    nodes = cluster.nodes

    def worker(w: int) -> None:
        nonlocal decisions
        rng = random.Random(200 + w)
        i = 0
        while time.monotonic() < stop_at and i < 400:
            i += 1
            call_id = f"rs-{w}-{i}"
            try:
                d = rng.choice(nodes).router.RouteCall(
                    pb.RouteRequest(called="4001000002", caller=f"1350000{w:02d}{i:02d}", call_id=call_id),
                    timeout=10,
                )
                assert d.action == pb.RouteDecision.FORWARD
                target = d.targets[0].number
                report(rng.choice(nodes), call_id, "ANSWERED", target)
                ack = report(rng.choice(nodes), call_id, "ENDED", target, 3)
            except grpc.RpcError as exc:
                with lock:
                    failures.append(f"{call_id}: {exc.code().name} {exc.details()}")
                continue
            with lock:
                decisions += 1
                if ack.call_id == call_id:
                    acked_ended.add(call_id)

    load = threading.Thread(target=run_threads, args=(4, worker))
    load.start()
    time.sleep(1.0)
    cluster.redis.restart(down_for=0.5)
    load.join(60)
    assert not failures, failures[:5]
    assert decisions > 40 and len(acked_ended) == decisions
    with psycopg.connect(cluster.dsn) as conn:
        stored = {row[0] for row in conn.execute("SELECT call_id FROM calls WHERE call_id LIKE 'rs-%'")}
    assert acked_ended <= stored, f"{len(acked_ended - stored)} acknowledged records lost"
    # The nodes noticed and said so: a metric and a log line.
    outages = [re.search(r"^routecore_state_outages_total (\S+)$", n.metrics(), re.M) for n in nodes]
    assert any(m is not None and float(m.group(1)) >= 1 for m in outages)
    logs = "".join(n.log.read_text(errors="replace") for n in nodes)
    assert "Redis unreachable" in logs and "Redis reachable again" in logs


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_reloads_and_list_updates_reach_every_node(cluster: Cluster) -> None:
    nodes = cluster.nodes
    request = pb.RouteRequest(called="4001000002", caller="13600000001")
    old = nodes[1].router.RouteCall(request, timeout=10).plan_version
    new_text = PLAN.replace('"13900000003"}', '"13900000003"}\n          - {number: "13900000004"}')
    reply = nodes[0].admin.ReloadPlan(pb.ReloadPlanRequest(text=new_text), timeout=30)
    assert reply.reloaded and reply.version != old
    for node in nodes[1:]:
        wait_until(
            lambda node=node: node.router.RouteCall(request, timeout=10).plan_version == reply.version,
            "the new plan on every node",
        )
        assert len(node.router.RouteCall(request, timeout=10).targets) == 4
    blocked = pb.RouteRequest(called="4001000002", caller="13700000077")
    assert nodes[2].router.RouteCall(blocked, timeout=10).action == pb.RouteDecision.FORWARD
    nodes[1].admin.UpdateList(pb.UpdateListRequest(name="fraud", add=["13700000077"]), timeout=10)
    for node in nodes:
        wait_until(
            lambda node=node: node.router.RouteCall(blocked, timeout=10).action == pb.RouteDecision.REJECT,
            "the list update on every node",
        )
    # Put the plan back for the other tests (the broadcast carries it to every node).
    nodes[2].admin.ReloadPlan(pb.ReloadPlanRequest(path=str(cluster.plan)), timeout=30)
    for node in nodes:
        wait_until(
            lambda node=node: len(node.router.RouteCall(request, timeout=10).targets) == 3, "the old plan"
        )


def test_stats_read_the_shared_records(cluster: Cluster) -> None:
    nodes = cluster.nodes
    d = nodes[0].router.RouteCall(
        pb.RouteRequest(called="4001000002", caller="13512345678", call_id="st-1"), timeout=10
    )
    report(nodes[1], "st-1", "ANSWERED", d.targets[0].number)
    report(nodes[2], "st-1", "ENDED", d.targets[0].number, 61)
    out = subprocess.run(
        [sys.executable, "-m", "routecore", "stats", "--cdr", cluster.dsn, "--plan", str(cluster.plan),
         "--tenant", "shop", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    import json

    rep = json.loads(out.stdout)
    with psycopg.connect(cluster.dsn) as conn:
        row = conn.execute("SELECT count(*) FROM calls WHERE tenant = 'shop'").fetchone()
    assert row is not None and rep["stats"]["calls"] == row[0] >= 1
    assert rep["stats"]["by_tenant"] == {"shop": row[0]}


# --- the acceptance vectors through two nodes ----------------------------------------------------


class InProcessNode:
    """A `build_server` server on 127.0.0.1:<free port>, its event loop in a thread of its own."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.health, self.port = self._run(self._start())
        self.service = self.server.routecore_service
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.router = pb_grpc.RouterStub(self.channel)

    async def _start(self) -> tuple[Any, Any, int]:
        server, checker = build_server(None)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await mark_serving(checker)
        return server, checker, port

    def _run(self, coro: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.channel.close()
        self._run(shutdown(self.server, self.health, 1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, list[InProcessNode]]]:
    redis = RedisServer(tmp_path_factory.mktemp("redis-vectors"))
    nodes: list[InProcessNode] = []
    try:
        nodes = [InProcessNode(), InProcessNode()]
        yield redis, nodes
    finally:
        for n in nodes:
            n.close()
        redis.stop()


@pytest.fixture(scope="module")
def plan_loaded() -> Any:
    from routecore.plan import load_plan

    return load_plan(SPEC / "plan.yaml")


def test_vectors_are_there() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_through_two_nodes(
    case: dict[str, Any], two_nodes: tuple[RedisServer, list[InProcessNode]], plan_loaded: Any
) -> None:
    """Each case on fresh shared state; its steps alternate between the two nodes."""
    redis, nodes = two_nodes
    prefix = f"v-{uuid.uuid4().hex[:10]}"
    for n in nodes:
        n.service.engine = routecore.Engine.from_loaded(plan_loaded, state=redis.url, state_prefix=prefix)
    step = 0

    def next_node() -> InProcessNode:
        nonlocal step
        step += 1
        return nodes[step % 2]

    def route(request: dict[str, Any]) -> dict[str, Any]:
        msg = next_node().router.RouteCall(pb.RouteRequest(**request), timeout=10)
        return MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)

    def report_event(event: dict[str, Any]) -> None:
        fields = {**event, "type": pb.CallEvent.Type.Value(event["type"])}
        ack = next_node().router.ReportCall(pb.CallEvent(**fields), timeout=10)
        assert ack.call_id == event["call_id"]

    def code_of(err: BaseException) -> str:
        return err.code().name if isinstance(err, grpc.RpcError) else type(err).__name__

    problems = run_case(case, route, report_event, error_code=code_of, errors=(grpc.RpcError,))
    assert not problems, "; ".join(problems)


def test_serve_refuses_to_start_without_its_state() -> None:
    """A node starts only with its shared state reachable (later outages are survived)."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    out = subprocess.run(
        [
            *(sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", "--http", "off"),
            *("--state", url),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"NotReadyError: --state: cannot reach Redis at {url}" in out.stderr  # the flag typed
