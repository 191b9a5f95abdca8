"""The gRPC service (`routecore.v1.Router` and `Admin`) on `grpc.aio`, with health and reflection.

The routing methods are registered with raw-bytes (de)serialisers: the Rust core decodes the
`RouteRequest`, decides and encodes the `RouteDecision` (`routecore._routecore.route_wire`), so
Python only moves bytes. `ReportCall` and `Admin` use the generated protobuf classes.

Building and serving are separate steps (`build_server`, then `serve`), as in the grpc examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from routecore import _routecore as rc
from routecore.engine import Engine, switch_time_field
from routecore.exceptions import (
    InvalidArgumentError,
    InvalidNumberError,
    ListError,
    NotFoundError,
    NotReadyError,
    PatternError,
    PlanError,
    RoutecoreError,
)
from routecore.records import (
    Ack,
    CallEvent,
    RecordStoreError,
    StoreOverloadedError,
    check_call_id,
    check_event_text,
)
from routecore.tls import TlsFiles
from routecore.v1 import routing_pb2 as pb

__all__ = [
    "ADMIN",
    "ROUTER",
    "PlanWatcher",
    "RecordSink",
    "ServerOptions",
    "Service",
    "Unavailable",
    "build_server",
    "mask_numbers",
    "serve",
    "status_of",
]

ROUTER = pb.DESCRIPTOR.services_by_name["Router"].full_name
ADMIN = pb.DESCRIPTOR.services_by_name["Admin"].full_name
log = logging.getLogger("routecore.server")


@dataclass(frozen=True)
class ServerOptions:
    """How the server is bounded. Defaults suit a switch-facing service on a small machine."""

    # Routing RPCs in flight, from arrival to answer (an open stream counts as one); past it a
    # new one gets RESOURCE_EXHAUSTED at once instead of queueing without bound.
    max_in_flight: int = 256
    # Calls grpc's core may hold for the Python server before it drops new ones (CANCELLED, at
    # no cost to the server; all of them past twice this): at ~4,000 calls/s, ~0.1-0.25 s of wait.
    max_queued: int = 512
    # Nice levels the thread that answers calls (the event loop) runs below grpc's own threads, on
    # Linux, set by `serve`: in overload the transport threads keep reading new calls and the core
    # drops the excess at once, instead of the answering thread starving them while the refused
    # calls wait unread for seconds (measured: refusals' p99 2.3 s -> 64 ms at 150% of peak). It
    # also yields to the host's other processes; 0 leaves the priority alone.
    loop_nice: int = 10
    # Largest message received (a RouteBatch of 10,000 requests is about 0.6 MiB).
    max_message_bytes: int = 8 * 1024 * 1024
    # Most requests in one RouteBatch: more are refused before any is decided. Its answer is
    # about 7 times its request (a decision is ~270 bytes, ~750 with `explain`: 32,768 of them
    # 9-25 MB) and is always sent (no limit on what the server sends: a batch decided is a batch
    # answered); a client receiving more than 4 MiB raises its own receive limit.
    max_batch_requests: int = 32_768
    # A batch larger than this (bytes) is decided in a worker thread (the GIL is released), so the
    # event loop keeps serving small calls meanwhile.
    batch_in_thread_bytes: int = 32 * 1024
    # When set, Admin calls need `authorization: Bearer <token>` metadata.
    admin_token: str | None = None
    # Seconds in-flight calls get to finish on shutdown.
    grace: float = 5.0
    # TLS (and mutual TLS) for the listeners `serve` opens; None: plaintext (loopback only).
    tls: TlsFiles | None = None


class Unavailable(RoutecoreError):
    """No plan is loaded, or the server is shutting down."""


class RecordSink(Protocol):
    """Where `ReportCall` events go to become durable call records (`routecore.records`)."""

    def remember_decision(self, decision: Any, called: str = "", *, call_id: str | None = None) -> None: ...

    async def append_async(self, event: CallEvent) -> Ack: ...

    def close(self) -> None: ...


class ListJournal(Protocol):
    """Where live list updates persist (`routecore.records`; optional on a `RecordSink`)."""

    async def save_list_change_async(self, list_name: str, add: Any, remove: Any) -> None: ...

    def list_changes(self) -> dict[str, tuple[list[str], list[str]]]: ...


# --- exceptions → status codes: the one place --------------------------------------------------

_STATUS: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    # A record that could not be stored is not acknowledged: the switch retries later.
    (StoreOverloadedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (RecordStoreError, grpc.StatusCode.UNAVAILABLE),
    (InvalidNumberError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (NotReadyError, grpc.StatusCode.UNAVAILABLE),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (PlanError, grpc.StatusCode.INVALID_ARGUMENT),
    (ListError, grpc.StatusCode.INVALID_ARGUMENT),
    (PatternError, grpc.StatusCode.INVALID_ARGUMENT),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (TypeError, grpc.StatusCode.INVALID_ARGUMENT),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (FileNotFoundError, grpc.StatusCode.NOT_FOUND),
    (DecodeError, grpc.StatusCode.INVALID_ARGUMENT),
)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and details for an exception; anything unforeseen is INTERNAL, never UNKNOWN."""
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code, str(exc) or type(exc).__name__
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log"


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    code, details = status_of(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.error("internal error: %s", mask_numbers(repr(exc)), exc_info=exc)
    await context.abort(code, details)


def _proto_handler(
    fn: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]], request_type: Any
) -> grpc.RpcMethodHandler:
    """A unary method on protobuf messages, (de)serialised inside the handler so that a request
    that does not parse is INVALID_ARGUMENT and whatever the method raises gets its status: no
    call ever ends UNKNOWN (grpc's own deserialiser would answer UNKNOWN)."""

    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            reply = await fn(request_type.FromString(request), context)
            return reply.SerializeToString()  # type: ignore[no-any-return]
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await _abort(context, exc)
            raise  # unreachable: abort raises

    return grpc.unary_unary_rpc_method_handler(handler)


