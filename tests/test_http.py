"""The HTTP/JSON server (routecore.http) over real sockets on loopback.

The server runs on its own event loop in a background thread; the tests are plain blocking
clients: `http.client` for well-formed requests, raw sockets for framing, garbage and timeouts.
The acceptance vectors run unchanged over GET and POST (and the multi-step ones, with their call
events, over POST /v1/events).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
import routecore
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.vectors import check_expect
from routecore.http import HttpLimits, HttpServer, start_http
from routecore.metrics import Metrics
from routecore.records import SqliteRecordStore

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
CASES = [
    json.loads(line) for line in (SPEC / "vectors.jsonl").read_text(encoding="utf-8").splitlines() if line
]
SINGLE = [c for c in CASES if "steps" not in c]
STEPPED = [c for c in CASES if "steps" in c]
STATUS_OF = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404}
AT = "2026-11-11T10:00:00+08:00"
ROUTE_OK = {"called": "4001234567", "caller": "13800138000", "digits": "1", "time": AT}


def new_loop() -> asyncio.AbstractEventLoop:
    """asyncio's loop, or uvloop's with ROUTECORE_TEST_LOOP=uvloop (the server must work on both)."""
    if os.environ.get("ROUTECORE_TEST_LOOP") == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


class Holder:
    """What a serving process keeps: the current engine (reloads and tests swap it)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine


