"""The gRPC server over real loopback: acceptance vectors, streams, batches, status codes, admin,
health, reflection, and a `routecore serve` process stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
import routecore
from google.protobuf.json_format import MessageToDict
from grpc_health.v1 import health_pb2, health_pb2_grpc
from reference.vectors import check_expect, load_vectors, run_case
from routecore.cli import DEFAULT_HTTP
from routecore.records import SqliteRecordStore
from routecore.server import (
    ADMIN,
    ROUTER,
    ServerOptions,
    Service,
    build_server,
    mark_serving,
    shutdown,
)
from routecore.v1 import routing_pb2 as pb
from routecore.v1 import routing_pb2_grpc as pb_grpc
from serving import log_events, serving, start, until

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
CASES = load_vectors(SPEC / "vectors.jsonl") if (SPEC / "vectors.jsonl").exists() else []
AT = "2026-11-11T10:00:00+08:00"
T = TypeVar("T")


class Running:
    """A `build_server` server on 127.0.0.1:<free port>, its event loop in a thread of its own."""

    def __init__(self, target: Any, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.health, self.port = self.run(self._start(target, kwargs))
        self.service: Service = self.server.routecore_service
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.router = pb_grpc.RouterStub(self.channel)
        self.admin = pb_grpc.AdminStub(self.channel)

    async def _start(self, target: Any, kwargs: dict[str, Any]) -> tuple[Any, Any, int]:
        server, checker = build_server(target, **kwargs)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await mark_serving(checker)
        return server, checker, port

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def raw(self, method: str) -> Any:
        """A unary-unary callable on `method` that sends and receives raw bytes."""
        return self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    def close(self) -> None:
        self.channel.close()
        self.run(shutdown(self.server, self.health, 1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def plan_loaded() -> Any:
    from routecore.plan import load_plan

    return load_plan(SPEC / "plan.yaml")


@pytest.fixture(scope="module")
def running(plan_loaded: Any) -> Iterator[Running]:
    r = Running(routecore.Engine.from_loaded(plan_loaded))
    yield r
    r.close()


@pytest.fixture()
def fresh(running: Running, plan_loaded: Any) -> Running:
    """The module's server with a freshly loaded engine (no state from earlier tests)."""
    running.service.engine = routecore.Engine.from_loaded(plan_loaded)
    return running


def as_dict(msg: Any) -> dict[str, Any]:
    return MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def code_of(err: BaseException) -> str:
    return err.code().name if isinstance(err, grpc.RpcError) else type(err).__name__


# --- the acceptance vectors, unchanged, over gRPC ------------------------------------------------


def test_vectors_are_there() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_over_grpc(case: dict[str, Any], fresh: Running) -> None:
    def route(request: dict[str, Any]) -> dict[str, Any]:
        return as_dict(fresh.router.RouteCall(pb.RouteRequest(**request), timeout=10))

    def report(event: dict[str, Any]) -> None:
        fields = {**event, "type": pb.CallEvent.Type.Value(event["type"])}
        ack = fresh.router.ReportCall(pb.CallEvent(**fields), timeout=10)
        assert ack.call_id == event["call_id"]

    problems = run_case(case, route, report, error_code=code_of, errors=(grpc.RpcError,))
    assert not problems, "; ".join(problems)


# --- streams and batches -------------------------------------------------------------------------

MIXED = [
    pb.RouteRequest(call_id="s-0", called="4001234567", caller="13800138000", time=AT),
    pb.RouteRequest(call_id="s-1", called="4001234567", caller="13800138000", digits="1", time=AT),
    pb.RouteRequest(call_id="s-2", called="4009999999", caller="13800138000", time=AT),
    pb.RouteRequest(call_id="s-3", called="4001234567", caller="not a number", time=AT),
    pb.RouteRequest(call_id="s-4", called="4006666666", caller="13923450000", time=AT),
    pb.RouteRequest(call_id="s-5", called="4001234567", caller="13800138000", digits="2", time="later"),
    pb.RouteRequest(call_id="s-6", called="4001234567", caller="13800138000", digits="2", time=AT),
]
MIXED_ERRORS = {"s-2": "NOT_FOUND", "s-3": "INVALID_ARGUMENT", "s-5": "INVALID_ARGUMENT"}


def check_mixed(decisions: list[Any], plan_loaded: Any) -> None:
    assert [d.call_id for d in decisions] == [r.call_id for r in MIXED]
    ref = routecore.Engine.from_loaded(plan_loaded)
    for req, got in zip(MIXED, decisions, strict=True):
        if req.call_id in MIXED_ERRORS:
            assert got.error.code == MIXED_ERRORS[req.call_id]
            assert got.action == pb.RouteDecision.ACTION_UNSPECIFIED
            continue
        assert not got.HasField("error")
        want = ref.route(
            called=req.called, caller=req.caller, digits=req.digits, at=req.time, call_id=req.call_id
        )
        assert pb.RouteDecision.Action.Name(got.action) == want.action
        assert [t.number or t.uri for t in got.targets] == [t.number or t.uri for t in want.targets]
        assert (got.tenant, got.rule) == (want.tenant, want.rule)


def test_route_stream_in_order_with_per_item_errors(fresh: Running, plan_loaded: Any) -> None:
    decisions = list(fresh.router.RouteStream(iter(MIXED), timeout=10))
    check_mixed(decisions, plan_loaded)


def test_route_stream_answers_each_request_before_the_next(fresh: Running) -> None:
    """A switch's pipe: the answer to one request comes without waiting for the stream to end."""
    gate = threading.Event()
    answered: list[str] = []

    def requests() -> Iterator[pb.RouteRequest]:
        yield MIXED[0]
        assert gate.wait(timeout=10), "first answer never came"
        yield MIXED[1]

    for d in fresh.router.RouteStream(requests(), timeout=10):
        answered.append(d.call_id)
        gate.set()
    assert answered == ["s-0", "s-1"]


def test_route_batch_per_item_errors(fresh: Running, plan_loaded: Any) -> None:
    resp = fresh.router.RouteBatch(pb.RouteBatchRequest(requests=MIXED), timeout=10)
    check_mixed(list(resp.decisions), plan_loaded)


def test_large_batch_is_decided_in_a_thread_and_complete(fresh: Running) -> None:
    n = 5000
    reqs = [
        pb.RouteRequest(call_id=str(i), called="4001234567", caller=f"1380013{i % 10000:04d}", time=AT)
        for i in range(n)
    ]
    data = pb.RouteBatchRequest(requests=reqs).SerializeToString()
    assert len(data) > fresh.service.options.batch_in_thread_bytes
    resp = fresh.router.RouteBatch(pb.RouteBatchRequest(requests=reqs), timeout=30)
    assert [d.call_id for d in resp.decisions] == [str(i) for i in range(n)]
    assert {pb.RouteDecision.Action.Name(d.action) for d in resp.decisions} <= {"MENU", "REJECT"}


# --- status codes --------------------------------------------------------------------------------

LONG_ID = "x" * 257
LONG_ID_MESSAGE = "call_id: longer than 256 characters"


@pytest.mark.parametrize(
    "call_id", ["x" * 256, "四" * 256, "c" * 100], ids=["256-ascii", "256-chinese", "100"]
)
def test_a_call_id_of_up_to_256_characters_is_routed(fresh: Running, call_id: str) -> None:
    d = fresh.router.RouteCall(pb.RouteRequest(call_id=call_id, called="4001234567", caller="13800138000"))
    assert d.call_id == call_id and not d.HasField("error")


UNPRINTABLE = "is a control or invisible character; a call id is printable text"