# --- logs: structured, caller numbers masked ---------------------------------------------------

# A run of digits standing alone: not inside a word such as a plan version (hex `e96c4031234f`).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])(\+?\d[\d -]{5,}\d)(?![0-9A-Za-z])")


def mask_numbers(text: str) -> str:
    """Masks phone numbers in a log line: `13800138000` → `138****8000` (runs of 7+ digits)."""

    def hide(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(1))
        if len(digits) < 7:
            return m.group(1)
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]

    return _DIGIT_RUN.sub(hide, text)


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (numbers masked unless told not to)."""

    def __init__(self, mask: bool = True) -> None:
        super().__init__()
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_numbers(message) if self.mask else message,
        }
        for key in ("event", "peer", "version", "address"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            text = self.formatException(record.exc_info)
            out["exc"] = mask_numbers(text) if self.mask else text
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: int = logging.INFO, *, mask: bool = True) -> None:
    """Structured (JSON lines) logs on stderr for the `routecore` loggers, and for every other
    logger (asyncio, grpc) at WARNING through the same masking formatter, so that no log line of
    the process prints a caller number in full."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(mask=mask))
    root = logging.getLogger("routecore")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    everything = logging.getLogger()
    everything.handlers[:] = [handler]
    everything.setLevel(logging.WARNING)


# --- the service -------------------------------------------------------------------------------