class Served:
    """A server on its own loop thread, driven from the (blocking) test."""

    def __init__(self, engine_ref: Any, records: Any = None, **kw: Any) -> None:
        self.loop = new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.metrics = kw.pop("metrics", None) or Metrics()
        self.server: HttpServer = self.call(
            start_http(engine_ref, "127.0.0.1", 0, records, metrics=self.metrics, **kw)
        )
        self.port = self.server.port

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if not self.server.draining:
            self.call(self.server.stop(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    # --- clients ---

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            hdrs = (
                {"Content-Type": "application/json", **(headers or {})} if data is not None else headers or {}
            )
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, data = self.request(method, path, body)
        return status, json.loads(data)

    def raw(self, payload: bytes | list[bytes], *, timeout: float = 5.0, pause: float = 0.0) -> bytes:
        """Sends the bytes (pieces with `pause` between), then reads until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            for piece in [payload] if isinstance(payload, bytes) else payload:
                s.sendall(piece)
                if pause:
                    time.sleep(pause)
            return read_all(s)


def read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            return out + b"<timeout>"
        except ConnectionResetError:
            return out + b"<reset>"
        if not chunk:
            return out
        out += chunk


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Splits raw bytes into (status, headers, body) responses (every one has Content-Length)."""
    out = []
    while data.startswith(b"HTTP/1.1 "):
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def get_path(fields: dict[str, Any]) -> str:
    return "/v1/route?" + urlencode({k: v for k, v in fields.items() if v is not None}, quote_via=quote)


@pytest.fixture(scope="module")
def plan_loaded() -> Any:
    from routecore.plan import load_plan

    return load_plan(SPEC / "plan.yaml")


@pytest.fixture(scope="module")
def holder(plan_loaded: Any) -> Holder:
    return Holder(routecore.Engine.from_loaded(plan_loaded))


@pytest.fixture(scope="module")
def served(holder: Holder) -> Iterator[Served]:
    s = Served(lambda: holder.engine)
    yield s
    s.close()


def fresh(holder: Holder, plan_loaded: Any) -> routecore.Engine:
    holder.engine = routecore.Engine.from_loaded(plan_loaded)
    return holder.engine


def answer(status: int, body: Any) -> Any:
    """What `check_expect` takes: the decision, or the error's status name (checked with the HTTP status)."""
    if status == 200:
        return body
    code = body["error"]["code"]
    assert STATUS_OF.get(code) == status, f"HTTP {status} for {code}"
    return code


# --- the acceptance vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_vector_get(case: dict[str, Any], served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    problems = check_expect(answer(*served.json("GET", get_path(case["request"]))), case["expect"])
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("case", SINGLE, ids=[c["name"] for c in SINGLE])
def test_vector_post(case: dict[str, Any], served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    problems = check_expect(answer(*served.json("POST", "/v1/route", case["request"])), case["expect"])
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("case", STEPPED, ids=[c["name"] for c in STEPPED])
def test_vector_steps_with_events(
    case: dict[str, Any], served: Served, holder: Holder, plan_loaded: Any
) -> None:
    fresh(holder, plan_loaded)
    for i, step in enumerate(case["steps"]):
        if "event" in step:
            status, ack = served.json("POST", "/v1/events", step["event"])
            assert status == 200 and ack["recorded"] is False, ack
            continue
        problems = check_expect(answer(*served.json("POST", "/v1/route", step["request"])), step["expect"])
        assert not problems, f"step {i}: " + "; ".join(problems)


def test_vectors_are_there() -> None:
    assert len(SINGLE) >= 40 and STEPPED


# --- the decision's JSON and `uri` --------------------------------------------------------------


def test_uri_is_the_first_target_through_the_gateway(
    served: Served, holder: Holder, plan_loaded: Any
) -> None:
    kinds = set()
    for case in SINGLE:
        direct = fresh(holder, plan_loaded)
        req = case["request"]
        try:
            d = routecore.Engine.from_loaded(plan_loaded).route(
                req["called"], req["caller"], req.get("digits", ""), req.get("time"), req.get("call_id", "")
            )
        except routecore.RoutecoreError:
            continue
        status, body = served.json("GET", get_path(req))
        assert status == 200
        if not d.targets:
            assert body["uri"] == "" and body["targets"] == []
            kinds.add("none")
        elif d.targets[0].number:
            assert body["uri"] == f"sip:{d.targets[0].number}@{direct.gateway}"
            kinds.add("number")
        else:
            assert body["uri"] == d.targets[0].uri and body["uri"].startswith("sip:")
            kinds.add("uri")
    assert direct.gateway == "127.0.0.1:5070"
    assert kinds == {"none", "number", "uri"}, "the vectors should cover every kind of first target"


PLAN_TWO_TARGETS = """
version: 1
timezone: Asia/Shanghai
tenants:
  t:
    groups:
      desk:
        strategy: sequential
        targets:
          - {number: "13800000010"}
          - {uri: "sip:desk@127.0.0.1:5080"}
    numbers:
      "4001234567":
        flow: [{forward: desk}]
"""


class StandIn:
    """An engine of another make: the server encodes its decisions in Python (`encode_decision`)."""

    def __init__(self, engine: routecore.Engine) -> None:
        self.inner = engine
        self.gateway = engine.gateway
        self.version = engine.version

    def route(self, *args: Any) -> Any:
        return self.inner.route(*args)


@pytest.mark.parametrize("gateway", ["127.0.0.1:5070", ""])
def test_uris_list_every_target_in_order(gateway: str) -> None:
    """`uris` is what a switch walks for sequential failover; without a gateway a number target
    has no SIP URI (""), in the Rust encoder and the Python one alike."""
    text = (f"gateway: {gateway}\n" if gateway else "") + PLAN_TWO_TARGETS
    engine = routecore.Engine.from_text(text)
    number = f"sip:13800000010@{gateway}" if gateway else ""
    for ref in (engine, StandIn(engine)):
        s = Served(ref)
        try:
            status, body = s.json("GET", get_path({"called": "4001234567", "caller": "13800138000"}))
        finally:
            s.close()
        assert status == 200, body
        assert body["uris"] == [number, "sip:desk@127.0.0.1:5080"]
        assert body["uri"] == number


def test_decision_has_the_proto_field_names(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    status, body = served.json("POST", "/v1/route", {**ROUTE_OK, "call_id": "c-9", "explain": True})
    assert status == 200
    assert set(body) >= {
        *("call_id", "action", "targets", "parallel", "menu", "prompt", "voicemail_box", "reject"),
        *("display", "caller", "called_class", "tenant", "rule", "plan_version", "trace", "uri"),
    }
    assert body["call_id"] == "c-9" and body["action"] == "FORWARD"
    assert set(body["targets"][0]) == {"number", "uri", "ring_seconds", "rate_per_minute"}
    assert body["caller"]["province"] == "北京" and body["called_class"]["class"] == "special"
    assert body["trace"], "explain=true fills the trace"
    assert body["plan_version"] == holder.engine.version


def test_get_and_post_forms_agree(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    _, by_get = served.json("GET", get_path({**ROUTE_OK, "explain": "true"}))
    fresh(holder, plan_loaded)
    _, by_json = served.json("POST", "/v1/route", {**ROUTE_OK, "explain": True})
    fresh(holder, plan_loaded)
    status, _, raw = served.request(
        "POST", "/v1/route", urlencode({**ROUTE_OK, "explain": "1"}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 200
    assert by_get == by_json == json.loads(raw)
    assert by_get["trace"]
    # `curl -d '{...}'` labels JSON as a form: a body opening with `{` is read as JSON.
    fresh(holder, plan_loaded)
    status, _, raw = served.request(
        "POST", "/v1/route", json.dumps({**ROUTE_OK, "explain": True}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 200 and json.loads(raw) == by_get


def test_plus_in_a_query_is_literal(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    status, body = served.json("GET", "/v1/route?called=4001234567&caller=+8613800138000&time=" + quote(AT))
    assert status == 200 and body["caller"]["normalized"] == "13800138000"
    status, body = served.json("GET", "/v1/route?called=4001234567&caller=%2B86%20138%200013%208000")
    assert status == 200 and body["caller"]["normalized"] == "13800138000"
    # An international caller and an offset written unescaped, as switches write them.
    status, body = served.json(
        "GET", "/v1/route?called=4001234567&caller=+442079460000&time=2026-11-11T10:00:00+08:00"
    )
    assert status == 200 and body["caller"]["kind"] == "international", body


def test_time_absent_is_now(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    status, body = served.json("GET", "/v1/route?called=4001234567&caller=13800138000")
    assert status == 200 and body["tenant"] == "clinic"


def test_swapping_engines_under_load(served: Served, holder: Holder, plan_loaded: Any) -> None:
    acceptance, demo = routecore.Engine.from_loaded(plan_loaded), routecore.Engine.demo()
    tenant_of = {acceptance.version: "clinic", demo.version: "hospital"}  # who serves 4001234567
    holder.engine = acceptance
    seen: list[tuple[int, str, str]] = []

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
        try:
            for i in range(150):
                path = get_path({"called": "4001234567", "caller": f"1390000{k:02d}{i:02d}", "time": AT})
                conn.request("GET", path)
                r = conn.getresponse()
                body = json.loads(r.read())
                seen.append((r.status, body.get("plan_version", ""), body.get("tenant", "")))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    swaps = 0
    while any(t.is_alive() for t in threads):
        holder.engine = demo if holder.engine is acceptance else acceptance
        swaps += 1
        time.sleep(0.002)
    for t in threads:
        t.join()
    assert len(seen) == 600 and swaps > 5
    assert all(status == 200 and tenant_of[version] == tenant for status, version, tenant in seen), seen[:5]
    assert {v for _, v, _ in seen} == set(tenant_of), "both plans answered"


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"called": "40012x34567", "caller": "13800138000"}, 400, "INVALID_ARGUMENT", "called"),
        ({"called": "4001234567", "caller": "abc"}, 400, "INVALID_ARGUMENT", "caller"),
        (
            {"called": "4001234567", "caller": "13800138000", "digits": "1a"},
            400,
            "INVALID_ARGUMENT",
            "digits",
        ),
        (
            {"called": "4001234567", "caller": "13800138000", "time": "yesterday"},
            400,
            "INVALID_ARGUMENT",
            "time: ",
        ),
        ({"called": 4001234567, "caller": "13800138000"}, 400, "INVALID_ARGUMENT", "called"),
        ({"called": "4001234567", "caller": "1", "explain": "maybe"}, 400, "INVALID_ARGUMENT", "explain"),
        ({"called": "4001234567", "caller": "1", "time": True}, 400, "INVALID_ARGUMENT", "time"),
        ({"called": "4009999999", "caller": "13800138000"}, 404, "NOT_FOUND", "called"),
        ({"caller": "13800138000"}, 400, "INVALID_ARGUMENT", "called"),
    ],
)
def test_route_errors(served: Served, body: dict[str, Any], status: int, code: str, field: str) -> None:
    got_status, got = served.json("POST", "/v1/route", body)
    assert (got_status, got["error"]["code"]) == (status, code), got
    assert field in got["error"]["message"]


def test_call_id_is_at_most_256_characters_as_for_events(
    served: Served, holder: Holder, plan_loaded: Any
) -> None:
    """A switch must not route a call it can never report: the route requests refuse the call_id
    /v1/events refuses (with a record store or without), with the same message."""
    fresh(holder, plan_loaded)
    message = "call_id: longer than 256 characters"
    for call_id in ("x" * 256, "四" * 256):
        status, body = served.json("GET", get_path({**ROUTE_OK, "call_id": call_id}))
        assert status == 200 and body["call_id"] == call_id
    for call_id in ("x" * 257, "四" * 257, "y" * 10_000):  # (a GET head holds 16 KiB)
        for status, body in (
            served.json("GET", get_path({**ROUTE_OK, "call_id": call_id})),
            served.json("POST", "/v1/route", {**ROUTE_OK, "call_id": call_id}),
            served.json("POST", "/v1/events", {"call_id": call_id, "type": "ENDED"}),
        ):
            assert (status, body) == (400, {"error": {"code": "INVALID_ARGUMENT", "message": message}})
    # Not printable text: refused alike (a record and `routecore stats` would show it).
    for call_id, at in (("call\u202e1", "U+202E at position 4"), ("c1\n", "U+000A at position 2")):
        message = f"call_id: {at} is a control or invisible character; a call id is printable text"
        for status, body in (
            served.json("GET", get_path({**ROUTE_OK, "call_id": call_id})),
            served.json("POST", "/v1/route", {**ROUTE_OK, "call_id": call_id}),
            served.json("POST", "/v1/events", {"call_id": call_id, "type": "ENDED"}),
        ):
            assert (status, body) == (400, {"error": {"code": "INVALID_ARGUMENT", "message": message}})


AT_EPOCH = 1794362400  # AT, 2026-11-11T10:00:00+08:00, in seconds since the epoch


def test_time_as_a_json_number_is_epoch_seconds_and_as_text_iso_8601(
    holder: Holder, plan_loaded: Any, tmp_path: Path
) -> None:
    """docs/errors.md: `time` written as text (a query, a form, a JSON string, gRPC's string) is
    ISO 8601; only a JSON body can write it as a number, which is seconds since the epoch (what
    the Kamailio example sends: `$TS`), on /v1/route and /v1/events alike."""
    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)
    try:
        fresh(holder, plan_loaded)
        _, by_iso = s.json("POST", "/v1/route", {**ROUTE_OK, "time": AT})
        for number in (AT_EPOCH, AT_EPOCH + 0.25):
            fresh(holder, plan_loaded)
            status, by_number = s.json("POST", "/v1/route", {**ROUTE_OK, "time": number})
            assert status == 200 and by_number == by_iso
        event = {"call_id": "epoch", "type": "ENDED", "target": "13800000010", "time": AT_EPOCH}
        assert s.json("POST", "/v1/events", event)[0] == 200
        assert store.record("epoch").ended_at == dt.datetime.fromisoformat(AT)
        # The same digits as text are no ISO 8601 time: refused wherever the field is text.
        digits = str(AT_EPOCH)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        answers = [
            s.request("GET", get_path({**ROUTE_OK, "time": digits})),
            s.request("POST", "/v1/route", urlencode({**ROUTE_OK, "time": digits}).encode(), form),
            s.request("POST", "/v1/route", json.dumps({**ROUTE_OK, "time": digits}).encode()),
            s.request("POST", "/v1/events", json.dumps({**event, "time": digits}).encode()),
            s.request("POST", "/v1/events", urlencode({**event, "time": digits}).encode(), form),
        ]
        for status, _, raw in answers:
            assert status == 400 and json.loads(raw)["error"]["message"].startswith("time: "), raw
    finally:
        s.close()
        store.close()


def test_an_event_time_is_stored_as_the_engine_reads_it(
    holder: Holder, plan_loaded: Any, tmp_path: Path
) -> None:
    """The record store takes an event's time from the engine's own parser (`Engine.instant`):
    a time without offset is in the plan's zone (Asia/Shanghai), and a form Python's
    `fromisoformat` would take but the engine refuses is refused, with nothing stored."""
    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)
    try:
        for call_id, given in [
            ("local", "2026-11-11T10:00:00"),
            ("spaced", "2026-11-11 10:00"),
            ("z", "2026-11-11T02:00:00z"),
        ]:
            event = {"call_id": call_id, "type": "ENDED", "target": "13800000010", "time": given}
            assert s.json("POST", "/v1/events", event)[0] == 200
            assert store.record(call_id).ended_at == dt.datetime.fromisoformat(AT)
        for given in ["20261111T100000", "2026-W46-3T10:00", "2026-11-11T10:00:00+08"]:
            event = {"call_id": "odd", "type": "ENDED", "target": "13800000010", "time": given}
            status, body = s.json("POST", "/v1/events", event)
            assert (status, body["error"]["message"][:7]) == (400, 'time: "'), body
        assert store.record("odd") is None
    finally:
        s.close()
        store.close()


@pytest.mark.parametrize("time_", ["bad", "2026-13-45T99:00:00", "1e20", "", "%20"])
def test_a_bad_time_is_named_time_as_over_grpc(served: Served, holder: Holder, time_: str) -> None:
    """The field is `time` (`at` is only the Python argument's name); the message is gRPC's."""
    from routecore import _routecore as rc
    from routecore.v1 import routing_pb2 as pb

    status, got = served.json("GET", f"/v1/route?called=4006666666&caller=15907550000&time={time_}")
    assert (status, got["error"]["code"]) == (400, "INVALID_ARGUMENT")
    assert got["error"]["message"].startswith("time: "), got
    if time_ != "1e20":  # over gRPC `time` is a string: no epoch seconds
        text = unquote(time_)
        request = pb.RouteRequest(called="4006666666", caller="15907550000", time=text)
        with pytest.raises(routecore.InvalidArgumentError) as over_grpc:
            rc.route_wire(holder.engine, request.SerializeToString())
        assert got["error"]["message"] == str(over_grpc.value)


def test_a_field_the_request_does_not_have_is_refused_by_name(served: Served) -> None:
    """A misspelt field is not left out silently (a `calller` would route the call as
    anonymous): it is named, with the field it most looks like, in a query, a form or JSON."""
    fields = "fields: called, caller, digits, time, call_id, explain"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    route = {"called": "4001234567", "calller": "13800138000"}
    for status, _, raw in (
        served.request("GET", "/v1/route?called=4001234567&calller=13800138000"),
        served.request("POST", "/v1/route", json.dumps(route).encode()),
        served.request("POST", "/v1/route", urlencode(route).encode(), form),
    ):
        message = f"'calller': not a field of a route request (did you mean 'caller'? {fields})"
        assert (status, json.loads(raw)) == (400, {"error": {"code": "INVALID_ARGUMENT", "message": message}})
    status, body = served.json("POST", "/v1/events", {"call_id": "c1", "type": "ENDED", "duration": 5})
    assert (status, body["error"]["message"]) == (
        400,
        "'duration': not a field of a call event (did you mean 'duration_seconds'? "
        "fields: call_id, type, target, time, duration_seconds, disposition)",
    )
    status, body = served.json("POST", "/v1/route", {"called": "4001234567", "zzz": 1})
    assert (status, body["error"]["message"]) == (400, f"'zzz': not a field of a route request ({fields})")


def test_an_empty_time_is_refused_as_over_grpc(served: Served) -> None:
    """gRPC's `optional string time` given empty is refused, not read as left out: so is the
    field given empty over HTTP, in a query, a form or JSON, on /v1/route and /v1/events."""
    message = "time: empty; leave it out for the current time"
    event = {"call_id": "e1", "type": "ENDED", "target": "13800000010", "time": ""}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [
        served.request("GET", get_path({**ROUTE_OK, "time": ""})),
        served.request("POST", "/v1/route", json.dumps({**ROUTE_OK, "time": ""}).encode()),
        served.request("POST", "/v1/route", urlencode({**ROUTE_OK, "time": " "}).encode(), form),
        served.request("POST", "/v1/events", json.dumps(event).encode()),
        served.request("POST", "/v1/events", urlencode(event).encode(), form),
    ]
    for status, _, raw in answers:
        assert (status, json.loads(raw)) == (400, {"error": {"code": "INVALID_ARGUMENT", "message": message}})
    # Left out, it is the server's clock.
    assert served.json("GET", get_path({k: v for k, v in ROUTE_OK.items() if k != "time"}))[0] == 200


@pytest.mark.parametrize(
    "body",
    [b"", b"[1, 2]", b"{", b'{"called": "\xff\xfe"}', '{"called": "四零零"}'.encode("gbk"), b"null"],
    ids=["empty", "array", "truncated", "invalid-utf8", "gbk", "null"],
)
def test_bad_json_is_400_and_the_connection_survives(served: Served, body: bytes) -> None:
    req = b"POST /v1/route HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    ok = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    got = responses(served.raw(req + ok))
    assert [r[0] for r in got] == [400, 200]
    assert json.loads(got[0][2])["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("query", "status"),
    [(b"called=%FF%FE&caller=1", 400), (b"called=\xb0\xd9&caller=1", 400), (b"called=%E5%9B%9B", 400)],
    ids=["percent-invalid-utf8", "raw-gbk", "chinese"],
)
def test_bad_query_bytes(served: Served, query: bytes, status: int) -> None:
    got = responses(served.raw(b"GET /v1/route?%s HTTP/1.1\r\nConnection: close\r\n\r\n" % query))
    assert got[0][0] == status and json.loads(got[0][2])["error"]["code"] == "INVALID_ARGUMENT"


def test_no_plan_is_503(holder: Holder) -> None:
    s = Served(lambda: None)
    try:
        status, body = s.json("GET", get_path(ROUTE_OK))
        assert (status, body["error"]["code"]) == (503, "UNAVAILABLE")
        status, body = s.json("GET", "/healthz")
        assert status == 503 and body["status"] == "NOT_SERVING"
        status, body = s.json(
            "POST", "/v1/events", {"call_id": "c", "type": "ENDED", "target": "13800000010"}
        )
        assert (status, body["error"]["code"]) == (503, "UNAVAILABLE")
    finally:
        s.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("PUT", "/v1/route", 405, "GET, POST"),
        ("DELETE", "/v1/events", 405, "POST"),
        ("GET", "/v1/events", 405, "POST"),
        ("POST", "/metrics", 405, "GET, HEAD"),
        ("BREW", "/healthz", 405, "GET, HEAD"),
        ("GET", "/v2/route", 404, None),
        ("GET", "/", 404, None),
    ],
)
def test_methods_and_paths(served: Served, method: str, path: str, status: int, allow: str | None) -> None:
    got, headers, body = served.request(method, path, b"{}" if method != "GET" else None)
    assert got == status
    assert headers.get("allow") == allow
    assert json.loads(body)["error"]["code"] in ("INVALID_ARGUMENT", "NOT_FOUND")


class Broken:
    """An engine whose core fails in a way no request should: the server answers 500 and goes on."""

    gateway = "gw"
    version = "v"

    failure = RuntimeError("core exploded")

    def route(self, *args: Any) -> Any:
        raise self.failure


class Logged(logging.Handler):
    """Keeps what a logger emits (the server logs from its own thread)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Logged:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)


def test_an_internal_failure_is_one_500() -> None:
    """A bug costs one 500 INTERNAL: the traceback goes to the server's log, the client gets no
    exception text (it could hold anything the server knows)."""
    s = Served(Broken())
    try:
        ok = b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"
        with Logged("routecore.http") as logged:
            got = responses(s.raw(f"GET {get_path(ROUTE_OK)} HTTP/1.1\r\n\r\n".encode() + ok))
        assert [r[0] for r in got] == [500, 200]
        error = json.loads(got[0][2])["error"]
        assert error["code"] == "INTERNAL" and "exploded" not in error["message"], error
        assert [r.exc_info[1] for r in logged.records if r.exc_info] == [Broken.failure]
    finally:
        s.close()


def split_head(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """The first response's status and headers, and every byte after its head."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, rest


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/v1/events", "/nope"])
def test_head_is_get_without_the_body(served: Served, holder: Holder, plan_loaded: Any, path: str) -> None:
    """HEAD answers what GET would (status, headers, the GET body's Content-Length) with no body:
    the next response on the connection follows the head at once."""
    fresh(holder, plan_loaded)
    get = responses(served.raw(f"GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n".encode()))[0]
    fresh(holder, plan_loaded)
    after = b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"
    status, headers, rest = split_head(served.raw(f"HEAD {path} HTTP/1.1\r\n\r\n".encode() + after))
    assert status == get[0], (status, headers)
    assert headers["content-type"] == get[1]["content-type"] and headers.get("allow") == get[1].get("allow")
    if "/metrics" not in path:  # (the counters change between the two scrapes)
        assert int(headers["content-length"]) == len(get[2]) > 0
    assert [r[0] for r in responses(rest)] == [200], rest[:200]


def test_head_of_a_route_decides_nothing(served: Served, holder: Holder, plan_loaded: Any) -> None:
    """HEAD must be safe (RFC 9110); a routing GET decides a call, so HEAD is not taken there."""
    fresh(holder, plan_loaded)
    head = get_path({**ROUTE_OK, "call_id": "head-1"})
    raw = served.raw(f"HEAD {head} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
    status, headers, rest = split_head(raw)
    assert (status, headers.get("allow"), rest) == (405, "GET, POST", b""), raw[:300]
    assert holder.engine.recall("head-1") is None  # no call was decided
    status, _ = served.json("GET", get_path({**ROUTE_OK, "call_id": "get-1"}))
    assert status == 200 and holder.engine.recall("get-1") is not None  # as a GET's is


def test_healthz(served: Served, holder: Holder) -> None:
    status, body = served.json("GET", "/healthz")
    assert status == 200 and body == {"status": "SERVING", "plan_version": holder.engine.version}


# --- events -------------------------------------------------------------------------------------


def test_events_take_and_free_slots(served: Served, holder: Holder, plan_loaded: Any) -> None:
    # shop: least busy, the first target takes at most one call at a time (acceptance plan).
    fresh(holder, plan_loaded)
    req = {
        "called": "4008888888",
        "caller": "13800138000",
        "time": "2026-11-20T10:00:00+08:00",
        "call_id": "e-1",
    }
    _, first = served.json("POST", "/v1/route", req)
    busy = first["targets"][0]["number"]
    ev = {"call_id": "e-1", "type": "answered", "target": busy, "time": "2026-11-20T10:00:01+08:00"}
    status, ack = served.json("POST", "/v1/events", ev)
    assert status == 200 and ack == {
        "call_id": "e-1",
        "type": "ANSWERED",
        "recorded": False,
        "duplicate": False,
    }
    _, second = served.json("POST", "/v1/route", {**req, "caller": "13800138001", "call_id": "e-2",
                                                   "time": "2026-11-20T10:00:10+08:00"})  # fmt: skip
    assert busy not in [t["number"] for t in second["targets"]]
    ended = {**ev, "type": "ENDED", "time": "2026-11-20T10:00:20+08:00", "duration_seconds": 19,
             "disposition": "answered"}  # fmt: skip
    assert served.json("POST", "/v1/events", ended)[0] == 200
    _, third = served.json("POST", "/v1/route", {**req, "caller": "13800138002", "call_id": "e-3",
                                                  "time": "2026-11-20T10:00:30+08:00"})  # fmt: skip
    assert busy in [t["number"] for t in third["targets"]]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "ANSWERED", "target": "13800000010"}, "call_id"),
        ({"call_id": "c", "type": "RINGING", "target": "13800000010"}, "type"),
        (
            {"call_id": "c", "type": "ENDED", "target": "13800000010", "duration_seconds": -1},
            "duration_seconds",
        ),
        (
            {"call_id": "c", "type": "ENDED", "target": "13800000010", "duration_seconds": "5s"},
            "duration_seconds",
        ),
        ({"call_id": "c", "type": "ENDED", "target": "1380000abc"}, "target"),
        ({"call_id": "c", "type": "ENDED", "target": "13800000010", "time": "soon"}, "time: "),
        ({"call_id": 7, "type": "ENDED", "target": "13800000010"}, "call_id"),
    ],
)
def test_event_errors(served: Served, event: dict[str, Any], field: str) -> None:
    status, body = served.json("POST", "/v1/events", event)
    assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT"), body
    assert field in body["error"]["message"]