@pytest.mark.parametrize(
    ("call_id", "message"),
    [
        (LONG_ID, LONG_ID_MESSAGE),
        ("四" * 257, LONG_ID_MESSAGE),
        ("y" * 1_000_000, LONG_ID_MESSAGE),
        ("call\u202e1", f"call_id: U+202E at position 4 {UNPRINTABLE}"),
        ("c1\n", f"call_id: U+000A at position 2 {UNPRINTABLE}"),
        ("\x1b[2J", f"call_id: U+001B at position 0 {UNPRINTABLE}"),
    ],
    ids=["257", "257-chinese", "1MB", "bidi-override", "newline", "escape"],
)
def test_a_call_id_reportcall_refuses_is_refused_by_the_route_rpcs(
    fresh: Running, call_id: str, message: str, tmp_path: Path
) -> None:
    """A switch must not be able to route a call it can never report: the route RPCs refuse the
    call_id ReportCall refuses (too long, or not printable), with its message; in a stream or a
    batch it is that item's error (the call_id is not echoed back), and the other items are
    decided."""
    request = pb.RouteRequest(call_id=call_id, called="4001234567", caller="13800138000", time=AT)
    with pytest.raises(grpc.RpcError) as info:
        fresh.router.RouteCall(request, timeout=10)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    items = [MIXED[0], request, MIXED[1]]
    streamed = list(fresh.router.RouteStream(iter(items), timeout=10))
    batched = list(fresh.router.RouteBatch(pb.RouteBatchRequest(requests=items), timeout=10).decisions)
    for decisions in (streamed, batched):
        assert [d.call_id for d in decisions] == ["s-0", "", "s-1"]
        assert (decisions[1].error.code, decisions[1].error.message) == ("INVALID_ARGUMENT", message)
        assert decisions[1].action == pb.RouteDecision.ACTION_UNSPECIFIED
        assert not decisions[0].HasField("error") and not decisions[2].HasField("error")
    # The same id refused by ReportCall, with a record store and without one.
    event = pb.CallEvent(call_id=call_id, type=pb.CallEvent.ENDED)
    with pytest.raises(grpc.RpcError) as info:
        fresh.router.ReportCall(event, timeout=10)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    store = SqliteRecordStore(tmp_path / "records.db")
    stored = Running(fresh.service.engine, records=store)
    try:
        with pytest.raises(grpc.RpcError) as info:
            stored.router.ReportCall(event, timeout=10)
        assert info.value.details() == message
    finally:
        stored.close()


def test_a_long_call_id_in_a_large_batch(fresh: Running) -> None:
    """A batch decided in a worker thread: the refused items keep their places too."""
    reqs = [
        pb.RouteRequest(call_id=str(i) if i % 1000 else LONG_ID, called="4001234567", caller="13800138000")
        for i in range(5000)
    ]
    assert pb.RouteBatchRequest(requests=reqs).ByteSize() > fresh.service.options.batch_in_thread_bytes
    resp = fresh.router.RouteBatch(pb.RouteBatchRequest(requests=reqs), timeout=30)
    assert [d.call_id for d in resp.decisions] == [str(i) if i % 1000 else "" for i in range(5000)]
    assert [i for i, d in enumerate(resp.decisions) if d.HasField("error")] == list(range(0, 5000, 1000))


