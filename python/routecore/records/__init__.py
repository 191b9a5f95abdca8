"""Call reports and records: durable call events, call detail records (CDRs) and live list changes.

The server reports each call event to the engine (slots) and appends it here; it acknowledges
the switch only when `append`/`append_async` returned, that is once the event and the CDR it
completes are durable. A replayed event (same call_id and type) is acknowledged as a duplicate
and stored once. Errors derive from `RecordStoreError`: nothing was stored, do not acknowledge;
routing is never affected by them.

    store = open_record_store("records.db")       # or "postgresql://user@host/db" (shared by nodes)
    store.remember_decision(decision, called=request.called)        # on each routed call
    ack = await store.append_async(CallEvent.create("c1", "ENDED", "13800000010", at, 180))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from routecore.records._base import GroupCommitStore
from routecore.records._model import (
    ANSWERED,
    ENDED,
    MAX_CALL_ID,
    Ack,
    CallEvent,
    CallRecord,
    DecisionCache,
    DecisionContext,
    RecordStoreError,
    StoreClosedError,
    StoreOverloadedError,
    StoreStats,
    StoreUnavailableError,
    build_record,
    check_call_id,
    check_disposition,
    check_event_text,
)
from routecore.records.postgres import PostgresRecordStore, is_postgres_dsn
from routecore.records.sqlite import SqliteRecordStore

__all__ = [
    "ANSWERED",
    "ENDED",
    "MAX_CALL_ID",
    "Ack",
    "CallEvent",
    "CallRecord",
    "DecisionCache",
    "DecisionContext",
    "GroupCommitStore",
    "PostgresRecordStore",
    "RecordStore",
    "RecordStoreError",
    "SqliteRecordStore",
    "StoreClosedError",
    "StoreOverloadedError",
    "StoreStats",
    "StoreUnavailableError",
    "build_record",
    "check_call_id",
    "check_disposition",
    "check_event_text",
    "open_record_store",
]

Instant = dt.datetime | float | str | None


@runtime_checkable
class RecordStore(Protocol):
    """What the servers and the statistics need from a record store (SQLite, PostgreSQL).

    Writes are durable when they return (or when the awaitable resolves), thread-safe, and
    raise a `RecordStoreError` subclass when nothing was stored.
    """

    def remember_decision(self, decision: Any, called: str = "", *, call_id: str | None = None) -> None: ...
    def append(self, event: CallEvent, *, timeout: float | None = None) -> Ack: ...
    def append_many(self, events: Sequence[CallEvent], *, timeout: float | None = None) -> list[Ack]: ...
    async def append_async(self, event: CallEvent) -> Ack: ...
    async def append_many_async(self, events: Sequence[CallEvent]) -> list[Ack]: ...
    def save_list_change(
        self,
        list_name: str,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        *,
        timeout: float | None = None,
    ) -> None: ...
    async def save_list_change_async(
        self, list_name: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None: ...
    def list_changes(self) -> dict[str, tuple[list[str], list[str]]]: ...
    def records(
        self, since: Instant = None, until: Instant = None, *, tenant: str | None = None
    ) -> Iterator[CallRecord]: ...
    def events(self, since: Instant = None, until: Instant = None) -> Iterator[CallEvent]: ...
    def record(self, call_id: str) -> CallRecord | None: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...
    def stats(self) -> StoreStats: ...
    @property
    def pending(self) -> int: ...


def open_record_store(
    spec: str | Any, *, strict: bool = True, read_only: bool = False
) -> SqliteRecordStore | PostgresRecordStore:
    """The record store a `--cdr` value names: a `postgresql://…` URI (one database shared by
    every node) or the path of an SQLite file (one node). `read_only`: for reports, an existing
    record database is only read, never created nor written (see the two stores).

    Raises:
        StoreUnavailableError: (strict) the store cannot be opened; the message says why.
        FileNotFoundError, IsADirectoryError: (read_only, SQLite) no such file / a directory.
    """
    text = str(spec)
    if is_postgres_dsn(text):
        return PostgresRecordStore(text, strict=strict, read_only=read_only)
    return SqliteRecordStore(text, strict=strict, read_only=read_only)