@pytest.mark.parametrize(
    "duration",
    ["²", "①", "١٢", "٣", "１２", " 12", "12 ", "+12", "1_000", "0x10", "1e3", "9" * 5000],
    ids=[
        "superscript", "circled", "arabic-indic", "arabic-indic-1", "fullwidth", "lead-space",
        "trail-space", "plus", "underscore", "hex", "exponent", "5000-digits",
    ],
)  # fmt: skip
@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_event_duration_is_ascii_digits_only(served: Served, duration: str, form: bool) -> None:
    """`duration_seconds` as text is 0-9 only (as every number elsewhere); anything else is a 400
    naming the field, never a 500 from `int()` and never a count read from other scripts' digits."""
    event = {"call_id": "he7", "type": "ENDED", "duration_seconds": duration}
    if form:
        status, _, raw = served.request(
            "POST",
            "/v1/events",
            urlencode(event).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        body = json.loads(raw)
    else:
        status, body = served.json("POST", "/v1/events", event)
    assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT"), body
    assert body["error"]["message"].startswith("duration_seconds: "), body
    assert len(body["error"]["message"]) < 200, "the message does not echo a huge value whole"


def test_event_duration_as_text_digits(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    for duration in ("0", "12", "0012", "4294967295"):
        event = {"call_id": f"d{duration}", "type": "ENDED", "duration_seconds": duration}
        status, body = served.json("POST", "/v1/events", event)
        assert status == 200, body
    status, body = served.json(
        "POST", "/v1/events", {"call_id": "d", "type": "ENDED", "duration_seconds": "4294967296"}
    )
    assert status == 400 and "out of range" in body["error"]["message"], body


CONTROL_DISPOSITIONS = ["busy\x1b[31m", "no\nanswer", "\x00", "busy\u202e", "a\u2028b", "\x85", "\x7f"]


@pytest.mark.parametrize("disposition", CONTROL_DISPOSITIONS)
def test_control_characters_in_a_disposition_are_refused(
    holder: Holder, plan_loaded: Any, tmp_path: Path, disposition: str
) -> None:
    """A disposition is printable text: one with a control (or invisible format) character is
    400 naming the field, and nothing is stored (it would reach `routecore stats` as is)."""
    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)
    try:
        event = {"call_id": "cc", "type": "ENDED", "target": "13800000010", "time": AT}
        status, body = s.json("POST", "/v1/events", {**event, "disposition": disposition})
        assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT"), body
        assert body["error"]["message"].startswith("disposition: "), body
        assert store.record("cc") is None
        status, body = s.json("POST", "/v1/events", {**event, "disposition": " No Answer "})
        assert status == 200 and store.record("cc").disposition == "no answer"
    finally:
        s.close()
        store.close()
    bare = Served(lambda: holder.engine)  # no record store: refused all the same
    try:
        status, body = bare.json("POST", "/v1/events", {**event, "disposition": disposition})
        assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT"), body
    finally:
        bare.close()


ODD_VALUES = [
    *(
        b'"%s"' % v.encode()
        for v in ("²", "①", "١٢", "１２", "\\u0000", "\\ud800", " ", "+99:00", "9" * 5000)
    ),
    *(b"18446744073709551616", b"-9223372036854775809", b"1e308", b"-1e308", b"1e-320", b"0.5", b"-1"),
    *(b"true", b"null", b"[]", b"{}", b'"2026-11-11T10:00:00+99:00"', b'"9999-12-31T23:59:59-23:59"'),
]


def test_no_client_input_is_a_500(holder: Holder, plan_loaded: Any, tmp_path: Path) -> None:
    """Odd values in every field of a route and an event, with a record store behind: each is
    answered (200 or 4xx), never 500."""
    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)
    try:
        route = {"called": b'"4001234567"', "caller": b'"13800138000"'}
        event = {"call_id": b'"odd"', "type": b'"ENDED"', "target": b'"13800000010"'}
        route_fields = ("called", "caller", "digits", "time", "call_id", "explain")
        event_fields = ("call_id", "type", "target", "time", "duration_seconds", "disposition")
        for path, base, fields in (("/v1/route", route, route_fields), ("/v1/events", event, event_fields)):
            for field in fields:
                for value in ODD_VALUES:
                    doc = {**base, field: value}
                    body = b"{" + b",".join(b'"%s":%s' % (k.encode(), v) for k, v in doc.items()) + b"}"
                    status, _, raw = s.request("POST", path, body)
                    assert status < 500, (path, field, value[:40], raw)
    finally:
        s.close()
        store.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # The engine's words: the store reads an event's time with the engine's parser.
        (
            {"time": "9999-12-31T23:59:59-12:00", "duration_seconds": 5},
            'time: "9999-12-31T23:59:59-12:00" is not between the years 1 and 9999',
        ),
        (
            {"time": "0001-01-01T00:00:00+08:00"},
            'time: "0001-01-01T00:00:00+08:00" is not between the years 1 and 9999',
        ),
        ({"time": AT, "duration_seconds": 99999999999}, "duration_seconds: 99999999999 is out of range"),
        (
            {"time": "0001-01-01T01:00:00+00:00", "duration_seconds": 7200},
            "duration_seconds: 7200 is out of range",
        ),
    ],
)
def test_event_out_of_range_is_400_and_the_store_goes_on(
    holder: Holder, plan_loaded: Any, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    """Fields a record cannot hold are the switch's mistake (400, the field named), refused
    before the record store's transaction, and the next event, anyone's, is stored."""
    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)
    try:
        far = {"call_id": "far", "type": "ENDED", "target": "13800000010", **fields}
        status, body = s.json("POST", "/v1/events", far)
        assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT"), body
        assert body["error"]["message"].startswith(message), body
        ok = {"call_id": "ok", "type": "ENDED", "target": "13800000010", "time": AT}
        assert s.json("POST", "/v1/events", ok) == (
            200,
            {"call_id": "ok", "type": "ENDED", "recorded": True, "duplicate": False},
        )
    finally:
        s.close()
        store.close()
    assert store.record("far") is None and store.record("ok") is not None


