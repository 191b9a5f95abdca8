"""Bad input at every interface, table-driven: gRPC (Router and Admin), HTTP/JSON, the Python API,
the CLI, plan files, list files and call events, fed malformed, oversized, truncated, wrong-typed,
wrongly encoded (GBK, invalid UTF-8), duplicated and out-of-order input.

Each case checks the documented error (docs/errors.md: the status and a message naming the field,
or the file and line) and, for the serving interfaces, that nothing already stored changed: the
call records and events in the SQLite store, the persisted list changes, the serving plan version
and what the lists hold (probed by routing their callers). Never UNKNOWN, never a traceback, never
a hang (every call has a timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http.client
import json
import math
import socket
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
import routecore
from routecore.cli import app
from routecore.exceptions import (
    InvalidArgumentError,
    InvalidNumberError,
    NotFoundError,
    PlanError,
    RoutecoreError,
)
from routecore.http import start_http
from routecore.plan import check_plan, load_plan
from routecore.records import SqliteRecordStore
from routecore.server import ADMIN, ROUTER, Service, build_server, mark_serving, shutdown
from routecore.v1 import routing_pb2 as pb
from routecore.v1 import routing_pb2_grpc as pb_grpc
from typer.testing import CliRunner

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
AT = "2026-11-11T10:00:00+08:00"
CLINIC = "4001234567"
GBK = "北京".encode("gbk")  # b"\xb1\xb1\xbe\xa9": not UTF-8
SURROGATES = GBK.decode("utf-8", errors="surrogateescape")  # what os.fsdecode makes of GBK bytes
T = TypeVar("T")

# Callers whose decisions show what the lists hold: one added live (harass), one on harass in
# the plan, one in the fraud list file, one on no list.
PROBES = ("13500000001", "13912345678", "13700000000", "13600000001")


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2) with raw bytes, however wrong."""
    return bytes([tag << 3 | 2, len(payload)]) + payload


