"""`PostgresRecordStore`: call events and CDRs in PostgreSQL, shared by every routecore node.

Same promise as the SQLite store: an event is acknowledged only after the transaction holding
it committed (PostgreSQL's default `synchronous_commit=on`: the WAL is flushed to disk before
COMMIT returns), and group commit shares that flush among every event of a batch. Each node
has its own writer thread and connection; the database serialises them.

Nodes write concurrently, and a call's ANSWERED and ENDED may reach different nodes: each
transaction first takes a transaction-scoped advisory lock per call id of its batch (in one
sorted order, so two batches never deadlock), so the ENDED that builds the CDR always sees an
ANSWERED committed before it, and an ANSWERED committed after it completes the CDR instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any, Final

from routecore.records._base import _EVENTS, _LIST, GroupCommitStore, _Item, log
from routecore.records._model import (
    ANSWERED,
    Ack,
    CallEvent,
    CallRecord,
    DecisionContext,
    StoreUnavailableError,
    build_record,
)
from routecore.records.sqlite import _CALL_COLUMNS, _range, _record_row, _row_record

__all__ = ["PostgresRecordStore", "is_postgres_dsn"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    seq              BIGSERIAL PRIMARY KEY,
    call_id          TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    at_ms            BIGINT  NOT NULL,
    duration_seconds BIGINT  NOT NULL,
    disposition      TEXT    NOT NULL,
    context          BYTEA,
    received_ms      BIGINT  NOT NULL,
    UNIQUE (call_id, type)
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
CREATE TABLE IF NOT EXISTS calls (
    call_id          TEXT PRIMARY KEY,
    tenant           TEXT    NOT NULL,
    called           TEXT    NOT NULL,
    caller           TEXT    NOT NULL,
    caller_kind      TEXT    NOT NULL,
    province         TEXT    NOT NULL,
    city             TEXT    NOT NULL,
    carrier          TEXT    NOT NULL,
    rule             TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    answered_at_ms   BIGINT,
    ended_at_ms      BIGINT  NOT NULL,
    duration_seconds BIGINT  NOT NULL,
    disposition      TEXT    NOT NULL,
    rate_per_minute  DOUBLE PRECISION,
    billed_minutes   BIGINT  NOT NULL,
    cost             DOUBLE PRECISION,
    plan_version     TEXT    NOT NULL,
    context_known    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_ended ON calls (ended_at_ms);
CREATE INDEX IF NOT EXISTS calls_tenant_ended ON calls (tenant, ended_at_ms);
CREATE TABLE IF NOT EXISTS list_changes (
    list_name        TEXT    NOT NULL,
    number           TEXT    NOT NULL,
    op               TEXT    NOT NULL CHECK (op IN ('add', 'remove')),
    changed_ms       BIGINT  NOT NULL,
    PRIMARY KEY (list_name, number)
);
"""

# One constant key: nodes starting together create the schema one at a time.
_SCHEMA_LOCK: Final = 0x726F757465636F72
_INSERT_EVENT: Final = (
    "INSERT INTO events (call_id, type, target, at_ms, duration_seconds, disposition, context, "
    "received_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (call_id, type) DO NOTHING "
    "RETURNING seq"
)
_INSERT_CALL: Final = f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({', '.join(['%s'] * 19)})"
_LATE_ANSWER: Final = (
    "UPDATE calls SET answered_at_ms = %s, target = CASE WHEN target = '' THEN %s ELSE target END, "
    "disposition = CASE WHEN disposition = 'unanswered' THEN 'answered' ELSE disposition END "
    "WHERE call_id = %s AND answered_at_ms IS NULL"
)
_UPSERT_LIST: Final = (
    "INSERT INTO list_changes (list_name, number, op, changed_ms) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (list_name, number) DO UPDATE SET op = excluded.op, changed_ms = excluded.changed_ms"
)
_LOCK_CALLS: Final = (
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(c) AS h FROM unnest(%s::text[]) AS c) "
    "AS ids ORDER BY h"
)