class FakeRecords:
    """A record store double: events wait on `gate` until the test lets them become 'durable'."""

    def __init__(self, loop: asyncio.AbstractEventLoop, error: BaseException | None = None) -> None:
        self.loop = loop
        self.gate = asyncio.Event()
        self.events: list[dict[str, Any]] = []
        self.remembered: list[tuple[str, str]] = []
        self.error = error
        self.waiting = 0

    @property
    def pending(self) -> int:
        return self.waiting

    def remember_decision(self, decision: Any, called: str = "") -> None:
        self.remembered.append((decision.call_id, called))

    async def append_async(self, event: dict[str, Any]) -> Any:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        if self.error is not None:
            raise self.error
        duplicate = any((e["call_id"], e["type"]) == (event["call_id"], event["type"]) for e in self.events)
        if not duplicate:
            self.events.append(event)
        return type("Ack", (), {"duplicate": duplicate})()


def plain_event(fields: dict[str, Any]) -> dict[str, Any]:
    return dict(fields)


@pytest.fixture
def stored(holder: Holder, plan_loaded: Any) -> Iterator[tuple[Served, FakeRecords]]:
    fresh(holder, plan_loaded)
    box: list[FakeRecords] = []
    s = Served.__new__(Served)
    s.loop = new_loop()
    s.thread = threading.Thread(target=s.loop.run_forever, daemon=True)
    s.thread.start()

    async def make() -> None:
        box.append(FakeRecords(asyncio.get_running_loop()))

    s.call(make())
    s.metrics = Metrics()
    s.server = s.call(
        start_http(lambda: holder.engine, "127.0.0.1", 0, box[0], metrics=s.metrics, make_event=plain_event)
    )
    s.port = s.server.port
    yield s, box[0]
    s.loop.call_soon_threadsafe(box[0].gate.set)
    s.close()