class World:
    """A serving process in miniature: the acceptance plan behind gRPC and HTTP/JSON sharing one
    `Service` and one SQLite record store, on their own event loop thread; with one call routed
    and recorded and one live list change, so there is something stored to lose."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = SqliteRecordStore(tmp / "records.db")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        engine = routecore.Engine.from_file(SPEC / "plan.yaml")
        self.service = Service(engine, records=self.store, plan_path=SPEC / "plan.yaml")
        self.server, self.health, self.port = self.run(self._start())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.router = pb_grpc.RouterStub(self.channel)
        self.admin = pb_grpc.AdminStub(self.channel)
        self._prime()

    async def _start(self) -> tuple[Any, Any, int]:
        server, checker = build_server(self.service)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await mark_serving(checker)
        self.web = await start_http(self.service, "127.0.0.1", 0, records=self.store)
        return server, checker, port

    def _prime(self) -> None:
        d = self.router.RouteCall(
            pb.RouteRequest(call_id="kept", called=CLINIC, caller="13800138000", digits="1", time=AT),
            timeout=10,
        )
        assert d.action == pb.RouteDecision.FORWARD
        target = d.targets[0].number
        for kind, extra in ((pb.CallEvent.ANSWERED, {}), (pb.CallEvent.ENDED, {"duration_seconds": 95})):
            event = pb.CallEvent(call_id="kept", type=kind, target=target, time=AT, **extra)
            assert self.router.ReportCall(event, timeout=10).recorded
        self.admin.UpdateList(pb.UpdateListRequest(name="harass", add=[PROBES[0]]), timeout=10)
        assert self.store.record("kept") is not None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def raw(self, method: str) -> Any:
        return self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    def snapshot(self) -> tuple[Any, ...]:
        """What must not change: records, events, list changes, plan version, list contents."""
        self.store.flush(timeout=10)
        engine = self.service.engine
        assert engine is not None
        probes = []
        for caller in PROBES:
            # Menu keys, so the per-caller limit neither counts nor refuses the probe.
            d = engine.route(CLINIC, caller, "1", AT)
            probes.append((caller, d.action, d.reject.reason if d.reject else ""))
        return (
            [dataclasses.astuple(r) for r in self.store.records()],
            [dataclasses.astuple(e) for e in self.store.events()],
            self.store.list_changes(),
            engine.version,
            probes,
        )

    def http(
        self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"
    ) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.web.port, timeout=10)
        try:
            headers = {"Content-Type": ctype} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def http_raw(self, payload: bytes) -> tuple[int, dict[str, Any]]:
        with socket.create_connection(("127.0.0.1", self.web.port), timeout=10) as s:
            s.sendall(payload)
            data = b""
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _clen(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), json.loads(body)

    def close(self) -> None:
        self.channel.close()
        self.run(self.web.stop(1.0))
        self.run(shutdown(self.server, self.health, 1.0))  # closes the store too
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def _clen(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("world"))
    yield w
    w.close()


@pytest.fixture()
def unchanged(world: World) -> Iterator[World]:
    """The world, checked after the case: nothing stored was lost or changed."""
    before = world.snapshot()
    yield world
    assert world.snapshot() == before


# --- gRPC Router ---------------------------------------------------------------------------------

GOOD = pb.RouteRequest(
    call_id="g", called=CLINIC, caller="13800138000", digits="1", time=AT
).SerializeToString()

ROUTE_CALL = [
    # (case, request bytes, status, words the message must hold)
    ("empty called", pb.RouteRequest(caller="13800138000"), "INVALID_ARGUMENT", "called"),
    ("letters for called", pb.RouteRequest(called="hello", caller="1"), "INVALID_ARGUMENT", "called"),
    ("called too long", pb.RouteRequest(called="4" * 30, caller="1"), "INVALID_ARGUMENT", "called"),
    ("caller garbage", pb.RouteRequest(called=CLINIC, caller="abc"), "INVALID_ARGUMENT", "caller"),
    (
        "caller oversized garbage",
        pb.RouteRequest(called=CLINIC, caller="1" * 300 + "x"),
        "INVALID_ARGUMENT",
        "caller",
    ),
    (
        "digits not keys",
        pb.RouteRequest(called=CLINIC, caller="1", digits="1x"),
        "INVALID_ARGUMENT",
        "digits",
    ),
    (
        "time not ISO",
        pb.RouteRequest(called=CLINIC, caller="1", time="yesterday"),
        "INVALID_ARGUMENT",
        "time",
    ),
    (
        "time out of range",
        pb.RouteRequest(called=CLINIC, caller="1", time="2026-13-45T99:00:00"),
        "INVALID_ARGUMENT",
        "time",
    ),
    ("called not served", pb.RouteRequest(called="4009999999", caller="1"), "NOT_FOUND", "4009999999"),
    ("garbage bytes", b"\xff\xff\xff", "INVALID_ARGUMENT", "not a RouteRequest"),
    ("truncated", GOOD[:-5], "INVALID_ARGUMENT", "not a RouteRequest"),
    ("wrong wire type", b"\x10\x01", "INVALID_ARGUMENT", "field 2"),
    ("GBK caller", _field(2, CLINIC.encode()) + _field(3, GBK), "INVALID_ARGUMENT", "caller: not UTF-8"),
    ("invalid UTF-8 called", _field(2, b"400\xff"), "INVALID_ARGUMENT", "called: not UTF-8"),
    ("oversized message", b"\x0a\xff\xff\xff\x04" + b"1" * (9 << 20), "RESOURCE_EXHAUSTED", ""),
]


@pytest.mark.parametrize(("case", "request_", "status", "words"), ROUTE_CALL, ids=[c[0] for c in ROUTE_CALL])
def test_route_call(unchanged: World, case: str, request_: Any, status: str, words: str) -> None:
    _assert_refused(unchanged, f"/{ROUTER}/RouteCall", request_, status, words, timeout=20)


def _assert_refused(
    world: World, method: str, request_: Any, status: str, words: str, timeout: float
) -> None:
    """`request_` (a message, or raw bytes) sent to `method` fails with `status`, its details
    naming `words`."""
    data = request_ if isinstance(request_, bytes) else request_.SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        world.raw(method)(data, timeout=timeout)
    assert info.value.code().name == status, info.value.details()
    assert words in info.value.details()


def test_route_batch_garbage_is_refused_whole(unchanged: World) -> None:
    with pytest.raises(grpc.RpcError) as info:
        unchanged.raw(f"/{ROUTER}/RouteBatch")(_field(1, b"\xff\xff"), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a RouteBatchRequest" in info.value.details()


def test_route_batch_bad_items_answered_in_place(unchanged: World) -> None:
    """One bad request must not fail the batch: its decision carries the error, in its place;
    a duplicated request is decided twice (a batch is a list, not a set)."""
    items = [
        pb.RouteRequest(call_id="a", called=CLINIC, caller="13800138000", digits="1", time=AT),
        pb.RouteRequest(call_id="b", called="abc", caller="1"),
        pb.RouteRequest(call_id="c", called="4009999999", caller="1"),
        pb.RouteRequest(call_id="a", called=CLINIC, caller="13800138000", digits="1", time=AT),
    ]
    answer = unchanged.router.RouteBatch(pb.RouteBatchRequest(requests=items), timeout=10)
    got = [
        (d.call_id, d.error.code if d.HasField("error") else pb.RouteDecision.Action.Name(d.action))
        for d in answer.decisions
    ]
    assert got == [("a", "FORWARD"), ("b", "INVALID_ARGUMENT"), ("c", "NOT_FOUND"), ("a", "FORWARD")]
    assert "called" in answer.decisions[1].error.message


def test_route_stream_survives_bad_items_in_order(unchanged: World) -> None:
    good = pb.RouteRequest(call_id="s1", called=CLINIC, caller="13800138000", digits="1", time=AT)
    stream = unchanged.channel.stream_stream(
        f"/{ROUTER}/RouteStream", request_serializer=None, response_deserializer=pb.RouteDecision.FromString
    )
    sent = [
        good.SerializeToString(),
        b"\xff\xff",
        _field(1, b"s3") + _field(3, GBK),
        good.SerializeToString(),
    ]
    answers = list(stream(iter(sent), timeout=10))
    assert [a.error.code for a in answers] == ["", "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""]
    assert "caller: not UTF-8" in answers[2].error.message
    assert answers[0].action == answers[3].action == pb.RouteDecision.FORWARD


REPORT_CALL = [
    ("type missing", pb.CallEvent(call_id="x", target="13800000010"), "type"),
    ("call_id missing", pb.CallEvent(type=pb.CallEvent.ENDED, target="13800000010"), "call_id"),
    ("time not ISO", pb.CallEvent(call_id="x", type=pb.CallEvent.ENDED, target="1", time="noon"), "time: "),
    ("target garbage", pb.CallEvent(call_id="x", type=pb.CallEvent.ANSWERED, target="abc"), "target"),
    ("garbage bytes", b"\xff\xff\xff", "CallEvent"),
    ("GBK call_id", _field(1, GBK) + b"\x10\x02", "CallEvent"),
    ("type out of range", _field(1, b"x") + b"\x10\x07" + _field(3, b"13800000010"), "type"),
]


@pytest.mark.parametrize(("case", "event", "words"), REPORT_CALL, ids=[c[0] for c in REPORT_CALL])
def test_report_call(unchanged: World, case: str, event: Any, words: str) -> None:
    data = event if isinstance(event, bytes) else event.SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        unchanged.raw(f"/{ROUTER}/ReportCall")(data, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert words in info.value.details()


def test_report_call_duplicate_is_acknowledged_and_stored_once(unchanged: World) -> None:
    record = unchanged.store.record("kept")
    assert record is not None
    for kind in (pb.CallEvent.ENDED, pb.CallEvent.ANSWERED):
        event = pb.CallEvent(call_id="kept", type=kind, target=record.target, time=AT, duration_seconds=5)
        ack = unchanged.router.ReportCall(event, timeout=10)
        assert (ack.duplicate, ack.recorded) == (True, False)


def test_events_out_of_order(world: World) -> None:
    """ENDED before ANSWERED (two paths of a switch racing): both acknowledged, one record with
    the call's answer time and duration whichever came first; a replay of either is a duplicate."""
    d = world.router.RouteCall(
        pb.RouteRequest(call_id="late", called=CLINIC, caller="13800138000", digits="1", time=AT), timeout=10
    )
    target = d.targets[0].number
    ended = pb.CallEvent(
        call_id="late",
        type=pb.CallEvent.ENDED,
        target=target,
        time="2026-11-11T10:03:00+08:00",
        duration_seconds=120,
    )
    answered = pb.CallEvent(
        call_id="late", type=pb.CallEvent.ANSWERED, target=target, time="2026-11-11T10:01:00+08:00"
    )
    assert world.router.ReportCall(ended, timeout=10).recorded
    assert world.router.ReportCall(answered, timeout=10).recorded
    assert world.router.ReportCall(ended, timeout=10).duplicate
    world.store.flush(timeout=10)
    record = world.store.record("late")
    assert record is not None
    assert (record.duration_seconds, record.tenant, record.target) == (120, "clinic", target)
    assert record.answered_at == dt.datetime(2026, 11, 11, 2, 1, tzinfo=dt.UTC)
    assert sorted(e.type for e in world.store.events() if e.call_id == "late") == ["ANSWERED", "ENDED"]