def is_postgres_dsn(spec: str) -> bool:
    """True for a PostgreSQL connection URI (`postgresql://…` or `postgres://…`)."""
    return spec.startswith(("postgresql://", "postgres://"))


def _redact(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return dsn


class PostgresRecordStore(GroupCommitStore):
    """The shared record store: PostgreSQL, group commit, acknowledged only after COMMIT.

    Args:
        dsn: a `postgresql://user@host:port/db` URI (libpq's; `?host=/socket/dir` works too).
        connect_timeout: seconds to wait for a connection.
        max_batch, max_pending, decision_ttl, decision_max: see `GroupCommitStore`.
        strict: raise at once if the database cannot be reached (default). With `strict=False`
            the store starts anyway and every write fails with `StoreUnavailableError` until it
            can (routing is never affected).

    Raises:
        StoreUnavailableError: (strict) the database cannot be reached or its schema created.
    """

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 5.0,
        max_batch: int = 2048,
        max_pending: int = 20_000,
        decision_ttl: float = 900.0,
        decision_max: int = 1_000_000,
        strict: bool = True,
    ) -> None:
        if not is_postgres_dsn(dsn):
            raise ValueError(f"dsn: {_redact(dsn)!r} is not a postgresql:// URI")
        super().__init__(
            max_batch=max_batch,
            max_pending=max_pending,
            decision_ttl=decision_ttl,
            decision_max=decision_max,
        )
        self.dsn = dsn
        self.shown = _redact(dsn)
        self._connect_timeout = max(1, round(connect_timeout))
        self._conn: Any = None
        try:
            self._conn = self._open()
        except StoreUnavailableError as e:
            if strict:
                raise
            self._last_error = str(e)
            log.error("%s; writes fail until it can be reached", e)
        self._start()

    def _connect(self, doing: str) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.dsn, connect_timeout=self._connect_timeout, autocommit=True)
        except psycopg.Error as e:
            raise StoreUnavailableError(f"record store {self.shown}: {doing}: {e}") from e

    def _open(self) -> Any:
        import psycopg

        conn = self._connect("cannot connect")
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(_SCHEMA)
        except psycopg.Error as e:
            conn.close()
            raise StoreUnavailableError(f"record store {self.shown}: cannot create the schema: {e}") from e
        return conn

    # --- writes (the writer thread) --------------------------------------------------------------

    def _commit(self, batch: Sequence[_Item]) -> list[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = self._open()
        conn = self._conn
        now = time.time_ns() // 1_000_000
        call_ids = sorted({ev.call_id for item in batch if item.kind == _EVENTS for ev in item.events})
        try:
            results: list[Any] = []
            with conn.transaction():
                if call_ids:
                    conn.execute(_LOCK_CALLS, (call_ids,))
                for item in batch:
                    if item.kind == _EVENTS:
                        results.append(
                            [
                                self._put(conn, ev, ctx, now)
                                for ev, ctx in zip(item.events, item.contexts, strict=True)
                            ]
                        )
                    elif item.kind == _LIST:
                        assert item.list_change is not None
                        name, add, remove = item.list_change
                        with conn.cursor() as cur:
                            cur.executemany(_UPSERT_LIST, [(name, n, "add", now) for n in add])
                            cur.executemany(_UPSERT_LIST, [(name, n, "remove", now) for n in remove])
                        results.append(None)
                    else:
                        results.append(None)
            # Leaving the block committed (durably: synchronous_commit) or raised.
            return results
        except psycopg.Error as e:
            if conn.closed or isinstance(e, psycopg.OperationalError):
                # The server went away or the connection broke: start afresh with the next batch.
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                self._conn = None
            raise StoreUnavailableError(f"record store {self.shown}: cannot write: {e}") from e

    @staticmethod
    def _put(conn: Any, ev: CallEvent, ctx: DecisionContext | None, now: int) -> Ack:
        stored_ctx = ctx.to_json() if ctx is not None and ev.type == ANSWERED else None
        row = conn.execute(
            _INSERT_EVENT,
            (ev.call_id, ev.type, ev.target, ev.at_ms, ev.duration_seconds, ev.disposition, stored_ctx, now),
        ).fetchone()
        if row is None:
            seq = conn.execute(
                "SELECT seq FROM events WHERE call_id = %s AND type = %s", (ev.call_id, ev.type)
            ).fetchone()[0]
            return Ack(ev.call_id, ev.type, True, seq)
        seq = row[0]
        if ev.type == ANSWERED:
            conn.execute(_LATE_ANSWER, (ev.at_ms, ev.target, ev.call_id))
        else:
            found = conn.execute(
                "SELECT target, at_ms, duration_seconds, disposition, context FROM events "
                "WHERE call_id = %s AND type = 'ANSWERED'",
                (ev.call_id,),
            ).fetchone()
            answered = None
            if found is not None:
                answered = CallEvent(ev.call_id, ANSWERED, found[0], found[1], found[2], found[3])
                if ctx is None and found[4] is not None:
                    ctx = DecisionContext.from_json(bytes(found[4]))
            conn.execute(_INSERT_CALL, _record_row(build_record(ev, answered, ctx)))
        return Ack(ev.call_id, ev.type, False, seq)

    def _close_backend(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()

    # --- reads (any thread) ----------------------------------------------------------------------

    def _query(self, sql: str, args: Sequence[Any]) -> Generator[Sequence[Any], None, None]:
        import psycopg

        conn = self._connect("cannot read")
        try:
            # One read-only transaction and a server-side cursor: one snapshot, O(1) memory.
            conn.read_only = True
            with conn.transaction(), conn.cursor(name="routecore_read") as cur:
                cur.itersize = 1024
                cur.execute(sql, args)
                yield from cur
        except psycopg.Error as e:
            raise StoreUnavailableError(f"record store {self.shown}: cannot read: {e}") from e
        finally:
            conn.close()

    def records(
        self,
        since: dt.datetime | float | str | None = None,
        until: dt.datetime | float | str | None = None,
        *,
        tenant: str | None = None,
    ) -> Iterator[CallRecord]:
        """CDRs of calls that ended in [since, until) (None = unbounded), by end time (lazy)."""
        lo, hi = _range(since, until)
        sql = f"SELECT {_CALL_COLUMNS} FROM calls WHERE ended_at_ms >= %s AND ended_at_ms < %s"
        args: list[Any] = [lo, hi]
        if tenant is not None:
            sql += " AND tenant = %s"
            args.append(tenant)
        sql += " ORDER BY ended_at_ms, call_id"
        return map(_row_record, self._query(sql, args))

    def events(
        self,
        since: dt.datetime | float | str | None = None,
        until: dt.datetime | float | str | None = None,
    ) -> Iterator[CallEvent]:
        """Raw events with time in [since, until), by time then arrival."""
        lo, hi = _range(since, until)
        rows = self._query(
            "SELECT call_id, type, target, at_ms, duration_seconds, disposition FROM events "
            "WHERE at_ms >= %s AND at_ms < %s ORDER BY at_ms, seq",
            (lo, hi),
        )
        return (CallEvent(*row) for row in rows)

    def record(self, call_id: str) -> CallRecord | None:
        """The CDR of one call, or None (not ended, or unknown)."""
        rows = self._query(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = %s", (call_id,))
        try:
            row = next(rows, None)
        finally:
            rows.close()  # closes its connection now, not when collected
        return None if row is None else _row_record(row)

    def list_changes(self) -> dict[str, tuple[list[str], list[str]]]:
        """Every persisted live list change: {list name: (added numbers, removed numbers)}, sorted."""
        out: dict[str, tuple[list[str], list[str]]] = {}
        for name, number, op in self._query(
            "SELECT list_name, number, op FROM list_changes ORDER BY list_name, number", ()
        ):
            added, removed = out.setdefault(name, ([], []))
            (added if op == "add" else removed).append(number)
        return out