def test_event_is_answered_only_once_durable_and_pipelined_requests_keep_their_order(
    stored: tuple[Served, FakeRecords],
) -> None:
    s, records = stored
    ev = json.dumps({"call_id": "d-1", "type": "ANSWERED", "target": "13800000010", "time": AT}).encode()
    event = b"POST /v1/events HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(ev), ev)
    health = b"GET /healthz HTTP/1.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(event + health)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing, not even the health answer queued behind the event
        assert records.waiting == 1 and records.events == []
        s.loop.call_soon_threadsafe(records.gate.set)
        sock.settimeout(5)
        data = b""
        while len(responses(data)) < 2:
            data += sock.recv(65536)
    (st1, _, b1), (st2, _, b2) = responses(data)
    assert st1 == 200 and json.loads(b1) == {
        "call_id": "d-1",
        "type": "ANSWERED",
        "recorded": True,
        "duplicate": False,
    }
    assert st2 == 200 and json.loads(b2)["status"] == "SERVING"
    # The event's time as the engine read it (an aware datetime: equal to AT's instant).
    assert records.events == [
        {"call_id": "d-1", "type": "ANSWERED", "target": "13800000010", "time": dt.datetime.fromisoformat(AT),
         "duration_seconds": 0, "disposition": ""}
    ]  # fmt: skip
    status, again = s.json("POST", "/v1/events", json.loads(ev))
    assert status == 200 and len(records.events) == 1
    assert (again["recorded"], again["duplicate"]) == (False, True), "nothing new was recorded"