# --- gRPC Admin ----------------------------------------------------------------------------------

UPDATE_LIST = [
    ("no name", pb.UpdateListRequest(add=["13500000002"]), "INVALID_ARGUMENT", "name"),
    ("unknown list", pb.UpdateListRequest(name="nope", add=["13500000002"]), "NOT_FOUND", "nope"),
    (
        "pattern list",
        pb.UpdateListRequest(name="virtual", add=["13500000002"]),
        "INVALID_ARGUMENT",
        "virtual",
    ),
    (
        "one bad number",
        pb.UpdateListRequest(name="harass", add=["13600000001", "abc"]),
        "INVALID_ARGUMENT",
        "add[1]",
    ),
    ("empty number", pb.UpdateListRequest(name="harass", remove=[""]), "INVALID_ARGUMENT", "remove[0]"),
    ("number too long", pb.UpdateListRequest(name="harass", add=["1" * 40]), "INVALID_ARGUMENT", "add[0]"),
    ("GBK number", _field(1, b"harass") + _field(2, GBK), "INVALID_ARGUMENT", "UpdateListRequest"),
    ("garbage", b"\xff\xff", "INVALID_ARGUMENT", "UpdateListRequest"),
]


@pytest.mark.parametrize(
    ("case", "request_", "status", "words"), UPDATE_LIST, ids=[c[0] for c in UPDATE_LIST]
)
def test_update_list(unchanged: World, case: str, request_: Any, status: str, words: str) -> None:
    _assert_refused(unchanged, f"/{ADMIN}/UpdateList", request_, status, words, timeout=10)


