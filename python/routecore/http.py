"""HTTP/JSON for switches without a gRPC client (Kamailio, OpenSIPS).

`GET|POST /v1/route`, `POST /v1/events`, `GET /metrics`, `GET /healthz` (and `HEAD` wherever
`GET` is taken but on `/v1/route`, whose GET decides a call: GET's answer without its body),
served by a small HTTP/1.1 server on `asyncio.Protocol`: keep-alive, pipelining (answers in
request order), `Expect: 100-continue`, bounded header and body sizes, a connection limit, idle
and request-completion timeouts (slowloris), back-pressure on clients that do not read. No web
framework: a routing request costs one buffer scan, a few splits and the Rust decision, and a
framework's request objects and middleware would cost more than the decision itself.

Framing is strict where a lenient reading would let a peer smuggle a request past a proxy: a
bare CR or LF, a malformed header line, two different `Content-Length`s, any
`Transfer-Encoding` or a POST without `Content-Length` close the connection with 400/411
(`Connection: close`; nothing after it on the socket is read as a request). A request that is
well framed but wrong (bad JSON, a field of the wrong type, a number that is not a number) gets
its 4xx and the connection stays open.

In a GET query `+` is kept literally (switches send E.164 callers unescaped, `caller=+86…`);
write a space as `%20`. In an `application/x-www-form-urlencoded` POST body `+` is a space, as
that format says.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from routecore._routecore import Engine as _CoreEngine
from routecore._routecore import route_json
from routecore.cli import decision_dict
from routecore.engine import switch_time_field
from routecore.exceptions import InvalidArgumentError
from routecore.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from routecore.metrics import METRICS, Metrics
from routecore.records import check_event_text

__all__ = [
    "HttpLimits",
    "HttpServer",
    "RouteCounts",
    "encode_decision",
    "first_uri",
    "start_http",
    "target_uri",
]

log = logging.getLogger("routecore.http")

# --- limits ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Bounds on what one peer (or all of them) can make the server hold.

    Attributes:
        max_header_bytes: request line and headers; more → 431 and the connection closes.
        max_headers: header lines per request; more → 431.
        max_body_bytes: `Content-Length` above it → 413 and the connection closes.
        max_connections: beyond it a new connection gets 503 and is closed.
        idle_timeout: seconds a keep-alive connection may sit with no request under way.
        request_timeout: seconds from a request's first byte until it is complete (slowloris);
            then 408 and the connection closes.
        max_pending_events: call events waiting for the record store, over all connections;
            beyond it → 503 RESOURCE_EXHAUSTED.
        max_lag: seconds the event loop may fall behind (a heartbeat due every 10 ms came
            that late) before routes and events are answered 503 RESOURCE_EXHAUSTED at once: the
            server is saturated, a request has already waited that long in the socket, and the
            switch does better to ask another node than to wait longer; 0 turns it off.
    """

    max_header_bytes: int = 16 * 1024
    max_headers: int = 64
    max_body_bytes: int = 64 * 1024
    max_connections: int = 1024
    idle_timeout: float = 75.0
    request_timeout: float = 10.0
    max_pending_events: int = 10_000
    max_lag: float = 0.25


# How often the event loop's heartbeat is due (see `HttpLimits.max_lag`).
HEARTBEAT = 0.01


# --- encoding (the one place to swap for the Rust encoder) --------------------------------------


def target_uri(target: dict[str, Any], gateway: str) -> str:
    """The SIP URI a switch relays a target to: its own URI, or `sip:NUMBER@GATEWAY`; "" for a
    number target when the plan has no gateway (there is no host to send it to)."""
    if target["uri"]:
        return str(target["uri"])
    return f"sip:{target['number']}@{gateway}" if gateway else ""


def first_uri(targets: list[dict[str, Any]], gateway: str) -> str:
    """The SIP URI of the first target (`target_uri`); "" if there is none."""
    return target_uri(targets[0], gateway) if targets else ""


def encode_decision(decision: Any, gateway: str) -> bytes:
    """A decision object as the HTTP answer: the proto's field names plus the top-level `uri`
    (the first target's SIP URI) and `uris` (every target's, in order, for sequential failover).

    The server itself decides and encodes in one Rust call (`route_json`); this is for a
    decision already made in Python.
    """
    out = decision_dict(decision)
    out["uris"] = [target_uri(t, gateway) for t in out["targets"]]
    out["uri"] = out["uris"][0] if out["uris"] else ""
    return orjson.dumps(out)


def _error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


# An exception's HTTP status and status name, by the name of its class or of a base class, so the
# record store's errors map without importing it.
_ERRORS: dict[str, tuple[int, str]] = {
    "InvalidNumberError": (400, "INVALID_ARGUMENT"),
    "InvalidArgumentError": (400, "INVALID_ARGUMENT"),
    "ValueError": (400, "INVALID_ARGUMENT"),
    "TypeError": (400, "INVALID_ARGUMENT"),
    "NotFoundError": (404, "NOT_FOUND"),
    "NotReadyError": (503, "UNAVAILABLE"),
    "StoreOverloadedError": (503, "RESOURCE_EXHAUSTED"),
    "StoreUnavailableError": (503, "UNAVAILABLE"),
    "TimeoutError": (503, "UNAVAILABLE"),
}