def test_a_duplicate_event_is_acknowledged_as_over_grpc(
    holder: Holder, plan_loaded: Any, tmp_path: Path
) -> None:
    """The proto's CallEventAck: `recorded` is a call record written now, `duplicate` the same
    event already recorded (nothing new stored). Both transports of one process, one store."""
    import grpc
    from routecore.server import build_server
    from routecore.v1 import routing_pb2 as pb
    from routecore.v1 import routing_pb2_grpc as pb_grpc

    fresh(holder, plan_loaded)
    store = SqliteRecordStore(tmp_path / "records.db")
    s = Served(lambda: holder.engine, store)

    async def start_grpc() -> tuple[Any, int]:
        server, _ = build_server(holder.engine, records=store)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = s.call(start_grpc())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        router = pb_grpc.RouterStub(channel)
        for call_id, first_over_http in (("dup-h", True), ("dup-g", False)):
            event = {"call_id": call_id, "type": "ENDED", "target": "13800000010", "time": AT}
            acks = []
            for over_http in (first_over_http, not first_over_http) * 2:
                if over_http:
                    status, ack = s.json("POST", "/v1/events", event)
                    assert status == 200, ack
                    acks.append((ack["recorded"], ack["duplicate"]))
                else:
                    got = router.ReportCall(pb.CallEvent(**{**event, "type": pb.CallEvent.ENDED}), timeout=10)
                    acks.append((got.recorded, got.duplicate))
            assert acks == [(True, False)] + [(False, True)] * 3, (call_id, acks)
    finally:
        channel.close()
        s.call(server.stop(0))
        s.close()
        store.close()


def test_decisions_with_a_call_id_are_remembered_for_the_records(stored: tuple[Served, FakeRecords]) -> None:
    s, records = stored
    s.json("POST", "/v1/route", {**ROUTE_OK, "call_id": "k-1"})
    s.json("POST", "/v1/route", ROUTE_OK)  # no call id: nothing to remember
    assert records.remembered == [("k-1", ROUTE_OK["called"])]


class StoreOverloadedError(Exception):
    """Named like the record store's, which the server maps by class name."""