def test_long_call_ids_count_as_refusals(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded))
    try:
        long = pb.RouteRequest(call_id=LONG_ID, called="4001234567", caller="13800138000")
        with pytest.raises(grpc.RpcError):
            r.router.RouteCall(long, timeout=10)
        list(r.router.RouteStream(iter([long, MIXED[0]]), timeout=10))
        r.router.RouteBatch(pb.RouteBatchRequest(requests=[long, MIXED[0]]), timeout=10)
        s = r.admin.GetStats(pb.GetStatsRequest(), timeout=10)
        assert (s.decisions, s.errors, dict(s.by_error)) == (2, 3, {"INVALID_ARGUMENT": 3})
    finally:
        r.close()


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        ({"called": "4001234567", "caller": "1380013800a"}, "INVALID_ARGUMENT", "caller"),
        ({"called": "40012345678901234567890123", "caller": "13800138000"}, "INVALID_ARGUMENT", "called"),
        ({"called": "", "caller": "13800138000"}, "INVALID_ARGUMENT", "called"),
        ({"called": "4001234567", "caller": "13800138000", "digits": "1a"}, "INVALID_ARGUMENT", "digits"),
        ({"called": "4001234567", "caller": "13800138000", "time": "yesterday"}, "INVALID_ARGUMENT", "time"),
        # A string: ISO 8601 only, as every `time` written as text (docs/errors.md).
        ({"called": "4001234567", "caller": "13800138000", "time": "1794362400"}, "INVALID_ARGUMENT", "time"),
        ({"called": "4009999999", "caller": "13800138000"}, "NOT_FOUND", "called"),
    ],
)
def test_route_call_status(fresh: Running, request_fields: dict[str, str], code: str, field: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        fresh.router.RouteCall(pb.RouteRequest(**request_fields), timeout=10)
    assert info.value.code().name == code
    assert info.value.details().startswith(f"{field}:"), info.value.details()


def test_bytes_that_are_no_request_are_invalid_argument(fresh: Running) -> None:
    with pytest.raises(grpc.RpcError) as info:
        fresh.raw(f"/{ROUTER}/RouteCall")(b"\x0a\x09short", timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        fresh.raw(f"/{ROUTER}/RouteBatch")(b"\xff\xff\xff", timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_never_unknown_on_garbage(fresh: Running) -> None:
    import random

    rng = random.Random(4)
    seen = set()
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for method in ("RouteCall", "RouteBatch", "ReportCall"):
            try:
                fresh.raw(f"/{ROUTER}/{method}")(data, timeout=10)
            except grpc.RpcError as e:
                seen.add(e.code())
    assert grpc.StatusCode.UNKNOWN not in seen
    assert seen <= {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INTERNAL}
    assert grpc.StatusCode.INTERNAL not in seen


def test_no_plan_is_unavailable() -> None:
    r = Running(None)
    try:
        with pytest.raises(grpc.RpcError) as info:
            r.router.RouteCall(pb.RouteRequest(called="4001234567", caller="13800138000"), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        refused_id = pb.RouteRequest(call_id="c1\n", called="4001234567", caller="13800138000")
        streamed = list(r.router.RouteStream(iter([MIXED[0], refused_id]), timeout=10))
        # The call id is echoed, unless it is one the engine refuses (not echoed back by it either).
        assert [(d.call_id, d.error.code) for d in streamed] == [("s-0", "UNAVAILABLE"), ("", "UNAVAILABLE")]
        # A plan loaded over Admin makes it serve.
        resp = r.admin.ReloadPlan(pb.ReloadPlanRequest(path=str(SPEC / "plan.yaml")), timeout=30)
        assert resp.reloaded
        d = r.router.RouteCall(MIXED[0], timeout=10)
        assert d.plan_version == resp.version
    finally:
        r.close()


def test_overload_sheds_with_resource_exhausted(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded), options=ServerOptions(max_in_flight=2))
    try:
        gates = [threading.Event(), threading.Event()]
        results: list[list[Any]] = [[], []]

        def held(i: int) -> None:
            def requests() -> Iterator[pb.RouteRequest]:
                yield MIXED[0]
                gates[i].wait(timeout=10)

            results[i] = list(r.router.RouteStream(requests(), timeout=20))

        threads = [threading.Thread(target=held, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        # Both streams admitted before the calls that must be shed (a call in flight while a
        # stream arrives would count against the cap too).
        deadline = time.monotonic() + 10
        while _in_flight(r) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        code = None
        while time.monotonic() < deadline:
            try:
                r.router.RouteCall(MIXED[0], timeout=10)
            except grpc.RpcError as e:
                code = e.code()
                break
            time.sleep(0.01)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        for g in gates:
            g.set()
        for t in threads:
            t.join(timeout=10)
        assert [len(x) for x in results] == [1, 1]
        # Once the streams are done, calls are served again, and no slot leaked.
        assert r.router.RouteCall(MIXED[0], timeout=10).call_id == "s-0"
        assert r.router.RouteBatch(pb.RouteBatchRequest(requests=MIXED), timeout=10).decisions
        # A slot is released when its handler ends, as the answer goes out.
        deadline = time.monotonic() + 10
        while _in_flight(r) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _in_flight(r) == 0
    finally:
        r.close()


def test_in_flight_is_exact_once_calls_are_answered(fresh: Running) -> None:
    """Nothing in flight reads 0 at once, not once the garbage collector ran: the gauge
    `routecore_grpc_in_flight` reads the same count."""
    from routecore.metrics import Metrics

    metrics = Metrics()
    metrics.track_in_flight(lambda: fresh.service.in_flight)
    for _ in range(30):
        with contextlib.suppress(grpc.RpcError):
            fresh.router.RouteCall(MIXED[2], timeout=10)  # refused: the slot is freed all the same
        fresh.router.RouteCall(MIXED[0], timeout=10)
        fresh.router.RouteBatch(pb.RouteBatchRequest(requests=MIXED), timeout=10)
        list(fresh.router.RouteStream(iter(MIXED), timeout=10))

    async def now() -> int:  # read on the server's loop, no sleep: nothing may be pending
        return fresh.service.in_flight

    assert fresh.run(now()) == 0
    assert b"\nroutecore_grpc_in_flight 0.0\n" in metrics.render()


class _HungStore:
    """A record sink whose disk never answers (until released)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.waiting = 0  # appends waiting for the disk

    def remember_decision(self, decision: Any, called: str = "", *, call_id: str | None = None) -> None:
        pass

    async def append_async(self, event: Any) -> Any:
        from routecore.records import Ack

        self.waiting += 1
        await self.release.wait()
        return Ack(event.call_id, event.type, False, 1)

    def close(self) -> None:
        pass


def test_reports_waiting_on_a_slow_disk_do_not_make_routing_shed(plan_loaded: Any) -> None:
    store = _HungStore()
    r = Running(
        routecore.Engine.from_loaded(plan_loaded), records=store, options=ServerOptions(max_in_flight=8)
    )
    try:
        report = r.router.ReportCall.future
        waiting = [report(_ended(i), timeout=30) for i in range(40)]  # 5x the cap, all stuck
        deadline = time.monotonic() + 10
        while r.run(_waiting(store)) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert r.run(_waiting(store)) == 40
        for _ in range(20):
            assert r.router.RouteCall(MIXED[0], timeout=10).call_id == "s-0"
        r.loop.call_soon_threadsafe(store.release.set)
        assert all(f.result(timeout=30).recorded for f in waiting)
    finally:
        r.close()


async def _waiting(store: _HungStore) -> int:
    await asyncio.sleep(0.02)
    return store.waiting


def _in_flight(r: Running) -> int:
    async def read() -> int:
        await asyncio.sleep(0.05)  # let the loop finish the calls it is answering
        return r.service.in_flight

    return r.run(read())


def test_message_size_limit(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded), options=ServerOptions(max_message_bytes=4096))
    try:
        reqs = [
            pb.RouteRequest(call_id=str(i), called="4001234567", caller="13800138000") for i in range(200)
        ]
        with pytest.raises(grpc.RpcError) as info:
            r.router.RouteBatch(pb.RouteBatchRequest(requests=reqs), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        r.close()


@pytest.mark.parametrize("given", ["", " "])
def test_an_empty_time_is_refused_alike_with_a_record_store_or_without(
    fresh: Running, tmp_path: Path, given: str
) -> None:
    message = "time: empty; leave it out for the current time"
    with pytest.raises(grpc.RpcError) as info:
        fresh.router.RouteCall(pb.RouteRequest(called="4001234567", caller="13800138000", time=given))
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    event = pb.CallEvent(call_id="c1", type=pb.CallEvent.ENDED, time=given)
    store = SqliteRecordStore(tmp_path / "records.db")
    stored = Running(fresh.service.engine, records=store)
    try:
        for running in (fresh, stored):
            with pytest.raises(grpc.RpcError) as info:
                running.router.ReportCall(event, timeout=10)
            assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    finally:
        stored.close()
    assert store.record("c1") is None


def test_an_event_time_is_stored_as_the_engine_reads_it(fresh: Running, tmp_path: Path) -> None:
    """As over HTTP: the store's time comes from the engine's parser, a time without offset in
    the plan's zone; a form the engine refuses is refused, with nothing stored."""
    store = SqliteRecordStore(tmp_path / "records.db")
    stored = Running(fresh.service.engine, records=store)
    try:
        for call_id, given in [
            ("local", "2026-11-11T10:00:00"),
            ("spaced", "2026-11-11 10:00"),
            ("z", "2026-11-11T02:00:00z"),
        ]:
            stored.router.ReportCall(
                pb.CallEvent(call_id=call_id, type=pb.CallEvent.ENDED, time=given), timeout=10
            )
            assert store.record(call_id).ended_at == dt.datetime.fromisoformat("2026-11-11T10:00:00+08:00")
        for given in ["20261111T100000", "2026-W46-3T10:00", "2026-11-11T10:00:00+08"]:
            with pytest.raises(grpc.RpcError) as info:
                stored.router.ReportCall(
                    pb.CallEvent(call_id="odd", type=pb.CallEvent.ENDED, time=given), timeout=10
                )
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details().startswith(f"time: {given!r}".replace("'", '"')), info.value.details()
    finally:
        stored.close()
    assert store.record("odd") is None


def test_a_batch_of_too_many_requests_is_refused_before_any_is_decided(plan_loaded: Any) -> None:
    """Past `max_batch_requests` nothing is decided (no state moves, no decision counted), and
    the message says what to do."""
    r = Running(routecore.Engine.from_loaded(plan_loaded), options=ServerOptions(max_batch_requests=16))
    try:
        reqs = [pb.RouteRequest(call_id=str(i), called="4001234567", caller="13800138000") for i in range(17)]
        with pytest.raises(grpc.RpcError) as info:
            r.router.RouteBatch(pb.RouteBatchRequest(requests=reqs), timeout=10)
        assert (info.value.code(), info.value.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "requests: 17 in one batch, at most 16 (nothing was decided): send them in smaller batches, "
            "or over RouteStream",
        )
        assert r.service.stats.snapshot()["decisions"] == 0
        assert len(r.router.RouteBatch(pb.RouteBatchRequest(requests=reqs[:16]), timeout=10).decisions) == 16
    finally:
        r.close()


def test_an_answer_larger_than_the_request_limit_is_sent(plan_loaded: Any) -> None:
    """A batch decided is a batch answered: its answer (here ~100 KB of 768-byte call ids and
    traces) may be far larger than what the server receives (32 KiB here)."""
    r = Running(routecore.Engine.from_loaded(plan_loaded), options=ServerOptions(max_message_bytes=32 * 1024))
    try:
        batch = pb.RouteBatchRequest(
            requests=[
                pb.RouteRequest(call_id="四" * 256, called="4001234567", caller=f"1380013{i:04d}", time=AT)
                for i in range(30)
            ]
        )
        for request in batch.requests:
            request.explain = True
        assert batch.ByteSize() < 32 * 1024
        answer = r.router.RouteBatch(batch, timeout=10)
        assert answer.ByteSize() > 32 * 1024
        assert all(d.action == pb.RouteDecision.MENU for d in answer.decisions)
        assert [d.call_id for d in answer.decisions] == ["四" * 256] * 30
    finally:
        r.close()


def test_deadline_is_honoured(fresh: Running) -> None:
    reqs = [pb.RouteRequest(called="4001234567", caller="13800138000", time=AT)] * 20000
    with pytest.raises(grpc.RpcError) as info:
        fresh.router.RouteBatch(pb.RouteBatchRequest(requests=reqs), timeout=0.001)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


# --- ReportCall ----------------------------------------------------------------------------------


def test_report_call_writes_durable_records(plan_loaded: Any, tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "records.db")
    r = Running(routecore.Engine.from_loaded(plan_loaded), records=store)
    try:
        routed = r.router.RouteCall(
            pb.RouteRequest(call_id="c1", called="4001234567", caller="13800138000", digits="1", time=AT),
            timeout=10,
        )
        assert routed.action == pb.RouteDecision.FORWARD
        answered = pb.CallEvent(call_id="c1", type=pb.CallEvent.ANSWERED, target="13800000010", time=AT)
        ended = pb.CallEvent(
            call_id="c1",
            type=pb.CallEvent.ENDED,
            target="13800000010",
            time="2026-11-11T10:03:01+08:00",
            duration_seconds=181,
            disposition="answered",
        )
        ack = r.router.ReportCall(answered, timeout=10)
        assert (ack.call_id, ack.type, ack.recorded, ack.duplicate) == (
            "c1",
            pb.CallEvent.ANSWERED,
            True,
            False,
        )
        ack = r.router.ReportCall(ended, timeout=10)
        assert (ack.recorded, ack.duplicate) == (True, False)
        ack = r.router.ReportCall(ended, timeout=10)
        assert (ack.recorded, ack.duplicate) == (False, True)
        with pytest.raises(grpc.RpcError) as info:
            r.router.ReportCall(pb.CallEvent(call_id="c2", target="13800000010"), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as info:
            r.router.ReportCall(pb.CallEvent(type=pb.CallEvent.ANSWERED, target="13800000010"), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        r.close()
    reopened = SqliteRecordStore(tmp_path / "records.db")
    try:
        record = reopened.record("c1")
        assert record is not None
        # The decision the engine kept makes the record whole: tenant, caller, rule, rate, cost.
        assert (record.tenant, record.called, record.caller, record.rule) == (
            "clinic",
            "4001234567",
            "13800138000",
            "open",
        )
        assert (record.province, record.carrier, record.target) == ("北京", "移动", "13800000010")
        assert record.duration_seconds == 181 and record.billed_minutes == 4
        assert record.cost == pytest.approx(0.8)
        assert reopened.record("c2") is None
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("disposition", "busy\x1b[31m"),
        ("disposition", "no\nanswer"),
        ("disposition", "\x00"),
        ("disposition", "busy\u202e"),
        ("disposition", "\x85"),
        ("call_id", "cc\r\n"),
        ("target", "13800000010\x1b"),
    ],
)
def test_report_call_refuses_control_characters_in_a_disposition(
    plan_loaded: Any, tmp_path: Path, field: str, text: str
) -> None:
    """What an event stores and `routecore stats` shows is printable text."""
    store = SqliteRecordStore(tmp_path / "records.db")
    engine = routecore.Engine.from_loaded(plan_loaded)
    event = {"call_id": "cc", "type": pb.CallEvent.ENDED, "target": "13800000010", "time": AT}
    for r in (Running(engine, records=store), Running(engine)):
        try:
            with pytest.raises(grpc.RpcError) as info:
                r.router.ReportCall(pb.CallEvent(**{**event, field: text}), timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details().startswith(f"{field}: "), info.value.details()
        finally:
            r.close()
    reopened = SqliteRecordStore(tmp_path / "records.db")
    try:
        assert reopened.record("cc") is None
    finally:
        reopened.close()


@pytest.mark.parametrize("time_", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+08:00"])
def test_report_call_time_out_of_range_is_invalid_and_the_store_goes_on(
    plan_loaded: Any, tmp_path: Path, time_: str
) -> None:
    """A time a record cannot hold (the years 10000 or 0 in UTC) is the switch's mistake, named
    as such, and the next event, anyone's, is stored as usual."""
    store = SqliteRecordStore(tmp_path / "records.db")
    r = Running(routecore.Engine.from_loaded(plan_loaded), records=store)
    try:
        far = pb.CallEvent(
            call_id="far", type=pb.CallEvent.ENDED, target="13800000010", time=time_, duration_seconds=5
        )
        with pytest.raises(grpc.RpcError) as info:
            r.router.ReportCall(far, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == f'time: "{time_}" is not between the years 1 and 9999'
        ok = pb.CallEvent(call_id="ok", type=pb.CallEvent.ENDED, target="13800000010", time=AT)
        assert r.router.ReportCall(ok, timeout=10).recorded
    finally:
        r.close()
    assert store.record("far") is None and store.record("ok") is not None


# --- Admin ---------------------------------------------------------------------------------------

BAD_PLAN = """version: 1
tenants:
  t:
    numbers:
      "4001234567": {flow: [{forward: nowhere}]}
"""


def test_admin_token(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded), options=ServerOptions(admin_token="s3cret"))
    try:
        for md, code in [
            ((), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", "Bearer wrong"),), grpc.StatusCode.PERMISSION_DENIED),
            # No Bearer credential at all: not authenticated (a bare token, another scheme).
            ((("authorization", "s3cret"),), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", "Basic czNjcmV0"),), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", "Bearer "),), grpc.StatusCode.UNAUTHENTICATED),
        ]:
            for call, req in [
                (r.admin.GetPlan, pb.GetPlanRequest()),
                (r.admin.GetStats, pb.GetStatsRequest()),
                (r.admin.UpdateList, pb.UpdateListRequest(name="harass", add=["13600000099"])),
                (r.admin.ReloadPlan, pb.ReloadPlanRequest(text=BAD_PLAN)),
            ]:
                with pytest.raises(grpc.RpcError) as info:
                    call(req, metadata=md, timeout=10)
                assert info.value.code() == code
        info_ok = r.admin.GetPlan(
            pb.GetPlanRequest(), metadata=(("authorization", "Bearer s3cret"),), timeout=10
        )
        assert info_ok.version == plan_loaded.checksum
        # Nothing was changed by the refused calls; routing needs no token.
        assert r.router.RouteCall(
            pb.RouteRequest(called="4001234567", caller="13600000099", time=AT)
        ).action == (pb.RouteDecision.MENU)
    finally:
        r.close()


def test_reload_plan_bad_keeps_old_good_swaps(fresh: Running, plan_loaded: Any) -> None:
    before = fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10)
    resp = fresh.admin.ReloadPlan(pb.ReloadPlanRequest(text=BAD_PLAN), timeout=30)
    assert not resp.reloaded
    assert resp.version == resp.previous_version == before.version
    assert resp.errors and all(e.message for e in resp.errors)
    assert any("nowhere" in e.message or "nowhere" in e.path for e in resp.errors), resp.errors
    assert any(e.line > 0 for e in resp.errors)
    # Text has no file: its problems are placed in `<text>`, not a made-up path on the server.
    assert {e.file for e in resp.errors if e.file} == {"<text>"}, resp.errors
    assert fresh.router.RouteCall(MIXED[0], timeout=10).plan_version == before.version

    missing = fresh.admin.ReloadPlan(pb.ReloadPlanRequest(path="/nonexistent/plan.yaml"), timeout=30)
    assert not missing.reloaded and missing.errors and "nonexistent" in missing.errors[0].message
    assert "no such plan file" in missing.errors[0].message
    not_files = ((SPEC, "is a directory, not a plan file"), (Path("/dev/null"), "is not a regular file"))
    for path, why in not_files:
        refused = fresh.admin.ReloadPlan(pb.ReloadPlanRequest(path=str(path)), timeout=30)
        assert not refused.reloaded and refused.errors[0].message == f"path: {path}: {why}", refused.errors

    with pytest.raises(grpc.RpcError) as info:
        fresh.admin.ReloadPlan(pb.ReloadPlanRequest(), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:  # not the working directory
        fresh.admin.ReloadPlan(pb.ReloadPlanRequest(path=""), timeout=30)
    assert (info.value.code(), info.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "path: empty; give the plan file's path, or the plan as `text`",
    )

    text = (SPEC / "plan.yaml").read_text(encoding="utf-8").replace("tag: 预约挂号", "tag: 新标签")
    fresh.service.engine.loaded  # noqa: B018 (list files are relative to the current plan's folder)
    resp = fresh.admin.ReloadPlan(pb.ReloadPlanRequest(text=text), timeout=30)
    assert resp.reloaded, resp.errors
    assert resp.previous_version == before.version != resp.version
    d = fresh.router.RouteCall(MIXED[0], timeout=10)
    assert (d.plan_version, d.display.tag) == (resp.version, "新标签")
    after = fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10)
    assert after.version == resp.version


def test_get_plan(fresh: Running, plan_loaded: Any) -> None:
    info = fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10)
    engine = fresh.service.engine
    assert (info.version, info.checksum) == (plan_loaded.checksum, plan_loaded.checksum)
    assert info.source.endswith("plan.yaml")
    assert (info.timezone, info.gateway) == ("Asia/Shanghai", "127.0.0.1:5070")
    assert info.numbers == len(engine.numbers())
    assert info.tenants == len(plan_loaded.model.tenants)
    assert info.lists == len(plan_loaded.model.lists)


def test_get_plan_source_after_reloads(fresh: Running) -> None:
    """The proto: "The file it was loaded from, or "<text>", "<demo plan>"" - a plan reloaded
    from text is `<text>`, not a made-up file in the old plan's folder."""
    text = (SPEC / "plan.yaml").read_text(encoding="utf-8")
    assert fresh.admin.ReloadPlan(pb.ReloadPlanRequest(text=text), timeout=30).reloaded
    assert fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10).source == "<text>"
    assert fresh.admin.ReloadPlan(pb.ReloadPlanRequest(path=str(SPEC / "plan.yaml")), timeout=30).reloaded
    assert fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10).source == str(SPEC / "plan.yaml")
    fresh.service.engine = routecore.Engine.demo()
    assert fresh.admin.GetPlan(pb.GetPlanRequest(), timeout=10).source == "<demo plan>"


def test_update_list_live_and_kept_across_reload(fresh: Running) -> None:
    caller = "13600000099"
    req = pb.RouteRequest(called="4001234567", caller=caller, time=AT)
    assert fresh.router.RouteCall(req, timeout=10).action == pb.RouteDecision.MENU
    resp = fresh.admin.UpdateList(pb.UpdateListRequest(name="harass", add=[caller]), timeout=10)
    assert (resp.name, resp.size, resp.added, resp.removed) == ("harass", 2, 1, 0)
    d = fresh.router.RouteCall(req, timeout=10)
    assert (d.action, d.reject.sip_code, d.reject.reason) == (pb.RouteDecision.REJECT, 603, "骚扰")
    assert fresh.admin.ReloadPlan(pb.ReloadPlanRequest(path=str(SPEC / "plan.yaml")), timeout=30).reloaded
    assert fresh.router.RouteCall(req, timeout=10).action == pb.RouteDecision.REJECT
    resp = fresh.admin.UpdateList(pb.UpdateListRequest(name="harass", remove=[caller]), timeout=10)
    assert (resp.size, resp.added, resp.removed) == (1, 0, 1)
    assert fresh.router.RouteCall(req, timeout=10).action == pb.RouteDecision.MENU
    for bad, code in [
        (pb.UpdateListRequest(name="nope", add=[caller]), grpc.StatusCode.NOT_FOUND),
        (pb.UpdateListRequest(name="virtual", add=[caller]), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.UpdateListRequest(name="harass", add=["x"]), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.UpdateListRequest(add=[caller]), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            fresh.admin.UpdateList(bad, timeout=10)
        assert info.value.code() == code


def test_get_stats_counts_since_start(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded))
    try:
        r.router.RouteCall(MIXED[0], timeout=10)
        r.router.RouteCall(pb.RouteRequest(called="4001234567", caller="13912345678", time=AT), timeout=10)
        with pytest.raises(grpc.RpcError):
            r.router.RouteCall(MIXED[2], timeout=10)
        list(r.router.RouteStream(iter(MIXED), timeout=10))
        r.router.RouteBatch(pb.RouteBatchRequest(requests=MIXED), timeout=10)
        s = r.admin.GetStats(pb.GetStatsRequest(), timeout=10)
        assert s.decisions == 2 + 2 * 4
        assert s.errors == 1 + 2 * 3
        assert dict(s.by_error) == {"NOT_FOUND": 3, "INVALID_ARGUMENT": 4}
        assert dict(s.by_reason) == {"骚扰": 1}
        assert sum(s.by_action.values()) == s.decisions
        assert s.by_tenant["clinic"] == s.decisions - 2  # the school's number once per stream/batch
        assert s.plan_version == plan_loaded.checksum
        assert abs(s.started - time.time()) < 60
    finally:
        r.close()


def test_get_stats_counts_http_decisions_too(plan_loaded: Any) -> None:
    """HTTP is served by the same process: its decisions and refusals count in GetStats as the
    gRPC ones do (the same requests over each transport count the same)."""
    import urllib.parse
    import urllib.request

    from routecore.http import start_http
    from routecore.metrics import Metrics

    r = Running(routecore.Engine.from_loaded(plan_loaded))
    web = r.run(start_http(r.service, "127.0.0.1", 0, metrics=Metrics()))
    try:
        for req in MIXED:
            with contextlib.suppress(grpc.RpcError):
                r.router.RouteCall(req, timeout=10)
        over_grpc = r.admin.GetStats(pb.GetStatsRequest(), timeout=10)
        for req in MIXED:
            query = urllib.parse.urlencode(as_dict(req))
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://127.0.0.1:{web.port}/v1/route?{query}", timeout=10).read()
        both = r.admin.GetStats(pb.GetStatsRequest(), timeout=10)
        assert (both.decisions, both.errors) == (2 * over_grpc.decisions, 2 * over_grpc.errors)
        for name in ("by_action", "by_tenant", "by_reason", "by_error"):
            assert dict(getattr(both, name)) == {k: 2 * n for k, n in getattr(over_grpc, name).items()}
        assert (both.decisions, dict(both.by_error)) == (8, {"NOT_FOUND": 2, "INVALID_ARGUMENT": 4})
        # Refused before the engine: a body that is not JSON, a bad `explain`.
        for body in (b"{not json", b'{"called": "4001234567", "caller": "1", "explain": 3}'):
            post = urllib.request.Request(f"http://127.0.0.1:{web.port}/v1/route", data=body, method="POST")
            post.add_header("Content-Type", "application/json")
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(post, timeout=10).read()
        after = r.admin.GetStats(pb.GetStatsRequest(), timeout=10)
        assert (after.errors, after.by_error["INVALID_ARGUMENT"]) == (both.errors + 2, 6)
    finally:
        r.run(web.stop(1.0))
        r.close()


# --- health, reflection --------------------------------------------------------------------------


def test_health(plan_loaded: Any) -> None:
    r = Running(routecore.Engine.from_loaded(plan_loaded))
    try:
        stub = health_pb2_grpc.HealthStub(r.channel)
        for name in ("", ROUTER, ADMIN):
            assert (
                stub.Check(health_pb2.HealthCheckRequest(service=name)).status
                == health_pb2.HealthCheckResponse.SERVING
            )
        r.run(r.health.enter_graceful_shutdown())
        assert stub.Check(health_pb2.HealthCheckRequest(service=ROUTER)).status == (
            health_pb2.HealthCheckResponse.NOT_SERVING
        )
    finally:
        r.close()


def test_reflection(running: Running) -> None:
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(running.channel)
    services = set(db.get_services())
    assert {ROUTER, ADMIN, "grpc.health.v1.Health"} <= services
    pool = DescriptorPool(db)
    router = pool.FindServiceByName(ROUTER)
    assert [m.name for m in router.methods] == ["RouteCall", "RouteStream", "RouteBatch", "ReportCall"]
    decision = pool.FindMessageTypeByName("routecore.v1.RouteDecision")
    assert "uri" in decision.fields_by_name and "called_class" in decision.fields_by_name


# --- `routecore serve`: a real process, stopped by SIGTERM -----------------------------------------


def _no_http(args: tuple[str, ...]) -> tuple[str, ...]:
    """`args` with `--http off` unless they name an address: the default one is no free port."""
    return args if "--http" in args else (*args, "--http", "off")


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", *_no_http(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _port(proc: subprocess.Popen[str]) -> int:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"serving gRPC on [^\"]*:(\d+)", line)
        if m:
            return int(m.group(1))
    proc.kill()
    raise AssertionError("server did not start: " + "".join(lines))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_exits_0_on_signal_after_in_flight_calls(sig: signal.Signals, tmp_path: Path) -> None:
    proc = _serve()
    try:
        port = _port(proc)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            # The embedded demo plan routes a real call.
            d = router.RouteCall(
                pb.RouteRequest(called="4001234567", caller="13800138000", time=AT), timeout=10
            )
            assert d.action != pb.RouteDecision.ACTION_UNSPECIFIED and d.tenant
            # A stream in flight when the signal comes still gets its answers within the grace.
            sent = threading.Event()

            def requests() -> Iterator[pb.RouteRequest]:
                yield pb.RouteRequest(call_id="a", called="4001234567", caller="13800138000", time=AT)
                sent.wait(timeout=10)
                time.sleep(0.2)

            stream = router.RouteStream(requests(), timeout=20)
            first = next(stream)
            assert first.call_id == "a"
            proc.send_signal(sig)
            sent.set()
            rest = list(stream)
            assert rest == []
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert any(entry.get("event") == "stopped" for entry in logs), err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_answers_http_by_default_and_skips_a_taken_default_address() -> None:
    """interfaces.md: HTTP/JSON is served by the same `serve` process, at 127.0.0.1:8080 unless
    told otherwise. The default address taken (held here) costs a warning and gRPC still serves;
    an address given and taken stops `serve` with exit 1."""
    host, port = DEFAULT_HTTP.rsplit(":", 1)
    holder = socket.socket()
    with contextlib.suppress(OSError):  # already taken by someone else: the same case
        holder.bind((host, int(port)))
        holder.listen()
    try:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stderr is not None
            started = []  # the log up to "serving gRPC on ...:PORT"
            while not (m := re.search(r"serving gRPC on [^\"]*:(\d+)", started[-1] if started else "")):
                line = proc.stderr.readline()
                assert line, "".join(started)
                started.append(line)
            with grpc.insecure_channel(f"127.0.0.1:{m.group(1)}") as channel:
                call = pb.RouteRequest(called="4001234567", caller="13800138000", time=AT)
                assert pb_grpc.RouterStub(channel).RouteCall(call, timeout=10).tenant
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=30)
            err = "".join(started) + rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert f"HTTP/JSON not served: {DEFAULT_HTTP} is taken" in err
        out = subprocess.run([*cmd, "--http", DEFAULT_HTTP], capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, out.stderr
        # One line, `OSError: why` (docs/errors.md), and the gRPC server that had started is
        # stopped cleanly: no "Exception ignored" or never-awaited shutdown after it.
        failure = [line for line in out.stderr.splitlines() if '"level"' not in line]
        assert len(failure) == 1 and failure[0].startswith("OSError: "), out.stderr
        assert "address already in use" in failure[0], out.stderr
    finally:
        holder.close()


def _nice_by_thread(pid: int) -> dict[str, list[int]]:
    """Nice value of each thread of `pid`, by thread name ("main" for the thread that is the pid)."""
    out: dict[str, list[int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        # /proc/<pid>/task/<tid>/stat: "tid (comm) state ...": nice is field 19, the 17th after comm.
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        name = "main" if task.name == str(pid) else stat[stat.index("(") + 1 : stat.rindex(")")]
        out.setdefault(name, []).append(int(fields[16]))
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
@pytest.mark.parametrize(
    ("args", "answering"), [((), 10), (("--loop-nice", "3"), 3), (("--loop-nice", "0"), 0)]
)
def test_the_answering_thread_runs_below_grpcs_transport_threads(
    tmp_path: Path, args: tuple[str, ...], answering: int
) -> None:
    # In overload grpc's threads must still get the CPU to read new calls and drop the excess at
    # once (bench/README.md "Soak"): the thread that answers (the event loop) yields to them.
    with serving(tmp_path / "serve.log", *args) as served:
        with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
            d = pb_grpc.RouterStub(channel).RouteCall(
                pb.RouteRequest(called="4001234567", caller="13800138000", time=AT), timeout=10
            )
            assert d.action != pb.RouteDecision.ACTION_UNSPECIFIED
        nice = _nice_by_thread(served.pid)
        assert served.stop() == 0
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the server starts at this test's own priority
    assert nice.pop("main") == [min(19, base + answering)], nice
    transport = [n for name, values in nice.items() if "event_engine" in name for n in values]
    assert transport and set(transport) == {base}, nice


def test_serve_masks_caller_numbers_in_logs() -> None:
    from routecore.server import mask_numbers

    assert mask_numbers("caller 13800138000 to 4001234567") == "caller 138****8000 to 400***4567"
    assert mask_numbers("+86 138 0013 8000") == "861******8000"
    assert mask_numbers("digits 12345 at 10:00") == "digits 12345 at 10:00"
    # A plan version (hex) is no phone number, whatever digits it holds.
    assert mask_numbers("plan e96c4031234512110") == "plan e96c4031234512110"


def test_serve_log_lines_never_show_a_whole_caller_number(tmp_path: Path) -> None:
    plan = _plan_copy(tmp_path)
    log = tmp_path / "serve.log"
    proc, port = _serve_logged(log, "--plan", str(plan))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            admin = pb_grpc.AdminStub(channel)
            admin.UpdateList(pb.UpdateListRequest(name="harass", add=["13600000099"]), timeout=10)
            with pytest.raises(grpc.RpcError):
                admin.UpdateList(
                    pb.UpdateListRequest(name="harass", add=["13600000098", "1360000009x"]), timeout=10
                )
            reply = admin.ReloadPlan(
                pb.ReloadPlanRequest(text=BAD_PLAN.replace("nowhere", "13600000097")), timeout=30
            )
            assert not reply.reloaded
    finally:
        _stop(proc, log)
    text = log.read_text(encoding="utf-8")
    assert "136****0099" in text, text
    for number in ("13600000099", "13600000098", "13600000097"):
        assert number not in text, f"{number} in the log"
    assert "Admin calls (reload, list updates) are open" in text


def test_check_expect_is_used_unchanged() -> None:
    # The gRPC path reuses the reference checker as is: a wrong decision must be caught.
    assert check_expect({"action": "MENU", "targets": []}, {"action": "FORWARD"})


def test_load_generator_runs_bounded() -> None:
    """bench/load.py (loopback, fixed count and time) runs end to end and prints its table."""
    script = Path(__file__).resolve().parent.parent / "bench" / "load.py"
    args = ["--seconds", "0.3", "--count", "60", "--rounds", "1", "--no-latency"]
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| Route")]
    assert len(rows) == 5, out.stdout


# --- crash durability: SIGKILL mid-load, restart, replay ----------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_logged(log: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`routecore serve` with its log in a file (a pipe nobody drains could block it)."""
    served = start(log, *args)
    return served.proc, served.port


def _ended(i: int) -> pb.CallEvent:
    return pb.CallEvent(
        call_id=f"k{i}",
        type=pb.CallEvent.ENDED,
        target="13800000010",
        time="2026-11-11T10:03:00+08:00",
        duration_seconds=60 + i % 120,
        disposition="answered",
    )


def test_sigkill_mid_load_loses_no_acknowledged_record(tmp_path: Path) -> None:
    cdr = tmp_path / "records.db"
    http_port = _free_port()
    proc, port = _serve_logged(tmp_path / "first.log", "--cdr", str(cdr), "--http", f"127.0.0.1:{http_port}")
    acked: set[int] = set()
    stop = threading.Event()

    def load(worker: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            i = worker
            while not stop.is_set() and i < 100_000:  # bounded in count and, below, in time
                try:
                    ack = router.ReportCall(_ended(i), timeout=5)
                except grpc.RpcError:
                    return  # the server is gone
                assert ack.call_id == f"k{i}"
                acked.add(i)
                i += 4

    acked_http: set[int] = set()

    def http_load() -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        try:
            i = 0
            while not stop.is_set() and i < 100_000:
                body = json.dumps(
                    {
                        "call_id": f"h{i}",
                        "type": "ENDED",
                        "target": "13800000010",
                        "time": AT,
                        "duration_seconds": 30,
                    }
                )
                try:
                    conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    answer = json.loads(resp.read())
                except (OSError, http.client.HTTPException, ValueError):
                    return  # the server is gone
                if resp.status == 200 and answer["recorded"]:
                    acked_http.add(i)
                i += 1
        finally:
            conn.close()  # the killed server's socket too (an unclosed one warns, and warnings fail)

    try:
        # The HTTP twin of the same process answers too.
        import urllib.request

        with urllib.request.urlopen(
            f"http://127.0.0.1:{http_port}/v1/route?called=4001234567&caller=13800138000&time=2026-11-11T10:00:00%2B08:00",
            timeout=10,
        ) as resp:
            assert json.loads(resp.read())["tenant"] == "hospital"
        workers = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        workers.append(threading.Thread(target=http_load))
        for w in workers:
            w.start()
        deadline = time.monotonic() + 20
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for w in workers:
            w.join(timeout=10)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acked) >= 200, "the load did not get going"
    assert acked_http, "the HTTP events did not get going"

    # Restart on the same store: it serves at once (the first call, right as it listens, is
    # answered), and every acknowledged event is there.
    proc, port = _serve_logged(tmp_path / "second.log", "--cdr", str(cdr))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            first = router.RouteCall(
                pb.RouteRequest(called="4001234567", caller="13800138000", time=AT), timeout=10
            )
            assert first.tenant == "hospital"
            for i in sorted(acked)[:50]:
                ack = router.ReportCall(_ended(i), timeout=10)
                assert ack.duplicate and not ack.recorded, f"k{i} was stored twice"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = SqliteRecordStore(cdr)
    try:
        missing = [i for i in acked if store.record(f"k{i}") is None]
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:5]}"
        missing_http = [i for i in acked_http if store.record(f"h{i}") is None]
        assert not missing_http, f"{len(missing_http)} acknowledged HTTP records lost"
        assert sum(1 for _ in store.records()) >= len(acked) + len(acked_http)
    finally:
        store.close()
    import sqlite3

    with contextlib.closing(sqlite3.connect(cdr)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# --- live operation: list updates that survive a restart, SIGHUP, --watch, reloads under load ----------


def _plan_copy(tmp_path: Path) -> Path:
    """The acceptance plan and its list files, copied where a test may change them."""
    import shutil

    shutil.copytree(SPEC / "lists", tmp_path / "lists")
    plan = tmp_path / "plan.yaml"
    shutil.copy(SPEC / "plan.yaml", plan)
    return plan


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_update_list_survives_a_restart(tmp_path: Path) -> None:
    cdr = tmp_path / "records.db"
    plan = _plan_copy(tmp_path)
    blocked = pb.RouteRequest(called="4001234567", caller="13600000099", time=AT)
    unblocked = pb.RouteRequest(called="4001234567", caller="13700000001", time=AT)
    log = tmp_path / "first.log"
    proc, port = _serve_logged(log, "--plan", str(plan), "--cdr", str(cdr))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router, admin = pb_grpc.RouterStub(channel), pb_grpc.AdminStub(channel)
            assert router.RouteCall(blocked, timeout=10).action == pb.RouteDecision.MENU
            # Written in another form than the caller's: the same number.
            same = pb.UpdateListRequest(name="harass", add=["+86 136 0000 0099"])
            resp = admin.UpdateList(same, timeout=10)
            assert (resp.size, resp.added) == (2, 1)
            assert router.RouteCall(blocked, timeout=10).reject.reason == "骚扰"
            # Added in one form, removed in another: removed, also after the restart.
            admin.UpdateList(pb.UpdateListRequest(name="fraud", add=["13700000001"]), timeout=10)
            assert router.RouteCall(unblocked, timeout=10).action == pb.RouteDecision.REJECT
            resp = admin.UpdateList(pb.UpdateListRequest(name="fraud", remove=["137-0000-0001"]), timeout=10)
            assert resp.removed == 1
            with pytest.raises(grpc.RpcError) as info:
                admin.UpdateList(pb.UpdateListRequest(name="harass", add=["13600000098", "x"]), timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        _stop(proc, log)

    log = tmp_path / "second.log"
    proc, port = _serve_logged(log, "--plan", str(plan), "--cdr", str(cdr))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router, admin = pb_grpc.RouterStub(channel), pb_grpc.AdminStub(channel)
            d = router.RouteCall(blocked, timeout=10)
            assert (d.action, d.reject.reason) == (pb.RouteDecision.REJECT, "骚扰")
            assert router.RouteCall(unblocked, timeout=10).action == pb.RouteDecision.MENU
            # The refused request (a bad number) persisted nothing.
            size = admin.UpdateList(pb.UpdateListRequest(name="harass"), timeout=10).size
            assert size == 2
            # And they still hold on a plan reloaded from the file.
            assert admin.ReloadPlan(pb.ReloadPlanRequest(path=str(plan)), timeout=30).reloaded
            assert router.RouteCall(blocked, timeout=10).action == pb.RouteDecision.REJECT
        assert log_events(log, "lists_restored")
    finally:
        _stop(proc, log)


def test_sighup_reloads_the_plan_file_and_a_bad_one_keeps_the_old(tmp_path: Path) -> None:
    plan = _plan_copy(tmp_path)
    log = tmp_path / "serve.log"
    proc, port = _serve_logged(log, "--plan", str(plan))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            first = router.RouteCall(MIXED[0], timeout=10)
            assert first.display.tag == "预约挂号"
            plan.write_text(plan.read_text(encoding="utf-8").replace("tag: 预约挂号", "tag: 新标签"), "utf-8")
            proc.send_signal(signal.SIGHUP)
            second = until(
                lambda: (d := router.RouteCall(MIXED[0], timeout=10)).display.tag == "新标签" and d,
                "the SIGHUP reload",
            )
            assert second.plan_version != first.plan_version
            plan.write_text(BAD_PLAN, "utf-8")
            proc.send_signal(signal.SIGHUP)
            refused = until(lambda: log_events(log, "reload_refused"), "the refusal in the log")
            assert "nowhere" in refused[0]["msg"]
            d = router.RouteCall(MIXED[0], timeout=10)
            assert (d.plan_version, d.display.tag) == (second.plan_version, "新标签")
            assert proc.poll() is None
    finally:
        _stop(proc, log)


def test_watch_reloads_on_change_and_survives_bad_and_deleted_files(tmp_path: Path) -> None:
    plan = _plan_copy(tmp_path)
    good = plan.read_text(encoding="utf-8")
    log = tmp_path / "serve.log"
    proc, port = _serve_logged(log, "--plan", str(plan), "--watch", "--watch-interval", "0.1")
    fraudster = pb.RouteRequest(called="4001234567", caller="13600000077", time=AT)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            v0 = router.RouteCall(MIXED[0], timeout=10).plan_version

            def tag() -> str:
                return str(router.RouteCall(MIXED[0], timeout=10).display.tag)

            plan.write_text(good.replace("tag: 预约挂号", "tag: 新标签"), "utf-8")
            until(lambda: tag() == "新标签", "the reload of the changed plan")
            # A list file of the plan is watched too.
            assert router.RouteCall(fraudster, timeout=10).action == pb.RouteDecision.MENU
            with (tmp_path / "lists" / "fraud.txt").open("a", encoding="utf-8") as f:
                f.write("136 0000 0077\n")
            until(
                lambda: router.RouteCall(fraudster, timeout=10).reject.reason == "诈骗",
                "the reload of the changed list file",
            )
            v1 = router.RouteCall(MIXED[0], timeout=10).plan_version
            assert v1 != v0
            # Corrupted, half written, deleted: the plan serving keeps serving.
            for broken in ("tenants: [\n", good[: len(good) // 2], BAD_PLAN):
                before = len(log_events(log, "reload_refused"))
                plan.write_text(broken, "utf-8")
                until(lambda b=before: len(log_events(log, "reload_refused")) > b, "the refusal")
                d = router.RouteCall(MIXED[0], timeout=10)
                assert (d.plan_version, d.display.tag) == (v1, "新标签")
            before = len(log_events(log, "reload_refused"))
            plan.unlink()
            until(lambda: len(log_events(log, "reload_refused")) > before, "the deleted file noticed")
            assert router.RouteCall(MIXED[0], timeout=10).plan_version == v1
            # A list file of the plan deleted, then garbled: refused too, the list still serves.
            plan.write_text(good.replace("tag: 预约挂号", "tag: 新标签"), "utf-8")
            fraud = tmp_path / "lists" / "fraud.txt"
            kept = fraud.read_text(encoding="utf-8")
            for broken_list in (None, "13600000077\nnot a number at all\n"):
                before = len(log_events(log, "reload_refused"))
                if broken_list is None:
                    fraud.unlink()
                else:
                    fraud.write_text(broken_list, "utf-8")
                until(lambda b=before: len(log_events(log, "reload_refused")) > b, "the broken list refused")
                assert router.RouteCall(fraudster, timeout=10).reject.reason == "诈骗"
                assert router.RouteCall(MIXED[0], timeout=10).plan_version == v1
            fraud.write_text(kept, "utf-8")
            # Back again: reloaded.
            plan.write_text(good, "utf-8")
            until(lambda: tag() == "预约挂号", "the reload of the restored plan")
            assert proc.poll() is None
    finally:
        _stop(proc, log)


def test_continuous_reloads_under_load_answer_from_exactly_one_plan(tmp_path: Path) -> None:
    """ReloadPlan alternates two plans (different announce prompts) as fast as it can while
    clients route at full speed: no call fails, and each answer's prompt is its plan version's."""
    text_a = (SPEC / "plan.yaml").read_text(encoding="utf-8")
    text_b = text_a.replace("announce: clinic_closed}", "announce: clinic_closed_b}")
    night = "2026-11-11T23:00:00+08:00"  # the clinic is closed: its flow announces
    expected = {}
    for text in (text_a, text_b):
        engine = routecore.Engine.from_text(text, base_dir=SPEC)
        d = engine.route(called="4001234567", caller="13500000001", at=night)
        assert d.action == "ANNOUNCE"
        expected[engine.version] = d.prompt
    assert len(expected) == 2 and len(set(expected.values())) == 2, expected

    log = tmp_path / "serve.log"
    proc, port = _serve_logged(log, "--plan", str(SPEC / "plan.yaml"))
    stop = threading.Event()
    answers: list[list[tuple[str, str]]] = [[] for _ in range(4)]
    failures: list[str] = []
    reloads = [0]

    def client(k: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            router = pb_grpc.RouterStub(channel)
            i = 0
            while not stop.is_set() and i < 200_000:
                # Callers differ, so no per-caller limit gets in the way.
                req = pb.RouteRequest(called="4001234567", caller=f"135{k}{i:07d}", time=night)
                try:
                    d = router.RouteCall(req, timeout=10)
                except grpc.RpcError as e:
                    failures.append(f"{e.code()}: {e.details()}")
                    return
                answers[k].append((d.plan_version, d.prompt))
                i += 1

    def reloader() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            admin = pb_grpc.AdminStub(channel)
            while not stop.is_set() and reloads[0] < 10_000:
                text = text_b if reloads[0] % 2 == 0 else text_a
                resp = admin.ReloadPlan(pb.ReloadPlanRequest(text=text), timeout=30)
                if not resp.reloaded:
                    failures.append(f"reload refused: {resp.errors}")
                    return
                reloads[0] += 1

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        threads.append(threading.Thread(target=reloader))
        for t in threads:
            t.start()
        time.sleep(4.0)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
    finally:
        stop.set()
        _stop(proc, log)
    assert not failures, failures[:5]
    seen = [a for per_client in answers for a in per_client]
    assert len(seen) > 200 and reloads[0] >= 6, (len(seen), reloads[0])
    wrong = [(v, p) for v, p in seen if expected.get(v) != p]
    assert not wrong, wrong[:5]
    assert {v for v, _ in seen} == set(expected), "both plans answered"


def test_metrics_include_grpc_decisions(plan_loaded: Any) -> None:
    from routecore.http import start_http
    from routecore.metrics import Metrics

    metrics = Metrics()
    r = Running(routecore.Engine.from_loaded(plan_loaded))
    try:
        r.router.RouteCall(pb.RouteRequest(called="4001234567", caller="13700000000", time=AT), timeout=10)
        r.router.RouteCall(pb.RouteRequest(called="4001234567", caller="13800138000", time=AT), timeout=10)
        http = r.run(start_http(r.service, "127.0.0.1", 0, metrics=metrics))
        try:
            text = metrics.render().decode()
        finally:
            r.run(http.stop(1.0))
    finally:
        r.close()
    assert 'routecore_grpc_decisions_total{action="REJECT"} 1.0' in text
    assert 'routecore_grpc_decisions_total{action="MENU"} 1.0' in text
    assert 'routecore_grpc_rejects_total{reason="诈骗"} 1.0' in text
    assert 'routecore_grpc_tenant_decisions_total{tenant="clinic"} 2.0' in text