def test_update_list_contradiction_is_refused(unchanged: World) -> None:
    """A number both added and removed in one request: refused whole, nothing persisted."""
    number = "13500000003"
    with pytest.raises(grpc.RpcError) as info:
        unchanged.admin.UpdateList(
            pb.UpdateListRequest(name="harass", add=[number], remove=[number]), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "both added and removed" in info.value.details()


def test_update_list_duplicates(world: World) -> None:
    """A number given twice counts once; adding it again is no change; removing a number not
    listed removes nothing (the removal is still kept, so a reloaded list file can't bring the
    number back)."""
    number = "13500000004"
    reply = world.admin.UpdateList(pb.UpdateListRequest(name="harass", add=[number, number]), timeout=10)
    assert reply.added == 1
    reply = world.admin.UpdateList(pb.UpdateListRequest(name="harass", add=[number]), timeout=10)
    assert reply.added == 0
    reply = world.admin.UpdateList(pb.UpdateListRequest(name="harass", remove=[number, number]), timeout=10)
    assert reply.removed == 1
    reply = world.admin.UpdateList(pb.UpdateListRequest(name="harass", remove=[number]), timeout=10)
    assert reply.removed == 0
    assert world.service.engine.route(CLINIC, number, "1", AT).action == "FORWARD"


def _reload_cases(tmp: Path) -> list[tuple[str, Any, str]]:
    plan = (SPEC / "plan.yaml").read_text(encoding="utf-8")
    gbk_file = tmp / "gbk.yaml"
    gbk_file.write_bytes(plan.replace("# Acceptance plan", "# 北京").encode("gbk", errors="replace"))
    return [
        ("not YAML", pb.ReloadPlanRequest(text="version: 1\ntenants: [unclosed\n"), "line"),
        ("truncated", pb.ReloadPlanRequest(text=plan[: len(plan) // 2]), ""),
        ("wrong type", pb.ReloadPlanRequest(text=plan.replace("version: 1", 'version: "one"')), "version"),
        ("a list, not a mapping", pb.ReloadPlanRequest(text="- 1\n- 2\n"), "mapping"),
        (
            "duplicated key",
            pb.ReloadPlanRequest(text=plan.replace("timezone:", "gateway: x\ntimezone:", 1)),
            "duplicate key",
        ),
        ("missing file", pb.ReloadPlanRequest(path=str(tmp / "nope.yaml")), "no such plan file"),
        ("a directory", pb.ReloadPlanRequest(path=str(tmp)), "is a directory, not a plan file"),
        ("GBK file", pb.ReloadPlanRequest(path=str(gbk_file)), "not UTF-8"),
    ]


def test_reload_plan_refused_keeps_the_plan(unchanged: World) -> None:
    for case, request_, words in _reload_cases(unchanged.tmp):
        reply = unchanged.admin.ReloadPlan(request_, timeout=30)
        assert not reply.reloaded, case
        assert reply.version == reply.previous_version == unchanged.service.engine.version, case
        assert reply.errors, case
        assert words in " ".join(f"{e.line} {e.path} {e.message}" for e in reply.errors), (case, reply.errors)


RELOAD_STATUS = [
    ("no source", pb.ReloadPlanRequest().SerializeToString(), "source"),
    ("GBK text", _field(2, b"version: 1\n# " + GBK), "ReloadPlanRequest"),
    ("garbage", b"\xff\xff", "ReloadPlanRequest"),
]


@pytest.mark.parametrize(("case", "data", "words"), RELOAD_STATUS, ids=[c[0] for c in RELOAD_STATUS])
def test_reload_plan_status(unchanged: World, case: str, data: bytes, words: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        unchanged.raw(f"/{ADMIN}/ReloadPlan")(data, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in info.value.details()


# --- HTTP/JSON -----------------------------------------------------------------------------------

HTTP = [
    # (case, method, path, body, content type, status, code, words)
    (
        "GET called letters",
        "GET",
        "/v1/route?called=abc&caller=1",
        None,
        "",
        400,
        "INVALID_ARGUMENT",
        "called",
    ),
    ("GET no called", "GET", "/v1/route?caller=1", None, "", 400, "INVALID_ARGUMENT", "called"),
    (
        "GET not served",
        "GET",
        "/v1/route?called=4009999999&caller=1",
        None,
        "",
        404,
        "NOT_FOUND",
        "4009999999",
    ),
    (
        "GET GBK percent-encoded",
        "GET",
        "/v1/route?called=%B1%B1&caller=1",
        None,
        "",
        400,
        "INVALID_ARGUMENT",
        "UTF-8",
    ),
    (
        "GET bad explain",
        "GET",
        f"/v1/route?called={CLINIC}&caller=1&explain=maybe",
        None,
        "",
        400,
        "INVALID_ARGUMENT",
        "explain",
    ),
    (
        "GET bad time",
        "GET",
        f"/v1/route?called={CLINIC}&caller=1&time=noon",
        None,
        "",
        400,
        "INVALID_ARGUMENT",
        "time",
    ),
    (
        "GET bad digits",
        "GET",
        f"/v1/route?called={CLINIC}&caller=1&digits=%3F",
        None,
        "",
        400,
        "INVALID_ARGUMENT",
        "digits",
    ),
    (
        "POST truncated JSON",
        "POST",
        "/v1/route",
        b'{"called": "4001',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "not JSON",
    ),
    (
        "POST JSON array",
        "POST",
        "/v1/route",
        b'["4001234567"]',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "JSON object",
    ),
    (
        "POST number for called",
        "POST",
        "/v1/route",
        b'{"called": 4001234567}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "called: expected a string",
    ),
    (
        "POST list for caller",
        "POST",
        "/v1/route",
        b'{"called": "4001234567", "caller": []}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "caller",
    ),
    (
        "POST bool for time",
        "POST",
        "/v1/route",
        b'{"called": "4001234567", "time": true}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "time",
    ),
    (
        "POST GBK body",
        "POST",
        "/v1/route",
        b'{"called": "4001234567", "caller": "' + GBK + b'"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "not JSON",
    ),
    (
        "POST lone surrogate",
        "POST",
        "/v1/route",
        b'{"called": "\\ud800"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "not JSON",
    ),
    (
        "POST form GBK",
        "POST",
        "/v1/route",
        b"called=%B1%B1",
        "application/x-www-form-urlencoded",
        400,
        "INVALID_ARGUMENT",
        "UTF-8",
    ),
    ("event not JSON", "POST", "/v1/events", b"{", "application/json", 400, "INVALID_ARGUMENT", "not JSON"),
    (
        "event no call_id",
        "POST",
        "/v1/events",
        b'{"type": "ENDED"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "call_id",
    ),
    (
        "event bad type",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "HANGUP"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "type",
    ),
    (
        "event negative duration",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "ENDED", "duration_seconds": -5}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "duration_seconds",
    ),
    (
        "event text duration",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "ENDED", "duration_seconds": "ten"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "duration_seconds",
    ),
    (
        "event bool duration",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "ENDED", "duration_seconds": true}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "duration_seconds",
    ),
    (
        "event bad time",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "ENDED", "target": "13800000010", "time": "noon"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "time: ",
    ),
    (
        "event bad target",
        "POST",
        "/v1/events",
        b'{"call_id": "x", "type": "ANSWERED", "target": "abc"}',
        "application/json",
        400,
        "INVALID_ARGUMENT",
        "target",
    ),
    ("wrong method", "PUT", "/v1/route", b"{}", "application/json", 405, "INVALID_ARGUMENT", "GET or POST"),
    ("unknown path", "GET", "/v1/admin/reload", None, "", 404, "NOT_FOUND", "no such path"),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "ctype", "status", "code", "words"), HTTP, ids=[c[0] for c in HTTP]
)
def test_http(
    unchanged: World,
    case: str,
    method: str,
    path: str,
    body: bytes | None,
    ctype: str,
    status: int,
    code: str,
    words: str,
) -> None:
    got, answer = unchanged.http(method, path, body, ctype or "application/json")
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert words in answer["error"]["message"]


HTTP_RAW = [
    ("raw GBK in the query", b"GET /v1/route?called=" + GBK + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "UTF-8"),
    (
        "oversized body",
        b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
        413,
        "larger than",
    ),
    (
        "two Content-Lengths",
        b"POST /v1/route HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        400,
        "Content-Length",
    ),
    ("bare LF", b"GET /v1/route HTTP/1.1\nHost: x\r\n\r\n", 400, "bare CR"),
    ("HTTP/2.0", b"GET /v1/route HTTP/2.0\r\n\r\n", 505, "HTTP/1"),
    ("malformed request line", b"GET\r\n\r\n", 400, "request line"),
]


@pytest.mark.parametrize(("case", "payload", "status", "words"), HTTP_RAW, ids=[c[0] for c in HTTP_RAW])
def test_http_framing(unchanged: World, case: str, payload: bytes, status: int, words: str) -> None:
    got, answer = unchanged.http_raw(payload)
    assert got == status, answer
    assert words in answer["error"]["message"]


def test_http_duplicated_event_is_acknowledged_once(unchanged: World) -> None:
    record = unchanged.store.record("kept")
    assert record is not None
    body = json.dumps({"call_id": "kept", "type": "ENDED", "target": record.target, "time": AT}).encode()
    status, answer = unchanged.http("POST", "/v1/events", body)
    assert (status, answer["duplicate"], answer["recorded"]) == (200, True, False)


def test_http_duplicated_field_last_wins(world: World) -> None:
    """A field given twice in a query or a JSON body: the last one counts (docs/errors.md)."""
    status, answer = world.http(
        "GET",
        f"/v1/route?called=abc&called={CLINIC}&caller=13800138000&digits=1&time=2026-11-11T10:00:00%2B08:00",
    )
    assert (status, answer["tenant"]) == (200, "clinic")
    body = b'{"called": "abc", "called": "4001234567", "caller": "13800138000", "digits": "1"}'
    status, answer = world.http("POST", "/v1/route", body)
    assert (status, answer["tenant"]) == (200, "clinic")


# --- the Python API ------------------------------------------------------------------------------

ROUTE_API = [
    ("called letters", {"called": "abc", "caller": "1"}, InvalidNumberError, "called"),
    ("called empty", {"called": "", "caller": "1"}, InvalidArgumentError, "called"),
    ("called int", {"called": 4001234567, "caller": "1"}, TypeError, "called: expected a str, got int"),
    (
        "caller bytes",
        {"called": CLINIC, "caller": b"13800138000"},
        TypeError,
        "caller: expected a str, got bytes",
    ),
    ("caller None", {"called": CLINIC, "caller": None}, TypeError, "caller"),
    (
        "called surrogates",
        {"called": SURROGATES, "caller": "1"},
        InvalidArgumentError,
        "called: not valid text",
    ),
    (
        "caller surrogates",
        {"called": CLINIC, "caller": SURROGATES},
        InvalidArgumentError,
        "caller: not valid text",
    ),
    ("digits bad", {"called": CLINIC, "caller": "1", "digits": "1?"}, InvalidArgumentError, "digits"),
    ("digits int", {"called": CLINIC, "caller": "1", "digits": 1}, TypeError, "digits"),
    ("at garbage", {"called": CLINIC, "caller": "1", "at": "noon"}, InvalidArgumentError, "at"),
    (
        "at surrogates",
        {"called": CLINIC, "caller": "1", "at": SURROGATES},
        InvalidArgumentError,
        "at: not valid text",
    ),
    ("at NaN", {"called": CLINIC, "caller": "1", "at": math.nan}, InvalidArgumentError, "at: not a finite"),
    ("at far future", {"called": CLINIC, "caller": "1", "at": 1e30}, InvalidArgumentError, "at"),
    (
        "at a list",
        {"called": CLINIC, "caller": "1", "at": [1]},
        InvalidArgumentError,
        "at: expected a datetime",
    ),
    ("called not served", {"called": "4009999999", "caller": "1"}, NotFoundError, "4009999999"),
]


@pytest.fixture(scope="module")
def engine() -> routecore.Engine:
    return routecore.Engine.from_file(SPEC / "plan.yaml")


@pytest.mark.parametrize(("case", "kwargs", "error", "words"), ROUTE_API, ids=[c[0] for c in ROUTE_API])
def test_engine_route(
    engine: routecore.Engine, case: str, kwargs: dict[str, Any], error: type, words: str
) -> None:
    with pytest.raises(error) as info:
        engine.route(**kwargs)
    assert words in str(info.value)


REPORT_API = [
    (
        "type unknown",
        {"call_id": "c", "type": "HANGUP", "target": "13800000010"},
        InvalidArgumentError,
        "type",
    ),
    (
        "call_id empty",
        {"call_id": "", "type": "ENDED", "target": "13800000010"},
        InvalidArgumentError,
        "call_id",
    ),
    (
        "duration negative",
        {"call_id": "c", "type": "ENDED", "target": "1", "duration_seconds": -1},
        InvalidArgumentError,
        "duration_seconds",
    ),
    ("target garbage", {"call_id": "c", "type": "ANSWERED", "target": "abc"}, InvalidNumberError, "target"),
    (
        "at garbage",
        {"call_id": "c", "type": "ENDED", "target": "1", "at": "noon"},
        InvalidArgumentError,
        "at",
    ),
    ("type int", {"call_id": "c", "type": 2, "target": "1"}, TypeError, "type: expected a str"),
    (
        "call_id surrogates",
        {"call_id": SURROGATES, "type": "ENDED", "target": "1"},
        InvalidArgumentError,
        "call_id: not valid text",
    ),
]


@pytest.mark.parametrize(("case", "kwargs", "error", "words"), REPORT_API, ids=[c[0] for c in REPORT_API])
def test_engine_report(
    engine: routecore.Engine, case: str, kwargs: dict[str, Any], error: type, words: str
) -> None:
    with pytest.raises(error) as info:
        engine.report(**kwargs)
    assert words in str(info.value)


def test_normalize_and_kind() -> None:
    for fn in (routecore.normalize, routecore.kind):
        with pytest.raises(InvalidNumberError, match="number: not a number"):
            fn("hello")
        with pytest.raises(InvalidNumberError, match=r"number: not a number: .*not valid text"):
            fn(SURROGATES)
        with pytest.raises(TypeError, match="number: expected a str, got bytes"):
            fn(b"13800138000")


def test_engine_route_many_bad_items_in_place(engine: routecore.Engine) -> None:
    decisions = engine.route_many(
        [
            {"called": CLINIC, "caller": "13800138000", "digits": "1", "at": AT},
            {"called": "abc", "caller": "1"},
            {"called": CLINIC, "caller": "1", "at": "noon"},
        ]
    )
    errors = [d.error.code if d.error else "" for d in decisions]
    assert errors == ["", "INVALID_ARGUMENT", "INVALID_ARGUMENT"]
    assert "called" in decisions[1].error.message and "at" in decisions[2].error.message
    with pytest.raises(ValueError, match="column `caller` has 2 items, `called` has 1"):
        engine.route_many(called=[CLINIC], caller=["1", "2"])
    with pytest.raises(InvalidArgumentError, match="called"):
        engine.route_many([{"called": 1}])
    # Columns: the bad item is named by its column and index.
    gbk = "\u5ba2\u670d".encode("gbk").decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidArgumentError, match=r"caller\[1\]: not valid text"):
        engine.route_many(called=[CLINIC, CLINIC], caller=["13800138000", gbk])
    with pytest.raises(TypeError, match=r"call_id\[0\]: expected a str, got int"):
        engine.route_many(called=[CLINIC], caller=["13800138000"], call_id=[7])
    with pytest.raises(TypeError, match="called: expected a sequence of str, got one str"):
        engine.route_many(called=CLINIC, caller=["13800138000"])


def test_engine_update_list_refuses_before_changing(engine: routecore.Engine) -> None:
    before = engine.route(CLINIC, "13600000002", "1", AT).action
    with pytest.raises(InvalidNumberError, match=r"add\[1\]"):
        engine.update_list("harass", ["13600000002", "abc"])
    with pytest.raises(NotFoundError, match="nope"):
        engine.update_list("nope", ["13600000002"])
    with pytest.raises(InvalidArgumentError, match="virtual"):
        engine.update_list("virtual", ["13600000002"])
    with pytest.raises(InvalidArgumentError, match=r"remove\[0\]: not valid text"):
        engine.update_list("harass", ["13600000002"], [SURROGATES])
    with pytest.raises(TypeError, match=r"add\[1\]: expected a str, got int"):
        engine.update_list("harass", ["13600000002", 13600000003])
    # The same number added and removed, however each is written: refused whole.
    with pytest.raises(InvalidArgumentError, match="add/remove: '13600000002' is both added and removed"):
        engine.update_list("harass", ["13600000002"], ["+86 136 0000 0002"])
    assert engine.route(CLINIC, "13600000002", "1", AT).action == before == "FORWARD"


# --- plan files and list files -------------------------------------------------------------------


def _plan_with_list(tmp: Path, list_bytes: bytes) -> Path:
    (tmp / "lists").mkdir(exist_ok=True)
    (tmp / "lists" / "fraud.txt").write_bytes(list_bytes)
    plan = tmp / "plan.yaml"
    plan.write_text((SPEC / "plan.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return plan


PLAN_TEXT = [
    # (case, plan bytes, line of the first error, words)
    ("GBK comment", "version: 1\n# 北京\ntenants: {}\n".encode("gbk"), 2, "not UTF-8"),
    ("invalid UTF-8", b"version: 1\ntimezone: \xff\xfe\n", 2, "not UTF-8"),
    ("not YAML", b"version: 1\ntenants: [\n", 3, "not valid YAML"),
    ("truncated flow", b"version: 1\nrates: {standard: {mobile: 0.2", 2, "not valid YAML"),
    ("wrong type", b"version: 1\ntenants: 5\n", 2, "expected a mapping"),
    ("unquoted number", b"version: 1\ngateway: 127.0.0.1\ntimezone: 8\n", 3, "timezone"),
    ("duplicated key", b"version: 1\ntimezone: Asia/Shanghai\ntimezone: UTC\n", 3, "duplicate key"),
    (
        "impossible date",
        b"version: 1\ntenants:\n  t:\n    display:\n      certified_until: 2027-02-29\n    tags: 5\n",
        5,
        "'2027-02-29' is not a date: day is out of range for month",
    ),
    ("empty", b"", None, "empty document"),
    ("a list", b"- version: 1\n", 1, "mapping"),
]


@pytest.mark.parametrize(("case", "data", "line", "words"), PLAN_TEXT, ids=[c[0] for c in PLAN_TEXT])
def test_plan_text(case: str, data: bytes, line: int | None, words: str) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(data, path="bad.yaml")
    first = info.value.errors[0]  # type: ignore[attr-defined]
    assert (first.file, first.line) == ("bad.yaml", line), first
    assert words in first.message or words in first.path, first
    report = check_plan(data, path="bad.yaml")  # `routecore check` never raises
    assert report.errors[0] == first


LIST_FILES = [
    ("GBK line", "13700000000\n北京\n".encode("gbk"), "not UTF-8"),
    ("bad number", b"13700000000\nhello\n", "hello"),
    ("invalid UTF-8", b"13700000000\n\xff\n", "not UTF-8"),
    # the format is fine, but nothing follows the country code
    ("a country code alone", b"13700000000\n0086\n", "nothing after the country code 86"),
]


@pytest.mark.parametrize(("case", "data", "words"), LIST_FILES, ids=[c[0] for c in LIST_FILES])
def test_list_file(tmp_path: Path, case: str, data: bytes, words: str) -> None:
    plan = _plan_with_list(tmp_path, data)
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    issues = [i for i in info.value.errors if "fraud.txt" in i.file or "fraud" in i.path]  # type: ignore[attr-defined]
    assert issues, info.value
    assert any(words in i.message for i in issues), issues
    # Every problem of a list file is placed on its line (the second, here) of that file.
    assert all((i.file.endswith("fraud.txt"), i.line) == (True, 2) for i in issues), issues


def test_list_file_with_a_gbk_comment_loads_as_numberlist_reads_it(tmp_path: Path) -> None:
    # A comment in GBK spoils nothing, as for NumberList.from_file and `routecore pool FILE`.
    data = "13700000000 # 张三\n13900000000\n".encode("gbk")
    loaded = load_plan(_plan_with_list(tmp_path, data))
    assert routecore.NumberList.from_file(tmp_path / "lists" / "fraud.txt").problems == []
    engine = routecore.Engine.from_loaded(loaded)
    for caller in ("13700000000", "13900000000"):  # both blocked by the list (reason 诈骗)
        d = engine.route(CLINIC, caller, "1", AT)
        assert (d.action, d.reject.reason if d.reject else None) == ("REJECT", "诈骗"), caller


def test_list_file_missing(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text((SPEC / "plan.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PlanError, match=r"fraud\.txt"):
        load_plan(plan)


# --- the CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def _cli_cases(tmp: Path) -> list[tuple[str, list[str], int, str]]:
    gbk_plan = tmp / "gbk.yaml"
    gbk_plan.write_bytes("version: 1\n# 北京\n".encode("gbk"))
    broken = tmp / "broken.yaml"
    broken.write_bytes((SPEC / "plan.yaml").read_bytes()[:700])
    not_db = tmp / "not.db"
    not_db.write_bytes(b"this is not a database" * 100)
    empty_db = tmp / "empty.db"
    SqliteRecordStore(empty_db).close()
    pool = tmp / "pool.txt"
    pool.write_bytes(b"4008888888\n" + GBK + b"\n")
    plan = str(SPEC / "plan.yaml")
    return [
        ("route called letters", ["route", "abc", "1"], 1, "CALLED"),
        ("route bad time", ["route", CLINIC, "1", "--at", "noon", "--plan", plan], 1, "at"),
        ("route bad digits", ["route", CLINIC, "1", "--digits", "x", "--plan", plan], 1, "digits"),
        ("route not served", ["route", "4009999999", "1", "--plan", plan], 1, "4009999999"),
        ("route missing plan", ["route", CLINIC, "1", "--plan", str(tmp / "nope.yaml")], 1, "cannot read"),
        ("route GBK plan", ["route", CLINIC, "1", "--plan", str(gbk_plan)], 1, "not UTF-8"),
        ("check missing", ["check", str(tmp / "nope.yaml")], 1, "cannot read"),
        ("check GBK", ["check", str(gbk_plan)], 1, "not UTF-8"),
        ("check truncated", ["check", str(broken)], 1, "broken.yaml"),
        ("check a directory", ["check", str(tmp)], 1, "cannot read"),
        ("classify garbage", ["classify", "abc"], 1, "abc"),
        ("pool missing file", ["pool", str(tmp / "nope.txt")], 1, "cannot read"),
        ("pool bad pattern", ["pool", str(pool), "--pattern", "_40[0"], 1, "pattern"),
        ("pool bad class", ["pool", str(pool), "--class", "gold"], 1, "gold"),
        ("pool limit not a number", ["pool", str(pool), "--limit", "many"], 2, "Usage"),
        ("stats missing db", ["stats", "--cdr", str(tmp / "nope.db")], 1, "no such record database"),
        ("stats not a db", ["stats", "--cdr", str(not_db)], 1, "not.db"),
        ("stats bad month", ["stats", "--cdr", str(empty_db), "--month", "2026-13"], 1, "month"),
        ("simulate bad day", ["simulate", "--day", "someday"], 1, "someday"),
        ("serve bad plan", ["serve", "--plan", str(gbk_plan)], 1, "not UTF-8"),
        ("serve bad http address", ["serve", "--http", "nowhere"], 2, "host:port"),
        ("serve http port too large", ["serve", "--http", "127.0.0.1:99999"], 2, "port 99999 is not"),
        ("serve grpc port too large", ["serve", "--grpc", "127.0.0.1:65536"], 2, "--grpc '127.0.0.1:65536'"),
        ("serve grpc no port", ["serve", "--grpc", "nonsense", "--http", "off"], 2, "host:port"),
        ("serve grpc no host", ["serve", "--grpc", ":50051", "--http", "off"], 2, "host:port"),
        ("serve grpc negative port", ["serve", "--grpc", "127.0.0.1:-5"], 2, "host:port"),
        (
            "serve bad grpc address",
            ["serve", "--grpc", "nowhere.invalid:1", "--http", "off"],
            1,
            "--grpc nowhere",
        ),
        ("bench no calls", ["bench", "--calls", "0"], 2, "--calls"),
        ("pool negative limit", ["pool", "--limit", "-1", "-"], 2, "--limit"),
        ("bench unbounded calls", ["bench", "--calls", "99999999"], 2, "--calls"),
    ]


def test_cli(tmp_path: Path) -> None:
    """Each bad invocation exits 1 (2 for a usage error) with its message, never a traceback."""
    for case, args, code, words in _cli_cases(tmp_path):
        result = runner.invoke(app, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (case, result.exception)
        assert result.exit_code == code, (case, result.output)
        assert words in result.output, (case, result.output)
        assert "Traceback" not in result.output, case


def test_cli_pool_skips_what_is_not_text(tmp_path: Path) -> None:
    """The other lines are still filtered; the line that is not text is named, and exits 1."""
    pool = tmp_path / "pool.txt"
    pool.write_bytes(b"4008888888\n" + GBK + b"\n4001234567\n")
    result = runner.invoke(app, ["pool", str(pool), "--class", "top"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout.split() == ["4008888888"]
    assert f"ListError: {pool}:2: not UTF-8 text" in result.stderr


def test_errors_are_in_the_hierarchy() -> None:
    for error in (InvalidArgumentError, InvalidNumberError, NotFoundError, PlanError):
        assert issubclass(error, RoutecoreError)