def test_record_store_errors_map_to_503(stored: tuple[Served, FakeRecords]) -> None:
    s, records = stored
    records.error = StoreOverloadedError("queue full")
    s.loop.call_soon_threadsafe(records.gate.set)
    status, body = s.json("POST", "/v1/events", {"call_id": "o-1", "type": "ENDED", "target": "13800000010"})
    assert (status, body["error"]["code"]) == (503, "RESOURCE_EXHAUSTED")
    records.error = OSError("disk gone")
    status, body = s.json("POST", "/v1/events", {"call_id": "o-2", "type": "ENDED", "target": "13800000010"})
    assert (status, body["error"]["code"]) == (500, "INTERNAL")


def test_stop_finishes_an_event_being_stored(stored: tuple[Served, FakeRecords]) -> None:
    s, records = stored
    ev = json.dumps({"call_id": "s-1", "type": "ANSWERED", "target": "13800000010"}).encode()
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(ev), ev))
        while records.waiting == 0:
            time.sleep(0.01)
        stopping = asyncio.run_coroutine_threadsafe(s.server.stop(5.0), s.loop)
        time.sleep(0.1)
        assert not stopping.done()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
        s.loop.call_soon_threadsafe(records.gate.set)
        got = responses(read_all(sock))
    stopping.result(5)
    assert [r[0] for r in got] == [200] and got[0][1]["connection"] == "close"
    assert json.loads(got[0][2])["recorded"] is True


# --- framing, limits and garbage ----------------------------------------------------------------