class Service:
    """The state behind both gRPC services: the engine, counters, the record sink, list updates.

    `engine` may be swapped (tests do, between cases); `None` answers UNAVAILABLE until
    `ReloadPlan` loads a plan. `plan_path` is the plan file SIGHUP and the watcher reload.

    Live list updates (`UpdateList`) are kept in a journal (persisted through the record store
    when it has `save_list_change_async`) and applied to every new plan before it serves.
    Reloads and list updates take one lock, so neither can slip between the other's steps.
    """

    def __init__(
        self,
        engine: Engine | None,
        *,
        records: RecordSink | None = None,
        options: ServerOptions | None = None,
        plan_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.records = records
        self.plan_path = plan_path
        self.options = options or ServerOptions()
        self.stats = rc.RouteStats()
        self.started = time.time()
        self.closing = False
        self._token = self.options.admin_token.encode() if self.options.admin_token else None
        self._reload_lock = asyncio.Lock()
        # Live list updates, re-applied to every reloaded plan: name → {normalised number: listed?}.
        self._list_updates: dict[str, dict[str, bool]] = {}
        self._list_store: ListJournal | None = (
            records  # type: ignore[assignment]
            if hasattr(records, "save_list_change_async") and hasattr(records, "list_changes")
            else None
        )
        self.router: _RouterHandlers | None = None  # set by `build_server`
        # Tells the other nodes of reloads and list updates (`cluster.Broadcast`), when set.
        self.broadcast: Any = None
        # The HTTP side's decision counters (`http.RouteCounts`), set by `start_http`: GetStats
        # counts every decision the process answered, over either transport.
        self.http_counts: Any = None

    @property
    def in_flight(self) -> int:
        """Routing RPCs in flight now (arrived and not yet answered)."""
        return self.router.in_flight if self.router is not None else 0

    def _engine(self) -> Engine:
        if self.closing:
            raise Unavailable("the server is shutting down")
        if self.engine is None:
            raise Unavailable("no plan is loaded")
        return self.engine

    # -- Router (raw bytes in, raw bytes out) --

    async def route_call(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            return rc.route_wire(self._engine(), request, stats=self.stats)
        except Exception as exc:
            await _abort(context, exc)
            raise

    async def route_stream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        try:
            async for request in requests:
                if self.closing:
                    raise Unavailable("the server is shutting down")
                engine = self.engine
                if engine is None:
                    yield _failed(request, "UNAVAILABLE", "no plan is loaded")
                    continue
                yield rc.route_wire(engine, request, embed_errors=True, stats=self.stats)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await _abort(context, exc)

    async def route_batch(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            engine = self._engine()
            decide = functools.partial(
                rc.route_batch_wire,
                engine,
                request,
                stats=self.stats,
                max_requests=self.options.max_batch_requests,
            )
            if len(request) <= self.options.batch_in_thread_bytes:
                return decide()
            return await asyncio.wait_for(asyncio.to_thread(decide), timeout=context.time_remaining())
        except Exception as exc:
            await _abort(context, exc)
            raise

    async def report_call(self, event: pb.CallEvent, context: grpc.aio.ServicerContext) -> pb.CallEventAck:
        engine = self._engine()
        if event.type == pb.CallEvent.TYPE_UNSPECIFIED:
            raise InvalidArgumentError("type: the event type is required (ANSWERED or ENDED)")
        if event.type not in (pb.CallEvent.ANSWERED, pb.CallEvent.ENDED):
            # proto3 keeps an enum number it does not know: a newer or a broken client
            raise InvalidArgumentError(f"type: {event.type} is not an event type (ANSWERED, ENDED)")
        # Without a record store too: the same call ids are refused whatever stands behind.
        check_event_text(event.call_id, event.target, event.disposition)
        kind = pb.CallEvent.Type.Name(event.type)
        at = event.time if event.HasField("time") else None
        with switch_time_field():
            # The record's event first: what it cannot hold (a time past the year 9999) is
            # refused before the engine or the store is touched.
            to_store = None
            if self.records is not None:
                to_store = CallEvent.create(
                    event.call_id,
                    kind,
                    event.target,
                    at=engine.instant(at),  # the engine's parser: the store takes what it takes
                    duration_seconds=event.duration_seconds,
                    disposition=event.disposition,
                )
            engine.report(event.call_id, kind, event.target, at, event.duration_seconds)
        ack = pb.CallEventAck(call_id=event.call_id, type=event.type)
        if self.records is not None and to_store is not None:
            # The record needs the call's decision (tenant, caller, rule, rate): the engine kept
            # it when it forwarded the call; the store keeps it with the call's events.
            decision = engine.recall(event.call_id)
            if decision is not None:
                self.records.remember_decision(decision, decision.called)
            stored = await self.records.append_async(to_store)
            ack.duplicate = stored.duplicate
            ack.recorded = not stored.duplicate
        return ack

    # -- Admin --

    def _authorise(self, context: grpc.aio.ServicerContext) -> Awaitable[None] | None:
        if self._token is None:
            return None
        given = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                break
        if given is None:
            return context.abort(grpc.StatusCode.UNAUTHENTICATED, "admin call without the admin token")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            # Another scheme (Basic …), or Bearer with nothing after it: no admin token at all.
            why = "admin call without the admin token (authorization: Bearer TOKEN)"
            return context.abort(grpc.StatusCode.UNAUTHENTICATED, why)
        if not hmac.compare_digest(token.strip(), self._token):
            return context.abort(grpc.StatusCode.PERMISSION_DENIED, "the admin token does not match")
        return None

    async def _admin(self, context: grpc.aio.ServicerContext) -> None:
        refused = self._authorise(context)
        if refused is not None:
            await refused

    async def reload_plan(
        self, request: pb.ReloadPlanRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReloadPlanResponse:
        await self._admin(context)
        which = request.WhichOneof("source")
        if which is None:
            raise InvalidArgumentError("source: give the plan's `path` or its `text`")
        if which == "path" and not request.path.strip():
            # Read as a path, "" is the working directory: say what is wrong instead.
            raise InvalidArgumentError("path: empty; give the plan file's path, or the plan as `text`")
        return await self.reload(which, getattr(request, which), cause="ReloadPlan")

    async def reload(
        self, which: str, value: str, *, cause: str, publish: bool = True
    ) -> pb.ReloadPlanResponse:
        """Checks and compiles a plan (`which` is "path" or "text") beside the serving one, applies
        the live list updates to it, and swaps it in; a plan that fails leaves the old one
        serving and its errors are in the answer (and the log). With a broadcast (several
        nodes) and `publish`, the other nodes are told to load the same plan.

        Raises:
            RoutecoreError: anything but a plan that fails its checks or a file that can't be read.
        """
        async with self._reload_lock:
            before = self.engine.version if self.engine is not None else ""
            lists = self._journal()
            try:
                engine, refused = await asyncio.to_thread(self._load, which, value, lists)
            except (PlanError, OSError) as exc:
                log.warning(
                    "%s: plan refused, %s keeps serving: %s",
                    cause,
                    before or "none",
                    exc,
                    extra={"event": "reload_refused", "version": before},
                )
                return pb.ReloadPlanResponse(
                    version=before, reloaded=False, previous_version=before, errors=_problems(exc)
                )
            self.engine = engine
            now = engine.version
        for name, message in refused:
            log.warning("list %s: live updates not re-applied to plan %s: %s", name, now, message)
        log.info(
            "%s: plan %s now serving (was %s)",
            cause,
            now,
            before or "none",
            extra={"event": "reload", "version": now},
        )
        if publish and self.broadcast is not None:
            await self.broadcast.publish("plan", which=which, value=value, version=now)
        return pb.ReloadPlanResponse(version=now, reloaded=True, previous_version=before)

    async def reload_file(self, cause: str, *, publish: bool = True) -> bool:
        """Reloads `plan_path` (SIGHUP, the watcher); never raises: a failure is logged and the
        old plan keeps serving. Returns whether a new plan is serving."""
        if self.plan_path is None:
            engine = self.engine
            loaded = getattr(engine, "loaded", None)
            serving = loaded.shown_source if loaded is not None else "the embedded demo plan"
            version = engine.version if engine is not None else "none"
            log.warning(
                "%s: no plan file to reload (the server was started without one); plan %s from %s "
                "keeps serving",
                cause,
                version,
                serving,
            )
            return False
        try:
            reply = await self.reload("path", str(self.plan_path), cause=cause, publish=publish)
        except Exception as exc:
            log.error("%s: reload failed, the old plan keeps serving: %r", cause, exc, exc_info=exc)
            return False
        return bool(reply.reloaded)

    def _load(
        self, which: str, value: str, lists: list[tuple[str, list[str], list[str]]]
    ) -> tuple[Engine, list[tuple[str, str]]]:
        from routecore.plan import load_plan

        if which == "path":
            path = Path(value)
            if not path.is_file():
                why = (
                    "no such plan file on the server"
                    if not path.exists()
                    else "is a directory, not a plan file"
                    if path.is_dir()
                    else "is not a regular file"
                )
                raise FileNotFoundError(f"path: {value}: {why}")
            loaded = load_plan(path)
        else:
            base = self.engine.loaded.base_dir if self.engine is not None else Path.cwd()
            # A pseudo-file in the serving plan's folder: list files are relative to it.
            loaded = load_plan(value.encode(), path=base / "<text>")
        if self.engine is None:
            # Not serving yet: the lists can be applied after compiling.
            engine = Engine.from_loaded(loaded)
            return engine, _apply_lists(engine, lists)
        _, refused = self.engine.reload_with_lists(loaded, lists)
        return self.engine, refused

    async def get_plan(self, request: pb.GetPlanRequest, context: grpc.aio.ServicerContext) -> pb.PlanInfo:
        await self._admin(context)
        engine = self._engine()
        loaded = getattr(engine, "loaded", None)
        counts = rc.plan_counts(engine)
        return pb.PlanInfo(
            version=engine.version,
            source=loaded.shown_source if loaded is not None else "<text>",
            checksum=loaded.checksum if loaded is not None else engine.version,
            timezone=engine.timezone,
            gateway=engine.gateway,
            **counts,
        )

    async def update_list(
        self, request: pb.UpdateListRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateListResponse:
        await self._admin(context)
        if not request.name:
            raise InvalidArgumentError("name: the list's name is required")
        name = request.name
        add = _listable(request.add, "add")
        remove = _listable(request.remove, "remove")
        # Refused whole before anything is persisted, with or without a list store (the engine
        # refuses it too).
        both = sorted(set(add) & set(remove))
        if both:
            raise InvalidArgumentError(f"add/remove: {both[0]!r} is both added and removed")
        async with self._reload_lock:
            engine = self._engine()
            # Refuses an unknown or pattern-only list before anything is persisted.
            engine.update_list(name, [], [])
            if self._list_store is not None:
                # Durable before it is applied or acknowledged: it survives a restart.
                await self._list_store.save_list_change_async(name, add, remove)
            size, added, removed = engine.update_list(name, add, remove)
            self._journal_add(name, add, remove)
        log.info(
            "list %s: +%d -%d (now %d): add %s remove %s",
            name,
            added,
            removed,
            size,
            add[:5],
            remove[:5],
            extra={"event": "update_list"},
        )
        if self.broadcast is not None:
            await self.broadcast.publish("list", name=name, add=add, remove=remove)
        return pb.UpdateListResponse(name=name, size=size, added=added, removed=removed)

    async def apply_list_update(self, name: str, add: list[str], remove: list[str]) -> None:
        """Another node's list update (already persisted by it): applied here and kept in the
        journal for later reloads."""
        async with self._reload_lock:
            engine = self._engine()
            size, added, removed = engine.update_list(name, add, remove)
            self._journal_add(name, add, remove)
        log.info(
            "list %s (from another node): +%d -%d (now %d)",
            name,
            added,
            removed,
            size,
            extra={"event": "update_list"},
        )

    async def catch_up(self, cause: str) -> None:
        """After missing broadcasts: re-read the persisted list changes and reload the plan file."""
        if self._list_store is not None:
            try:
                changes = await asyncio.to_thread(self._list_store.list_changes)
            except RecordStoreError as exc:
                log.warning("%s: list changes not re-read: %s", cause, exc)
                changes = {}
            async with self._reload_lock:
                for name, (added, removed) in changes.items():
                    self._journal_add(name, added, removed)
                if self.engine is not None:
                    _apply_lists(self.engine, self._journal())
        if self.plan_path is not None:
            await self.reload_file(cause, publish=False)

    def restore_lists(self) -> None:
        """Loads the persisted list updates into the journal and applies them to the engine;
        called once before serving (a reload applies them to its plan itself)."""
        if self._list_store is None:
            return
        for name, (added, removed) in self._list_store.list_changes().items():
            self._journal_add(name, added, removed)
        if self.engine is not None:
            for name, message in _apply_lists(self.engine, self._journal()):
                version = self.engine.version
                log.warning("list %s: persisted updates not applied to plan %s: %s", name, version, message)
        count = sum(len(changes) for changes in self._list_updates.values())
        if count:
            log.info("%d persisted list change(s) applied", count, extra={"event": "lists_restored"})

    async def restore_lists_when_readable(self, every: float = 2.0) -> None:
        """`restore_lists`, retried every `every` seconds while the record store cannot be read
        (a read-only or missing record disk at start): the service routes on the plan's own
        lists meanwhile, and the persisted updates are applied as soon as they can be read."""
        while True:
            await asyncio.sleep(every)
            try:
                async with self._reload_lock:
                    self.restore_lists()
            except RecordStoreError as exc:
                log.error(
                    "persisted list updates cannot be read yet, routing on the plan's lists "
                    "(retried every %.0f s): %s",
                    every,
                    exc,
                    extra={"event": "lists_unavailable"},
                )
                continue
            return

    def _journal_add(self, name: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """Records a list change in the journal every reloaded plan gets (the last word wins)."""
        journal = self._list_updates.setdefault(name, {})
        journal.update(dict.fromkeys(add, True))
        journal.update(dict.fromkeys(remove, False))

    def _journal(self) -> list[tuple[str, list[str], list[str]]]:
        return [
            (
                name,
                [n for n, listed in changes.items() if listed],
                [n for n, listed in changes.items() if not listed],
            )
            for name, changes in self._list_updates.items()
        ]

    async def get_stats(self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext) -> pb.Stats:
        await self._admin(context)
        snap = self.stats.snapshot()
        if self.http_counts is not None:
            snap = _added(snap, self.http_counts.snapshot())
        return pb.Stats(
            started=int(self.started),
            decisions=snap["decisions"],
            errors=snap["errors"],
            by_action=snap["by_action"],
            by_tenant=snap["by_tenant"],
            by_reason=snap["by_reason"],
            by_error=snap["by_error"],
            plan_version=self.engine.version if self.engine is not None else "",
        )


def _added(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two counter snapshots (`RouteStats.snapshot()`'s shape) added up, key by key."""
    out: dict[str, Any] = {}
    for key, value in a.items():
        if isinstance(value, dict):
            total = dict(value)
            for k, n in b.get(key, {}).items():
                total[k] = total.get(k, 0) + n
            out[key] = total
        else:
            out[key] = value + b.get(key, 0)
    return out


def _listable(numbers: Any, field: str) -> list[str]:
    """Numbers of an UpdateList request, normalised (so the journal has one entry a number,
    however it was written); an invalid or empty one refuses the whole request."""
    out = []
    for i, raw in enumerate(numbers):
        try:
            number = rc.normalize(raw)
        except InvalidNumberError as exc:
            raise InvalidNumberError(f"{field}[{i}]: {exc}") from None
        if not number:
            raise InvalidArgumentError(f"{field}[{i}]: {raw!r} has no digits; a list holds numbers")
        out.append(number)
    return out


def _apply_lists(engine: Engine, lists: list[tuple[str, list[str], list[str]]]) -> list[tuple[str, str]]:
    """Applies list updates to an engine not serving yet; the ones it refuses, with why."""
    refused = []
    for name, add, remove in lists:
        try:
            engine.update_list(name, add, remove)
        except RoutecoreError as exc:
            refused.append((name, str(exc)))
    return refused


def _failed(request: bytes, code: str, message: str) -> bytes:
    """The stand-in decision of a request not decided inside a stream: its call id (unless the
    engine would refuse that id: then none, as the engine's own stand-ins echo none) and `error`."""
    call_id = ""
    with contextlib.suppress(Exception):
        given = pb.RouteRequest.FromString(request).call_id
        check_call_id(given)
        call_id = given
    return pb.RouteDecision(call_id=call_id, error=pb.Error(code=code, message=message)).SerializeToString()


def _problems(exc: BaseException) -> list[pb.PlanProblem]:
    issues = getattr(exc, "errors", None)
    if issues:
        return [pb.PlanProblem(file=i.file, line=i.line or 0, path=i.path, message=i.message) for i in issues]
    pairs = getattr(exc, "issues", None)  # from the Rust compiler: (path of keys, message)
    if pairs:
        return [pb.PlanProblem(path=".".join(p), message=m) for p, m in pairs]
    return [pb.PlanProblem(message=str(exc))]


class _Slot:
    """One routing RPC in flight. Released when its handler ends (`finally`), so the count is
    exact the moment the answer is out; and, for an RPC whose handler never ran (cancelled before
    its request arrived), when the handler is dropped, so the count cannot leak either. Dropping
    alone is not enough: grpc's objects hold handlers in reference cycles, freed only by the
    garbage collector, which left the count (and `routecore_grpc_in_flight`) 20-odd too high."""

    __slots__ = ("held", "router")

    def __init__(self, router: _RouterHandlers) -> None:
        self.router = router
        self.held = True
        router.in_flight += 1

    def release(self) -> None:
        """Frees the slot; only the first call counts."""
        if self.held:
            self.held = False
            self.router.in_flight -= 1

    def __del__(self) -> None:
        self.release()


async def _with_slot(fn: Callable[..., Any], slot: _Slot, request: Any, context: Any) -> Any:
    try:
        return await fn(request, context)
    finally:
        slot.release()


async def _stream_with_slot(
    fn: Callable[..., AsyncIterator[bytes]], slot: _Slot, requests: Any, context: Any
) -> AsyncIterator[bytes]:
    try:
        async for item in fn(requests, context):
            yield item
    finally:
        slot.release()


class _RouterHandlers(grpc.GenericRpcHandler):
    """`routecore.v1.Router` on raw bytes, with the in-flight cap.

    The cap is taken when grpc looks the method up, i.e. when the call arrives, before its
    request is read: it counts calls waiting for the event loop too, which is where they would
    otherwise queue. Calls grpc's core has not handed to Python yet are bounded by the core
    itself (`build_server`): refusing them here would cost as much as answering them.
    """

    def __init__(self, service: Service) -> None:
        self.in_flight = 0
        self.limit = service.options.max_in_flight
        # No (de)serialisers on the routing methods: the Rust core reads and writes the bytes.
        self._unary = {
            f"/{ROUTER}/RouteCall": service.route_call,
            f"/{ROUTER}/RouteBatch": service.route_batch,
        }
        self._stream = {f"/{ROUTER}/RouteStream": service.route_stream}
        # Reports wait for the record store's commit: not routing calls, so not under the cap (a
        # slow disk must not make routing shed).
        self._report = {f"/{ROUTER}/ReportCall": _proto_handler(service.report_call, pb.CallEvent)}
        self._shed_unary = grpc.unary_unary_rpc_method_handler(_overloaded)
        self._shed_stream = grpc.stream_stream_rpc_method_handler(_overloaded_stream)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        unary = self._unary.get(method)
        if unary is not None:
            if self.overloaded():
                return self._shed_unary
            return grpc.unary_unary_rpc_method_handler(functools.partial(_with_slot, unary, _Slot(self)))
        stream = self._stream.get(method)
        if stream is not None:
            if self.overloaded():
                return self._shed_stream
            return grpc.stream_stream_rpc_method_handler(
                functools.partial(_stream_with_slot, stream, _Slot(self))
            )
        return self._report.get(method)

    def overloaded(self) -> bool:
        return self.in_flight >= self.limit


async def _overloaded(request: Any, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "overloaded: too many calls in flight; retry later"
    )
    raise AssertionError("unreachable")


async def _overloaded_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    await context.abort(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "overloaded: too many calls in flight; retry later"
    )
    yield b""  # unreachable: makes this an async generator


def _registered_router(service: Service) -> dict[str, grpc.RpcMethodHandler]:
    """Router without the in-flight cap, as registered methods (matched in grpc's core, no
    Python lookup per call)."""
    return {
        "RouteCall": grpc.unary_unary_rpc_method_handler(service.route_call),
        "RouteStream": grpc.stream_stream_rpc_method_handler(service.route_stream),
        "RouteBatch": grpc.unary_unary_rpc_method_handler(service.route_batch),
        "ReportCall": _proto_handler(service.report_call, pb.CallEvent),
    }


def _handlers(service: Service) -> list[grpc.GenericRpcHandler]:
    admin_methods: dict[str, tuple[Callable[..., Awaitable[Any]], Any]] = {
        "ReloadPlan": (service.reload_plan, pb.ReloadPlanRequest),
        "GetPlan": (service.get_plan, pb.GetPlanRequest),
        "UpdateList": (service.update_list, pb.UpdateListRequest),
        "GetStats": (service.get_stats, pb.GetStatsRequest),
    }
    admin = grpc.method_handlers_generic_handler(
        ADMIN,
        {name: _proto_handler(fn, request_type) for name, (fn, request_type) in admin_methods.items()},
    )
    service.router = _RouterHandlers(service)
    return [service.router, admin]


class PlanWatcher:
    """Polls the service's plan file and its list files (`stat`: time, size, inode) and reloads
    when one changes. A plan that fails, a file deleted or half written, is logged once per
    change and the old plan keeps serving; the next change is tried again."""

    def __init__(self, service: Service, interval: float) -> None:
        self.service = service
        self.interval = interval

    def files(self) -> list[Path]:
        """The plan file and the list files of the plan now serving."""
        assert self.service.plan_path is not None
        out = [self.service.plan_path]
        loaded = getattr(self.service.engine, "loaded", None)
        if loaded is not None:
            for spec in loaded.model.lists.values():
                if spec.file:
                    out.append(loaded.base_dir / spec.file)  # an absolute `file` stays absolute
        return out

    @staticmethod
    def signature(files: list[Path]) -> tuple[tuple[Any, ...], ...]:
        out: list[tuple[Any, ...]] = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                out.append((str(f), None))
            else:
                out.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    async def run(self) -> None:
        files = self.files()
        seen = self.signature(files)
        while True:
            await asyncio.sleep(self.interval)
            try:
                now = self.signature(files)
                if now == seen:
                    continue
                seen = now
                if now[0][1] is None:
                    log.warning(
                        "watch: plan file %s is gone; the current plan keeps serving",
                        files[0],
                        extra={"event": "reload_refused"},
                    )
                    continue
                await self.service.reload_file("watch")
                # The new plan may name other list files.
                if (current := self.files()) != files:
                    files, seen = current, self.signature(current)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watcher must never take the service down
                log.error("watch: %r", exc, exc_info=exc)


def build_server(
    target: Engine | Service | None,
    *,
    records: RecordSink | None = None,
    options: ServerOptions | None = None,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A `grpc.aio` server with Router, Admin, health and reflection; add a port, then start it.

    Args:
        target: the engine to serve (or None: UNAVAILABLE until ReloadPlan), or a ready `Service`.
        records: where reported call events become durable records (ignored with a `Service`).
        options: limits, admin token, grace (ignored with a `Service`).
    """
    service = target if isinstance(target, Service) else Service(target, records=records, options=options)
    opts = service.options
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", opts.max_message_bytes),
            # Unlimited: every RouteBatch accepted (`max_batch_requests`) has its decisions
            # taken; refusing to send them would lose what they changed.
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),
            # Calls the core holds until the Python server picks them up: past `max_queued` it
            # drops new ones at random, all of them past twice that (a bare CANCELLED, at once).
            # That bound is what keeps the server answering at full rate under overload: a call
            # refused in Python costs 0.9x a call answered (grpc.aio's per-call work, measured),
            # so refusing in Python what waits in the core spent the whole CPU on refusals
            # (198 answered in 6 s at 1,000 calls in flight; 29,165 with the core's bound).
            ("grpc.server.max_pending_requests", opts.max_queued),
            ("grpc.server.max_pending_requests_hard_limit", 2 * opts.max_queued),
        ],
    )
    if opts.max_in_flight > 0:
        server.add_generic_rpc_handlers(_handlers(service))
    else:
        server.add_registered_method_handlers(ROUTER, _registered_router(service))
        server.add_generic_rpc_handlers(_handlers(service)[1:])
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    names = (ROUTER, ADMIN, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    server.routecore_service = service  # type: ignore[attr-defined]
    return server, checker


def service_of(server: grpc.aio.Server) -> Service:
    """The `Service` behind a server made by `build_server`."""
    return server.routecore_service  # type: ignore[attr-defined,no-any-return]


async def mark_serving(checker: health.aio.HealthServicer) -> None:
    for name in ("", ROUTER, ADMIN):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)


async def shutdown(server: grpc.aio.Server, checker: health.aio.HealthServicer, grace: float) -> None:
    """Probes see NOT_SERVING first; new calls are refused; in-flight ones get `grace` seconds."""
    service = service_of(server)
    await checker.enter_graceful_shutdown()
    service.closing = True
    await server.stop(grace)
    records = service.records
    if records is not None:
        # Commits what is pending; off the loop, as the store's close waits for its writer.
        await asyncio.to_thread(records.close)


def _lower_answering_priority(levels: int) -> None:
    """Lowers this thread's priority by `levels` nice levels, after grpc has started its threads.

    On Linux a thread id given to setpriority names that thread alone, so grpc's transport
    threads keep theirs; elsewhere it would name the whole process, so nothing is done."""
    if levels <= 0 or sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + levels))
    except OSError as exc:  # e.g. a seccomp profile that forbids it: serve anyway
        log.warning("cannot lower the answering thread's priority: %s", exc)


async def serve(
    engine: Engine | None,
    address: str = "127.0.0.1:50051",
    *,
    records: RecordSink | None = None,
    options: ServerOptions | None = None,
    started: Callable[[int], None] | None = None,
    extra: Callable[[Service], Awaitable[Callable[[], Awaitable[None]]]] | None = None,
    plan_path: Path | None = None,
    watch: float | None = None,
    broadcast: tuple[str, str] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully (health first, then `stop(grace)`).

    SIGHUP reloads `plan_path`; with `watch`, the plan file and its list files are polled every
    `watch` seconds and a change reloads. A plan that fails (or a file gone) is logged and the
    old plan keeps serving. Persisted list updates are applied before the first call is served.

    Args:
        engine: the engine to serve.
        address: host:port to listen on (port 0: any free port, passed to `started`).
        records: the call-record sink for ReportCall.
        options: limits, admin token, grace.
        started: called with the bound port once serving.
        extra: starts a companion server (HTTP) on the same service; returns its stop coroutine.
        plan_path: the plan file SIGHUP and the watcher reload (None: the embedded demo plan).
        watch: poll interval in seconds for the plan file and its list files (None: no watching).
        broadcast: (Redis URL, prefix): reloads and list updates go to every node and come from
            them (`cluster.Broadcast`); None for a single node.
    """
    from routecore.cluster import Broadcast, StateWatch

    service = Service(engine, records=records, options=options, plan_path=plan_path)
    restoring: asyncio.Task[None] | None = None
    try:
        service.restore_lists()
    except RecordStoreError as exc:
        # A record disk unreadable at start must not stop routing; the updates come back later.
        log.error(
            "persisted list updates cannot be read, routing on the plan's lists until they can: %s",
            exc,
            extra={"event": "lists_unavailable"},
        )
        restoring = asyncio.get_running_loop().create_task(service.restore_lists_when_readable())
    background: list[asyncio.Task[Any]] = []
    if broadcast is not None:
        service.broadcast = Broadcast(*broadcast)
        background.append(asyncio.get_running_loop().create_task(service.broadcast.run(service)))
    if engine is not None and engine.state_backend != "local":
        background.append(asyncio.get_running_loop().create_task(StateWatch(service).run()))
    server, checker = build_server(service)
    tls = service.options.tls
    if tls is not None:
        port = server.add_secure_port(address, tls.grpc_credentials())
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    await server.start()
    try:
        _lower_answering_priority(service.options.loop_nice)
        await mark_serving(checker)
        stop_extra = await extra(service) if extra is not None else None
    except BaseException:
        # The HTTP twin could not start (its address taken): stop what did start, so the caller
        # reports one clean error instead of a server left to die with the event loop.
        for task in (restoring, *background):
            if task is not None:
                task.cancel()
        await server.stop(0)
        raise
    log.info(
        "serving gRPC on %s (plan %s)%s",
        address.rsplit(":", 1)[0] + f":{port}",
        engine.version if engine is not None else "none",
        (" with mutual TLS" if tls.mutual else " with TLS") if tls else "",
        extra={"event": "serving", "address": address},
    )
    if started is not None:
        started(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks: set[asyncio.Task[Any]] = set()

    def hangup() -> None:
        task = loop.create_task(service.reload_file("SIGHUP"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)
    watcher = loop.create_task(PlanWatcher(service, watch).run()) if watch and plan_path is not None else None
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        for task in (watcher, restoring, *tasks, *background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if service.broadcast is not None:
            await service.broadcast.close()
    log.info("shutting down (grace %.1fs)", service.options.grace, extra={"event": "shutdown"})
    if stop_extra is not None:
        await stop_extra()
    await shutdown(server, checker, service.options.grace)
    log.info("stopped", extra={"event": "stopped"})