def _status_of(err: BaseException) -> tuple[int, str]:
    for cls in type(err).__mro__:
        hit = _ERRORS.get(cls.__name__)
        if hit is not None:
            return hit
    return 500, "INTERNAL"


def _internal(err: BaseException) -> bytes:
    """The answer to a bug (an exception no request should cause): its traceback goes to the
    server's log, the client learns only that it was one, never the exception's text."""
    log.error("internal error: %r", err, exc_info=err)
    return _error_body("INTERNAL", f"internal error ({type(err).__name__}); see the server log")


def _refusal(err: BaseException) -> tuple[int, str, bytes]:
    """Status, status name and body for an exception raised on a request's behalf: the ones
    `_ERRORS` maps carry their message (they name the field); anything else is `_internal`."""
    status, code = _status_of(err)
    if status == 500:
        return status, code, _internal(err)
    return status, code, _error_body(code, str(err))


class _HttpError(Exception):
    """A request answered with an error; `close` when the connection's framing can't be trusted."""

    def __init__(self, status: int, code: str, message: str, *, close: bool = False, allow: bytes = b""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.close = close
        self.allow = allow


# --- request fields ----------------------------------------------------------------------------

RouteArgs = tuple[str, str, str, Any, str, bool]  # called, caller, digits, time, call_id, explain
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _parse_query(q: bytes, *, plus_is_space: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    if not q:
        return out
    try:
        text = q.decode()
        if plus_is_space:
            text = text.replace("+", " ")
        for pair in text.split("&"):
            k, _, v = pair.partition("=")
            if "%" in v:
                v = unquote_to_bytes(v).decode()
            if "%" in k:
                k = unquote_to_bytes(k).decode()
            out[k] = v
    except UnicodeDecodeError:
        raise _HttpError(400, "INVALID_ARGUMENT", "the query is not UTF-8 (percent-encode UTF-8)") from None
    out.pop("", None)
    return out


def _flag(value: str, name: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _HttpError(400, "INVALID_ARGUMENT", f"{name}: expected true or false, got {value!r}")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise _HttpError(400, "INVALID_ARGUMENT", f"the body is not JSON (UTF-8): {e}") from None
    if not isinstance(doc, dict):
        raise _HttpError(400, "INVALID_ARGUMENT", "the body must be a JSON object")
    return doc


def _body_fields(body: bytes, ctype: bytes) -> tuple[dict[str, Any], bool]:
    """The fields of a POST body, and whether they came as a form (all strings)."""
    # curl -d sends JSON labelled as a form: a body that opens with `{` is read as JSON.
    if ctype.startswith(b"application/x-www-form-urlencoded") and not body.lstrip().startswith(b"{"):
        return _parse_query(body, plus_is_space=True), True
    return _json_object(body), False


def _text(doc: dict[str, Any], name: str) -> str:
    v = doc.get(name)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _HttpError(400, "INVALID_ARGUMENT", f"{name}: expected a string, got {type(v).__name__}")
    return v


def _time(doc: dict[str, Any]) -> Any:
    """The request's or event's time; None when left out (the server's clock). An empty one is
    passed on and refused where gRPC's present-but-empty `optional string time` is."""
    v = doc.get("time")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise _HttpError(400, "INVALID_ARGUMENT", "time: expected an ISO 8601 string or epoch seconds")
    return v


ROUTE_FIELDS = ("called", "caller", "digits", "time", "call_id", "explain")
EVENT_FIELDS = ("call_id", "type", "target", "time", "duration_seconds", "disposition")


def _known_fields(doc: dict[str, Any], fields: tuple[str, ...], what: str) -> None:
    """Refuses a field the request does not have: a misspelt `calller` would otherwise leave the
    caller out, and the call be routed as anonymous."""
    for name in doc:
        if name not in fields:
            near = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise _HttpError(
                400,
                "INVALID_ARGUMENT",
                f"{_shown(name)}: not a field of {what} ({hint}fields: {', '.join(fields)})",
            )


def _route_args(doc: dict[str, Any], form: bool) -> RouteArgs:
    _known_fields(doc, ROUTE_FIELDS, "a route request")
    explain = doc.get("explain")
    if form or isinstance(explain, str):
        explain = _flag(explain or "", "explain")
    elif explain is None:
        explain = False
    elif not isinstance(explain, bool):
        raise _HttpError(400, "INVALID_ARGUMENT", "explain: expected true or false")
    return (
        _text(doc, "called"),
        _text(doc, "caller"),
        _text(doc, "digits"),
        _time(doc),
        # The engine refuses a call id its events could not report (`decide::check_call_id`).
        _text(doc, "call_id"),
        explain,
    )


# The proto's `uint32 duration_seconds`: an event means the same over HTTP as over gRPC, and a
# larger count would overflow the engine's and the store's integers.
MAX_DURATION_SECONDS = 2**32 - 1


def _shown(value: Any) -> str:
    """A client's value in a message: its repr, cut short (a 64 KiB body is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _duration(doc: dict[str, Any], form: bool) -> int:
    value = doc.get("duration_seconds")
    if value is None or value == "":
        return 0
    if form or isinstance(value, str):
        # ASCII 0-9 only, as every number routecore reads: `str.isdigit()` also holds for `²`,
        # `①` (which `int()` refuses) and other scripts' digits (which it reads: `١٢` is 12).
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise _HttpError(
                400, "INVALID_ARGUMENT", f"duration_seconds: {_shown(value)} is not a count >= 0"
            )
        digits = value.lstrip("0") or "0"
        # More digits than the largest count are out of range; int() never sees 4,300 of them.
        too_long = len(digits) > len(str(MAX_DURATION_SECONDS))
        duration = MAX_DURATION_SECONDS + 1 if too_long else int(digits)
        shown = value if len(value) <= 20 else value[:20] + "…"
    elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _HttpError(400, "INVALID_ARGUMENT", f"duration_seconds: {_shown(value)} is not a count >= 0")
    else:
        duration, shown = value, str(value)
    if duration > MAX_DURATION_SECONDS:
        raise _HttpError(
            400,
            "INVALID_ARGUMENT",
            f"duration_seconds: {shown} is out of range (at most {MAX_DURATION_SECONDS}, as over gRPC)",
        )
    return duration


def _event_fields(doc: dict[str, Any], form: bool) -> dict[str, Any]:
    _known_fields(doc, EVENT_FIELDS, "a call event")
    duration = _duration(doc, form)
    call_id, type_ = _text(doc, "call_id"), _text(doc, "type").upper()
    if not call_id:
        raise _HttpError(400, "INVALID_ARGUMENT", "call_id: an event needs the call's id")
    if type_ not in ("ANSWERED", "ENDED"):
        raise _HttpError(400, "INVALID_ARGUMENT", f"type: {type_!r} is not an event type (ANSWERED, ENDED)")
    target, disposition = _text(doc, "target"), _text(doc, "disposition")
    try:
        check_event_text(call_id, target, disposition)
    except InvalidArgumentError as e:
        raise _HttpError(400, "INVALID_ARGUMENT", str(e)) from None
    return {
        "call_id": call_id,
        "type": type_,
        "target": target,
        "time": _time(doc),
        "duration_seconds": duration,
        "disposition": disposition,
    }


_CALL_EVENT: Any = None


def default_make_event(fields: dict[str, Any]) -> Any:
    """The record store's `CallEvent` for the event's fields (a plain dict if there is no store)."""
    global _CALL_EVENT
    if _CALL_EVENT is None:
        try:
            from routecore.records import CallEvent  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            _CALL_EVENT = dict
        else:
            _CALL_EVENT = CallEvent.create
    if _CALL_EVENT is dict:
        return dict(fields)
    return _CALL_EVENT(
        fields["call_id"],
        fields["type"],
        fields["target"],
        fields["time"],
        fields["duration_seconds"],
        fields["disposition"],
    )


# --- the application (shared by every connection) -----------------------------------------------

EngineRef = Any  # an Engine, a callable returning the current one (or None), or a holder with `.engine`


def _resolver(engine_ref: EngineRef) -> Callable[[], Any]:
    if engine_ref is None:
        return lambda: None
    if hasattr(engine_ref, "route") and hasattr(engine_ref, "gateway"):
        return lambda: engine_ref
    if callable(engine_ref):
        return engine_ref  # type: ignore[no-any-return]
    if hasattr(engine_ref, "engine"):
        return lambda: engine_ref.engine
    raise TypeError("engine_ref: expected an Engine, a callable returning one, or a holder with `.engine`")


class RouteCounts:
    """The HTTP side's decision counters since start, in the shape of
    `_routecore.RouteStats.snapshot()` (which counts the gRPC side in Rust), so that the serving
    process's `Admin.GetStats` adds them up: one process, one set of counters. Counted only on
    the serving event loop's thread, so no lock."""

    __slots__ = ("by_action", "by_error", "by_reason", "by_tenant", "decisions", "errors")

    def __init__(self) -> None:
        self.decisions = 0
        self.errors = 0
        self.by_action: dict[str, int] = {}
        self.by_tenant: dict[str, int] = {}
        self.by_reason: dict[str, int] = {}
        self.by_error: dict[str, int] = {}

    def decided(self, action: str, tenant: str, reason: str) -> None:
        self.decisions += 1
        self.by_action[action] = self.by_action.get(action, 0) + 1
        self.by_tenant[tenant] = self.by_tenant.get(tenant, 0) + 1
        if action == "REJECT":  # as the Rust counters: every REJECT by its reason, even ""
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def refused(self, code: str) -> None:
        self.errors += 1
        self.by_error[code] = self.by_error.get(code, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """`decisions`, `errors` (ints) and `by_action`, `by_tenant`, `by_reason`, `by_error` (copies)."""
        return {
            "decisions": self.decisions,
            "errors": self.errors,
            "by_action": dict(self.by_action),
            "by_tenant": dict(self.by_tenant),
            "by_reason": dict(self.by_reason),
            "by_error": dict(self.by_error),
        }


JSON = b"application/json"
_JSON_404 = _error_body("NOT_FOUND", "no such path (/v1/route, /v1/events, /metrics, /healthz)")


_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)


class _App:
    def __init__(
        self,
        engine_ref: EngineRef,
        records: Any,
        limits: HttpLimits,
        metrics: Metrics,
        make_event: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.engine = _resolver(engine_ref)
        self.records = records
        self.remember = getattr(records, "remember_decision", None) if records is not None else None
        self.limits = limits
        self.metrics = metrics
        self.make_event = make_event
        self.counts = RouteCounts()
        self.conns: set[_Conn] = set()
        self.draining = False
        self.pending_events = 0
        # The serving loop and the loop time of its last heartbeat (`HttpServer._beat`); set by
        # `start_http` (an app driven without a server, as the fuzz target does, never sheds).
        self.loop: asyncio.AbstractEventLoop | None = None
        self.heartbeat = 0.0
        # While a connection waits (an event being stored, a client not reading) it may buffer at
        # most one more full request before reading pauses.
        self.backlog = limits.max_header_bytes + limits.max_body_bytes + 4

    def behind(self) -> float:
        """Seconds the event loop is behind, past `max_lag`; 0 when it keeps up (or the check is off)."""
        if self.loop is None or self.limits.max_lag <= 0:
            return 0.0
        lag = self.loop.time() - self.heartbeat - HEARTBEAT
        return lag if lag > self.limits.max_lag else 0.0

    def route(self, args: RouteArgs) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        m = self.metrics
        engine = self.engine()
        if engine is None:
            m.observe_error("UNAVAILABLE")
            return 503, _error_body("UNAVAILABLE", "no plan is loaded")
        # Decided and encoded in one Rust call; a `Decision` object only when the record store
        # needs it (a call id to remember the decision by).
        keep = self.remember is not None and bool(args[4])
        try:
            if isinstance(engine, _CoreEngine):
                body, action, tenant, reason, d = route_json(engine, *args, keep=keep)
            else:  # an engine of another make (a stand-in): its decision object, encoded here
                d = engine.route(*args)
                body = encode_decision(d, engine.gateway)
                action, tenant, reason = d.action, d.tenant, d.reject.reason if d.reject else ""
                d = d if keep else None
        except _FATAL:
            raise
        except BaseException as e:  # a Rust panic (PanicException) is a BaseException: one 500
            status, code, payload = _refusal(e)
            self.counts.refused(code)
            m.observe_error(code)
            m.observe_latency(time.perf_counter() - t0)
            message = str(e)
            if status != 500 and message.startswith("at: "):
                # `at` is the Python argument; the request's field is `time`, as gRPC names it.
                payload = _error_body(code, "time: " + message.removeprefix("at: "))
            return status, payload
        if d is not None:
            self.remember(d, args[0])  # type: ignore[misc]
        self.counts.decided(action, tenant, reason)
        m.observe_outcome(action, tenant, reason, time.perf_counter() - t0)
        return 200, body

    def _apply_event(self, f: dict[str, Any]) -> Any:
        """Checks and applies an event to the engine; the record store's event, or None without one."""
        engine = self.engine()
        if engine is None:
            raise _HttpError(503, "UNAVAILABLE", "no plan is loaded")
        with switch_time_field():
            event = None
            if self.records is not None:
                # The store's time as the engine reads it (a time without offset is in the
                # plan's zone; now when left out), by the engine's own parser, as over gRPC.
                event = self.make_event({**f, "time": engine.instant(f["time"])})
            engine.report(f["call_id"], f["type"], f["target"], f["time"], f["duration_seconds"])
        return event

    def _ack(self, f: dict[str, Any], recorded: bool, duplicate: bool) -> bytes:
        """The proto's `CallEventAck`: `recorded` a call record written (and durable) now,
        `duplicate` the same event recorded before (nothing new stored), as over gRPC."""
        outcome = "duplicate" if duplicate else "recorded" if recorded else "applied"
        self.metrics.observe_event(f["type"], outcome)
        return orjson.dumps(
            {"call_id": f["call_id"], "type": f["type"], "recorded": recorded, "duplicate": duplicate}
        )

    def event_now(self, f: dict[str, Any]) -> tuple[int, bytes]:
        """An event with no record store: applied to the engine only."""
        try:
            self._apply_event(f)
        except _HttpError:
            raise
        except Exception as e:
            status, code, payload = _refusal(e)
            self.metrics.observe_event(f["type"], code)
            return status, payload
        return 200, self._ack(f, False, False)

    async def event_stored(self, f: dict[str, Any]) -> tuple[int, bytes]:
        """An event applied to the engine, answered once the record store made it durable."""
        if self.pending_events >= self.limits.max_pending_events:
            self.metrics.observe_event(f["type"], "RESOURCE_EXHAUSTED")
            return 503, _error_body(
                "RESOURCE_EXHAUSTED",
                f"{self.pending_events} events waiting for the record store; retry later",
            )
        self.pending_events += 1
        try:
            event = self._apply_event(f)
            ack = await self.records.append_async(event)
        except _HttpError as e:
            return e.status, _error_body(e.code, e.message)
        except Exception as e:
            status, code, payload = _refusal(e)
            self.metrics.observe_event(f["type"], code)
            return status, payload
        finally:
            self.pending_events -= 1
        duplicate = bool(getattr(ack, "duplicate", False))
        return 200, self._ack(f, not duplicate, duplicate)

    def health(self) -> tuple[int, bytes]:
        engine = self.engine()
        if self.draining or engine is None:
            why = "shutting down" if self.draining else "no plan is loaded"
            return 503, orjson.dumps({"status": "NOT_SERVING", "reason": why})
        return 200, orjson.dumps({"status": "SERVING", "plan_version": engine.version})


# --- HTTP/1.1 framing --------------------------------------------------------------------------

_REASONS = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    411: b"Length Required",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}
MAX_BATCH = 64  # pipelined requests answered per loop turn and connection
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_date = [0, b""]


def _http_date() -> bytes:
    now = int(time.time())
    if now != _date[0]:
        _date[0], _date[1] = now, formatdate(now, usegmt=True).encode()
    return _date[1]  # type: ignore[return-value]


def _response(
    status: int, body: bytes, keep: bool, http10: bool, ctype: bytes = JSON, extra: bytes = b""
) -> bytes:
    conn = (
        b"" if keep and not http10 else (b"Connection: keep-alive\r\n" if keep else b"Connection: close\r\n")
    )
    return (
        b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n"
        % (status, _REASONS.get(status, b"Unknown"), _http_date(), ctype, len(body), conn, extra)
        + body
    )


def _bare_line_end(buf: bytes, start: int, stop: int) -> bool:
    """Whether `buf[start:stop]`, the start of a request head, has a LF not after a CR or a CR
    not before a LF (a CR at the very end may still get its LF)."""
    if buf.find(b"\n", start, stop) < 0 and buf.find(b"\r", start, stop - 1) < 0:
        return False  # the usual partial head: one line, no line end yet
    seg = buf[start : stop - 1] if buf.endswith(b"\r", start, stop) else buf[start:stop]
    pairs = seg.count(b"\r\n")
    return seg.count(b"\n") != pairs or seg.count(b"\r") != pairs


class _Head:
    """The parts of a request head the server acts on."""

    __slots__ = ("clen", "continue_", "ctype", "has_len", "http10", "keep", "method", "target")

    def __init__(self, head: bytes, limits: HttpLimits) -> None:
        if b"\0" in head or not (head.count(b"\r") == head.count(b"\n") == head.count(b"\r\n")):
            raise _HttpError(400, "INVALID_ARGUMENT", "a bare CR, LF or NUL in the request head", close=True)
        lines = head.split(b"\r\n")
        if len(lines) > limits.max_headers + 1:
            raise _HttpError(
                431, "INVALID_ARGUMENT", f"more than {limits.max_headers} header lines", close=True
            )
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[1] or _TOKEN.fullmatch(parts[0]) is None:
            raise _HttpError(400, "INVALID_ARGUMENT", "malformed request line", close=True)
        self.method, self.target, version = parts
        if version == b"HTTP/1.1":
            self.http10 = False
        elif version == b"HTTP/1.0":
            self.http10 = True
        elif version.startswith(b"HTTP/") and len(version) == 8:
            raise _HttpError(505, "INVALID_ARGUMENT", "only HTTP/1.0 and HTTP/1.1 are served", close=True)
        else:
            raise _HttpError(400, "INVALID_ARGUMENT", "malformed request line", close=True)
        keep = not self.http10
        clen: bytes | None = None
        chunked = False
        self.ctype = b""
        self.continue_ = False
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or _TOKEN.fullmatch(name) is None:
                raise _HttpError(400, "INVALID_ARGUMENT", "malformed header line", close=True)
            name = name.lower()
            if name == b"content-length":
                value = value.strip(b" \t")
                if not value.isdigit() or (clen is not None and value != clen):
                    raise _HttpError(400, "INVALID_ARGUMENT", "bad Content-Length", close=True)
                clen = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"connection":
                value = value.lower()
                if b"close" in value:
                    keep = False
                elif b"keep-alive" in value:
                    keep = True
            elif name == b"content-type":
                self.ctype = value.strip(b" \t").lower()
            elif name == b"expect":
                self.continue_ = b"100-continue" in value.lower()
        if chunked:
            # Without chunked decoding a Transfer-Encoding body can't be framed; with a
            # Content-Length as well it is a smuggling attempt (RFC 9112 §6.1).
            if clen is None:
                raise _HttpError(411, "INVALID_ARGUMENT", "send the body with a Content-Length", close=True)
            raise _HttpError(400, "INVALID_ARGUMENT", "both Transfer-Encoding and Content-Length", close=True)
        self.keep = keep
        self.has_len = clen is not None
        self.clen = 0
        if clen is not None:
            if len(clen) > 12 or int(clen) > limits.max_body_bytes:
                raise _HttpError(
                    413,
                    "INVALID_ARGUMENT",
                    f"the body is larger than {limits.max_body_bytes} bytes",
                    close=True,
                )
            self.clen = int(clen)


class _Conn(asyncio.Protocol):
    """One HTTP connection: parses what arrived, answers every complete request in order."""

    def __init__(self, app: _App) -> None:
        self.app = app
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf: bytes | bytearray = b""
        self.started = 0.0  # when the first byte of the request at the head of `buf` arrived
        self.last = 0.0  # when anything last arrived
        self.busy = False  # an event is being stored; later requests wait in `buf`
        self.closing = False
        self.write_paused = False
        self.read_paused = False
        self.continued = False  # `100 Continue` sent for the request at the head of `buf`
        self.need = 0  # `buf` can't hold a complete request before it has this many bytes
        self.scheduled = False  # more pipelined requests are waiting for the next loop turn
        self.paused_at = 0.0
        self.eof = False

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.last = time.monotonic()
        app = self.app
        if app.draining or len(app.conns) >= app.limits.max_connections:
            self.closing = True
            code, why = (
                ("UNAVAILABLE", "shutting down")
                if app.draining
                else ("RESOURCE_EXHAUSTED", "too many connections")
            )
            app.metrics.observe_http_status(503)
            self.transport.write(_response(503, _error_body(code, why), False, False))
            self.transport.close()
            return
        app.conns.add(self)
        app.metrics.http_connections.inc()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.buf = b""
        if self in self.app.conns:
            self.app.conns.discard(self)
            self.app.metrics.http_connections.dec()

    def eof_received(self) -> bool:
        # Half-closed by the peer: answer an event still being stored, then close.
        self.eof = True
        return self.busy

    def pause_writing(self) -> None:
        self.write_paused = True
        self.paused_at = time.monotonic()

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.busy and not self.closing:
            self._resume()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        now = time.monotonic()
        self.last = now
        if self.buf:
            if isinstance(self.buf, bytes):
                self.buf = bytearray(self.buf)
            self.buf += data
        else:
            self.buf = data
            self.started = now
        if self.busy or self.write_paused or self.scheduled:
            if len(self.buf) > self.app.backlog and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        # A body arriving in small pieces is not re-parsed for every piece.
        if len(self.buf) >= self.need:
            self._process()

    # --- parsing and answering ---

    def _resume(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.buf:
            self._process()

    def _continue(self) -> None:
        self.scheduled = False
        if not (self.closing or self.busy or self.write_paused):
            self._resume()

    def _process(self) -> None:
        buf = self.buf if isinstance(self.buf, bytes) else bytes(self.buf)
        limits = self.app.limits
        n = len(buf)
        pos = 0
        self.need = 0
        out: list[bytes] = []
        # One turn answers at most MAX_BATCH requests, so a peer pipelining thousands neither
        # starves the other connections nor escapes write back-pressure.
        budget = MAX_BATCH
        while pos < n and not self.closing and not self.busy:
            if not budget:
                self.scheduled = True
                break
            budget -= 1
            while buf.startswith(b"\r\n", pos):  # empty lines before a request are allowed
                pos += 2
            if pos >= n:
                break
            end = buf.find(b"\r\n\r\n", pos, pos + limits.max_header_bytes + 4)
            if end < 0:
                if _bare_line_end(buf, pos, min(n, pos + limits.max_header_bytes + 4)):
                    # A head written with bare LFs (or CRs) never gets its CRLFCRLF: refused now,
                    # not after the request timeout.
                    out.append(self._fail(400, "a bare CR, LF or NUL in the request head"))
                    break
                if n - pos >= limits.max_header_bytes + 4:
                    out.append(
                        self._fail(431, f"the request head is larger than {limits.max_header_bytes} bytes")
                    )
                break
            try:
                head = _Head(buf[pos:end], limits)
            except _HttpError as e:
                out.append(self._error(e, False, False))
                break
            start = end + 4
            if n - start < head.clen:
                if head.continue_ and not self.continued:
                    self.continued = True
                    out.append(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.need = start + head.clen - pos
                break
            body = buf[start : start + head.clen]
            pos = start + head.clen
            self.continued = False
            answer = self._dispatch(head, body)
            if answer:
                out.append(answer)
        if self.closing:
            self.buf = b""
        elif pos:
            self.buf = buf[pos:]
            self.started = time.monotonic()
        if out:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self.closing and not self.busy:
            self.transport.close()
        elif self.scheduled:
            asyncio.get_running_loop().call_soon(self._continue)

    def _fail(self, status: int, message: str) -> bytes:
        return self._error(_HttpError(status, "INVALID_ARGUMENT", message, close=True), False, False)

    def _error(self, e: _HttpError, keep: bool, http10: bool) -> bytes:
        keep = keep and not e.close
        extra = b"Allow: %s\r\n" % e.allow if e.allow else b""
        return self._answer(e.status, _error_body(e.code, e.message), keep, http10, extra=extra)

    def _answer(
        self, status: int, body: bytes, keep: bool, http10: bool, ctype: bytes = JSON, extra: bytes = b""
    ) -> bytes:
        if not keep:
            self.closing = True
        self.app.metrics.observe_http_status(status)
        return _response(status, body, keep, http10, ctype, extra)

    def _dispatch(self, head: _Head, body: bytes) -> bytes:
        """The answer to one request; b"" when it went asynchronous (an event being stored)."""
        if head.method != b"HEAD":
            return self._handle(head, head.method, body)
        if head.target.partition(b"?")[0] == b"/v1/route":
            # HEAD must be safe (RFC 9110), and a routing GET decides a call (rotations, caps,
            # the caller's window, the counters): it is not offered there.
            answer = self._handle(head, b"HEAD", body)
        else:
            # HEAD is GET without the body: the same status and headers, the GET body's length.
            answer = self._handle(head, b"GET", body)
        return answer[: answer.find(b"\r\n\r\n") + 4] if answer else answer

    def _handle(self, head: _Head, method: bytes, body: bytes) -> bytes:
        app = self.app
        keep, http10 = head.keep and not app.draining, head.http10
        try:
            target = head.target
            if not target.startswith(b"/"):
                raise _HttpError(400, "INVALID_ARGUMENT", "the request target must be a path", close=True)
            path, _, query = target.partition(b"?")
            if app.draining and path != b"/healthz":
                return self._answer(503, _error_body("UNAVAILABLE", "shutting down"), False, http10)
            if (path == b"/v1/route" or path == b"/v1/events") and (lag := app.behind()):
                # Shed before any work: the request has waited `lag` in the socket already.
                why = f"overloaded: the server is {lag * 1000:.0f} ms behind; retry on another node"
                return self._answer(503, _error_body("RESOURCE_EXHAUSTED", why), keep, http10)
            if path == b"/v1/route":
                try:
                    if method == b"GET":
                        args = _route_args(_parse_query(query), True)
                    elif method == b"POST":
                        if not head.has_len:
                            raise _HttpError(
                                411, "INVALID_ARGUMENT", "POST needs a Content-Length", close=True
                            )
                        args = _route_args(*_body_fields(body, head.ctype))
                    else:
                        raise _HttpError(405, "INVALID_ARGUMENT", "GET or POST", allow=b"GET, POST")
                except _HttpError as e:
                    # A routing request refused before the engine saw it counts as the engine's
                    # refusals do (GetStats, /metrics), as gRPC's malformed requests do.
                    app.counts.refused(e.code)
                    app.metrics.observe_error(e.code)
                    raise
                status, payload = app.route(args)
                return self._answer(status, payload, keep, http10)
            if path == b"/v1/events":
                if method != b"POST":
                    raise _HttpError(405, "INVALID_ARGUMENT", "POST a call event", allow=b"POST")
                if not head.has_len:
                    raise _HttpError(411, "INVALID_ARGUMENT", "POST needs a Content-Length", close=True)
                fields = _event_fields(*_body_fields(body, head.ctype))
                if app.records is None:
                    status, payload = app.event_now(fields)
                    return self._answer(status, payload, keep, http10)
                self.busy = True
                asyncio.get_running_loop().create_task(self._stored(fields, keep, http10))
                return b""
            if path == b"/metrics":
                if method != b"GET":
                    raise _HttpError(405, "INVALID_ARGUMENT", "GET", allow=b"GET, HEAD")
                return self._answer(
                    200, app.metrics.render(), keep, http10, ctype=METRICS_CONTENT_TYPE.encode()
                )
            if path == b"/healthz":
                if method != b"GET":
                    raise _HttpError(405, "INVALID_ARGUMENT", "GET", allow=b"GET, HEAD")
                status, payload = app.health()
                return self._answer(status, payload, keep, http10)
            return self._answer(404, _JSON_404, keep, http10)
        except _HttpError as e:
            return self._error(e, keep, http10)
        except Exception as e:  # a bug must cost one 500, never the connection or the server
            return self._answer(500, _internal(e), keep, http10)

    async def _stored(self, fields: dict[str, Any], keep: bool, http10: bool) -> None:
        try:
            status, payload = await self.app.event_stored(fields)
        except Exception as e:
            status, payload = 500, _internal(e)
        self.busy = False
        if self.transport.is_closing():
            return
        keep = keep and not self.app.draining and not self.eof
        self.transport.write(self._answer(status, payload, keep, http10))
        if self.closing:
            self.transport.close()
        elif not self.write_paused:
            self._resume()

    # --- timeouts (called by the server's sweeper) ---

    def sweep(self, now: float) -> None:
        limits = self.app.limits
        if self.closing or self.busy:
            return
        if self.write_paused:
            if now - self.paused_at > limits.idle_timeout:
                self.closing = True
                self.transport.abort()
        elif self.buf:
            if now - self.started > limits.request_timeout:
                self.transport.write(
                    self._fail(408, f"the request was not complete within {limits.request_timeout} s")
                )
                self.transport.close()
        elif now - self.last > limits.idle_timeout:
            self.closing = True
            self.transport.close()

    def close_if_idle(self) -> None:
        if not self.busy and not self.buf and not self.closing:
            self.closing = True
            self.transport.close()


# --- the server --------------------------------------------------------------------------------


class HttpServer:
    """A running HTTP/JSON server (see `start_http`)."""

    def __init__(self, server: asyncio.Server, app: _App) -> None:
        self._server = server
        self._app = app
        sock = server.sockets[0].getsockname()
        self.host: str = sock[0]
        self.port: int = sock[1]
        limits = app.limits
        self._tick = min(max(min(limits.idle_timeout, limits.request_timeout) / 4, 0.05), 1.0)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        self._beater = asyncio.get_running_loop().create_task(self._beat())
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        """`host:port` as bound (the port chosen when 0 was asked for)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def draining(self) -> bool:
        return self._app.draining

    @property
    def connections(self) -> int:
        return len(self._app.conns)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            for conn in list(self._app.conns):
                conn.sweep(now)

    async def _beat(self) -> None:
        app = self._app
        loop = asyncio.get_running_loop()
        while True:
            app.heartbeat = loop.time()
            await asyncio.sleep(HEARTBEAT)

    async def serve_forever(self) -> None:
        """Waits until `stop` has finished."""
        await self._stopped.wait()

    async def stop(self, grace: float = 5.0) -> None:
        """Stops accepting; idle connections close now; events being stored get up to `grace`
        seconds to finish (answered with `Connection: close`); requests arriving meanwhile get
        503 UNAVAILABLE. Then every connection is closed."""
        app = self._app
        app.draining = True
        self._server.close()
        for conn in list(app.conns):
            conn.close_if_idle()
        deadline = time.monotonic() + grace
        while any(c.busy or c.buf for c in app.conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(app.conns):
            conn.closing = True
            if conn.busy:
                conn.transport.abort()
            else:
                conn.transport.close()
        for task in (self._sweeper, self._beater):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()
        self._stopped.set()


async def start_http(
    engine_ref: EngineRef,
    host: str = "127.0.0.1",
    port: int = 8080,
    records: Any = None,
    *,
    limits: HttpLimits | None = None,
    metrics: Metrics | None = None,
    make_event: Callable[[dict[str, Any]], Any] | None = None,
    backlog: int = 1024,
    reuse_port: bool = False,
    ssl: Any = None,
) -> HttpServer:
    """Binds and starts the HTTP/JSON server on the running loop.

    Args:
        engine_ref: the `Engine` (its `reload` swaps plans in place), a callable returning the
            current engine (None while no plan is loaded: answers 503), or a holder with `.engine`.
        host: address to bind (`127.0.0.1`, `::1`, `0.0.0.0`).
        port: port; 0 picks a free one (see `HttpServer.port`).
        records: the record store (`append_async(event)` resolving once durable; optionally
            `remember_decision(decision, called)` and `pending`); None: events only update the engine.
        limits: sizes, connection count and timeouts (`HttpLimits()` by default).
        metrics: the registry to count into and serve on `/metrics` (the process default `METRICS`).
        make_event: builds the store's event from the event fields, their `time` as the engine
            read it (an aware datetime; now when the event gave none) (default:
            `records.CallEvent.create`).
        ssl: an `ssl.SSLContext` (`routecore.tls.TlsFiles.ssl_context`) to serve HTTPS; None: plain HTTP.

    Returns:
        The running server; `await server.stop()` to shut it down.
    """
    limits = limits or HttpLimits()
    metrics = metrics if metrics is not None else METRICS
    loop = asyncio.get_running_loop()
    app = _App(engine_ref, records, limits, metrics, make_event or default_make_event)
    app.loop = loop
    app.heartbeat = loop.time()
    # Bound first: an address that cannot be bound leaves nothing wired into /metrics or the
    # service's counters. No connection is served before the wiring below (no await between).
    server = await loop.create_server(
        lambda: _Conn(app), host, port, backlog=backlog, reuse_port=reuse_port or None, ssl=ssl
    )
    metrics.track_engine(app.engine)
    metrics.track_records(records)
    # Started on the gRPC server's service: its Rust-side decision counters join /metrics.
    route_stats = getattr(engine_ref, "stats", None)
    if route_stats is not None:
        metrics.track_route_stats(route_stats)
    if hasattr(engine_ref, "in_flight"):
        metrics.track_in_flight(lambda: engine_ref.in_flight)
    if hasattr(engine_ref, "http_counts"):
        # Served by the gRPC server's service: its `Admin.GetStats` counts HTTP decisions too
        # (every HTTP server of the service into the same counters).
        if engine_ref.http_counts is None:
            engine_ref.http_counts = app.counts
        else:
            app.counts = engine_ref.http_counts
    return HttpServer(server, app)