def test_pipelined_requests_answer_in_order(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    reqs = [
        f"GET {get_path({**ROUTE_OK, 'call_id': f'p-{i}'})} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        for i in range(20)
    ]
    got = responses(served.raw(b"".join(reqs) + b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert [r[0] for r in got] == [200] * 20 + [404]
    assert [json.loads(r[2])["call_id"] for r in got[:20]] == [f"p-{i}" for i in range(20)]


def test_byte_by_byte(served: Served) -> None:
    req = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    got = responses(served.raw([req[i : i + 1] for i in range(len(req))], pause=0.001))
    assert [r[0] for r in got] == [200]


def test_a_body_in_pieces(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    body = json.dumps(ROUTE_OK).encode()
    req = b"POST /v1/route HTTP/1.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    cut = req.index(b"\r\n\r\n") + 4
    got = responses(served.raw([req[:cut], *(body[i : i + 3] for i in range(0, len(body), 3))], pause=0.001))
    assert [r[0] for r in got] == [200] and json.loads(got[0][2])["action"] == "FORWARD"


def test_keep_alive_and_http10(served: Served) -> None:
    got = responses(served.raw(b"GET /healthz HTTP/1.0\r\n\r\n"))
    assert [r[0] for r in got] == [200] and got[0][1]["connection"] == "close"
    got = responses(
        served.raw(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n")
    )
    assert [r[0] for r in got] == [200, 200] and got[0][1]["connection"] == "keep-alive"


def test_expect_100_continue(served: Served, holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    body = json.dumps(ROUTE_OK).encode()
    head = (
        b"POST /v1/route HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(head % len(body))
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        got = responses(read_all(s))
    assert got[0][0] == 200 and json.loads(got[0][2])["action"] == "FORWARD"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /v1/route HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
        (b"POST /v1/route HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}", 400),
        (b"POST /v1/route HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
        (b"POST /v1/route HTTP/1.1\r\nContent-Length: -2\r\n\r\n{}", 400),
        (b"POST /v1/route HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
        (b"POST /v1/route HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", 413),
        (b"GET /healthz HTTP/1.1\nHost: t\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHo st: t\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n folded\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"GET /healthz\r\n\r\n", 400),
        (b"GET  /healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (b"GET http://x/healthz HTTP/1.1\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
    ],
    ids=[
        "chunked", "chunked+length", "two-lengths", "negative-length", "huge-length", "body-too-large",
        "bare-lf", "space-in-name", "obs-fold", "no-colon", "http09", "double-space", "http2",
        "absolute-form", "tls-hello", "nul",
    ],
)  # fmt: skip
def test_bad_framing_is_answered_and_closed(served: Served, raw: bytes, status: int) -> None:
    data = served.raw(raw + b"GET /healthz HTTP/1.1\r\n\r\n")
    got = responses(data)
    assert [r[0] for r in got] == [status], data  # and nothing after it: the connection closed
    assert got[0][1]["connection"] == "close"
    assert json.loads(got[0][2])["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /healthz HTTP/1.1\nHost: x\n\n",
        b"GET /healthz HTTP/1.1\n",
        b"GET /healthz HTTP/1.1\rHost: x\r\r",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\n",
        b"GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.1\nHost: x\n\n",
    ],
    ids=["lf-only-head", "lf-only-line", "cr-only-head", "crlf-then-lf", "after-a-good-request"],
)
def test_bare_line_ends_are_400_at_once(served: Served, raw: bytes) -> None:
    """A head with bare LF (or CR) line ends never gets its CRLFCRLF: it is refused as soon as
    the bare one arrives (docs/errors.md: 400, connection closed), not after the request timeout."""
    t0 = time.monotonic()
    data = served.raw(raw, timeout=3)
    got = responses(data)
    assert [r[0] for r in got][-1:] == [400], data
    assert got[-1][1]["connection"] == "close" and "bare CR" in json.loads(got[-1][2])["error"]["message"]
    assert time.monotonic() - t0 < 1.5


def test_a_cr_at_the_end_of_a_piece_waits_for_its_lf(served: Served) -> None:
    pieces = [b"GET /healthz HTTP/1.1\r", b"\nConnection: close\r", b"\n\r", b"\n"]
    got = responses(served.raw(pieces, pause=0.05))
    assert [r[0] for r in got] == [200]


@pytest.mark.parametrize("path", [b"/v1/route", b"/v1/events"])
def test_post_without_length_is_411_and_closes(served: Served, path: bytes) -> None:
    """docs/errors.md: 411, connection closed. Whatever follows on the socket is never read as a
    request: a proxy that framed the POST differently must not get a smuggled one answered."""
    smuggled = b"GET /v1/route?called=4006666666&caller=13800138000&call_id=SMUGGLED HTTP/1.1\r\n\r\n"
    data = served.raw(b"POST %s HTTP/1.1\r\nHost: x\r\n\r\n" % path + smuggled)
    got = responses(data)
    assert [r[0] for r in got] == [411], data
    assert got[0][1]["connection"] == "close"
    assert b"SMUGGLED" not in data


def test_gbk_in_an_unused_header_is_harmless(served: Served) -> None:
    got = responses(
        served.raw("GET /healthz HTTP/1.1\r\nUser-Agent: 交换机\r\nConnection: close\r\n\r\n".encode("gbk"))
    )
    assert [r[0] for r in got] == [200]


def test_huge_headers_are_431(served: Served) -> None:
    big = b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n"
    got = responses(served.raw(big))
    assert [r[0] for r in got] == [431]
    many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n"
    assert [r[0] for r in responses(served.raw(many))] == [431]
    endless = b"GET /healthz HTTP/1.1\r\n" + b"X: " + b"b" * 40000  # no end of head ever
    assert [r[0] for r in responses(served.raw(endless))] == [431]


def test_truncated_request_then_close_leaves_the_server_well(served: Served) -> None:
    for cut in (
        b"GE",
        b"GET /v1/route?called=400",
        b"POST /v1/route HTTP/1.1\r\nContent-Length: 50\r\n\r\n{",
    ):
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            s.sendall(cut)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""
    assert served.json("GET", "/healthz")[0] == 200


def test_slowloris_and_idle_connections_time_out(holder: Holder) -> None:
    s = Served(lambda: holder.engine, limits=HttpLimits(request_timeout=0.4, idle_timeout=0.6))
    try:
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            for piece in (b"GET /hea", b"lthz HTT", b"P/1.1\r\nX: 1"):  # dribbles, never finishes
                sock.sendall(piece)
                time.sleep(0.15)
            data = read_all(sock)
        assert [r[0] for r in responses(data)] == [408]
        assert time.monotonic() - t0 < 2.0
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
            data = read_all(sock)  # answered, then idle: closed by the server
        assert [r[0] for r in responses(data)] == [200]
        assert 0.5 < time.monotonic() - t0 < 2.5
        assert s.server.connections == 0
    finally:
        s.close()


def test_connection_limit(holder: Holder) -> None:
    s = Served(lambda: holder.engine, limits=HttpLimits(max_connections=2))
    try:
        a = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        b = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        try:
            while s.server.connections < 2:
                time.sleep(0.01)
            data = s.raw(b"GET /healthz HTTP/1.1\r\n\r\n")
            got = responses(data)
            assert got[0][0] == 503 and json.loads(got[0][2])["error"]["code"] == "RESOURCE_EXHAUSTED"
        finally:
            a.close()
            b.close()
        while s.server.connections:
            time.sleep(0.01)
        assert s.json("GET", "/healthz")[0] == 200
    finally:
        s.close()


def test_a_client_that_never_reads_is_paused_not_buffered(served: Served) -> None:
    req = b"GET /metrics HTTP/1.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                sent += s.send(req * 64)
            except BlockingIOError:
                break
        assert time.monotonic() < deadline, "the server kept reading from a peer that does not read"
        t0 = time.monotonic()
        assert served.json("GET", "/healthz")[0] == 200  # the others are still served meanwhile
        assert time.monotonic() - t0 < 1.0
    assert sent < 50_000_000
    assert served.json("GET", "/healthz")[0] == 200


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"GET ", b"POST ", b"/v1/route?", b"called=4001234567&", b" HTTP/1.1", b"\r\n",
                             b"Content-Length: 5\r\n", b"\r\n\r\n", b"%ff", b'{"called":"4001234567"}']),
        ),
        max_size=12,
    )
)  # fmt: skip
def test_garbage_never_crashes_or_hangs(served: Served, pieces: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(b"".join(pieces))
        s.shutdown(socket.SHUT_WR)
        data = read_all(s)
    assert b"<timeout>" not in data
    for status, _, _ in responses(data):
        assert status in (200, 400, 404, 405, 408, 411, 413, 431, 505)
    assert b" 500 " not in data


# --- metrics ------------------------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")) == labels:
            return float(m.group(2))
    return 0.0


def test_metrics(holder: Holder, plan_loaded: Any) -> None:
    fresh(holder, plan_loaded)
    s = Served(lambda: holder.engine)
    try:
        for _ in range(3):
            assert s.json("GET", get_path(ROUTE_OK))[0] == 200
        assert s.json("GET", get_path({**ROUTE_OK, "called": "4009999999"}))[0] == 404
        assert s.json("GET", get_path({**ROUTE_OK, "caller": "xyz"}))[0] == 400
        blocked = {"called": "4001234567", "caller": "17012345678", "time": AT}  # a virtual-operator segment
        _, d = s.json("POST", "/v1/route", blocked)
        s.json("POST", "/v1/events", {"call_id": "m", "type": "ENDED", "target": "13800000010"})
        status, headers, body = s.request("GET", "/metrics")
        text = body.decode()
    finally:
        s.close()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    labels = {"transport": "http", "action": "FORWARD", "tenant": "clinic", "reason": ""}
    assert metric(text, "routecore_decisions_total", **labels) == 3
    if d["action"] == "REJECT":
        reason = {
            "transport": "http",
            "action": "REJECT",
            "tenant": d["tenant"],
            "reason": d["reject"]["reason"],
        }
        assert metric(text, "routecore_decisions_total", **reason) == 1
    assert metric(text, "routecore_route_errors_total", transport="http", code="NOT_FOUND") == 1
    assert metric(text, "routecore_route_errors_total", transport="http", code="INVALID_ARGUMENT") == 1
    assert metric(text, "routecore_decision_seconds_count", transport="http") == 6
    assert metric(text, "routecore_decision_seconds_bucket", transport="http", le="1.0") == 6
    assert metric(text, "routecore_call_events_total", transport="http", type="ENDED", outcome="applied") == 1
    assert metric(text, "routecore_http_responses_total", status="200") == 5
    assert (
        metric(text, "routecore_plan_info", version=holder.engine.version, source=str(SPEC / "plan.yaml"))
        == 1
    )
    assert metric(text, "routecore_plan_numbers") == len(holder.engine.numbers())
    for name, size in plan_loaded.list_sizes.items():
        assert metric(text, "routecore_list_size", list=name) == size
    assert "routecore_records_pending 0.0" in text
    assert metric(text, "routecore_http_connections") == 1  # the scrape itself


def test_a_saturated_loop_sheds_routes_and_events_at_once(holder: Holder) -> None:
    """A request that waited in the socket while the loop was stalled (the server saturated) is
    answered 503 RESOURCE_EXHAUSTED before any work; once the loop keeps up, routes are served."""
    served = Served(holder, limits=HttpLimits(max_lag=0.1))
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
            body = json.dumps(ROUTE_OK).encode()
            request = (
                b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert served.json("GET", "/healthz")[0] == 200  # the connection below is accepted first
            stalled = threading.Event()
            served.loop.call_soon_threadsafe(lambda: (stalled.set(), time.sleep(0.4)))
            stalled.wait(5)
            s.sendall(request)  # arrives while the loop is stalled
            s.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data or len(responses(data)) < 1:
                data += s.recv(65536)
            ((status, _, payload),) = responses(data)
            assert status == 503, payload
            shed = json.loads(payload)["error"]
            assert shed["code"] == "RESOURCE_EXHAUSTED" and "ms behind" in shed["message"]
            # The same connection, the loop caught up: served.
            time.sleep(0.05)
            s.sendall(request)
            data = b""
            while len(responses(data)) < 1:
                data += s.recv(65536)
            assert responses(data)[0][0] == 200
        assert served.json("GET", "/healthz")[0] == 200
    finally:
        served.close()
