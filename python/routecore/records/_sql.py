"""What the SQL record stores share: statements, event -> CDR building, the batch loop, the reads.

`SqlRecordStore` holds everything that does not depend on the database: the statements (written
once, in the backend's parameter style), how an event is stored and its duplicate detected, how
an ENDED builds the CDR from its ANSWERED, how a late ANSWERED builds it again, the list changes,
and the reads. A backend (`sqlite.py`, `postgres.py`) keeps only its dialect and connection:
the schema, opening, the transaction and its error handling, and how one insert reports its row.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from routecore.records._base import _EVENTS, _LIST, GroupCommitStore, _Item, log
from routecore.records._model import (
    ANSWERED,
    ENDED,
    Ack,
    CallEvent,
    CallRecord,
    DecisionContext,
    StoreUnavailableError,
    _utc,
    build_record,
    to_ms,
)

__all__ = ["CALL_COLUMNS", "SqlRecordStore", "Statements", "schema"]

CALL_COLUMNS: Final = (
    "call_id, tenant, called, caller, caller_kind, province, city, carrier, rule, target, "
    "answered_at_ms, ended_at_ms, duration_seconds, disposition, rate_per_minute, billed_minutes, "
    "cost, plan_version, context_known"
)


def schema(*, seq: str, integer: str, blob: str, real: str, table_options: str = "") -> str:
    """The tables and indexes (`CREATE … IF NOT EXISTS`), in a backend's column types.

    Args:
        seq: the events' arrival sequence column type, its primary key.
        integer: a 64-bit integer (ms since the epoch, seconds, minutes).
        blob: bytes (the decision context, JSON).
        real: a double.
        table_options: after the list changes table (a keyed table without a row id).
    """
    return f"""
CREATE TABLE IF NOT EXISTS events (          -- every ReportCall event, once per (call_id, type)
    seq              {seq},
    call_id          TEXT    NOT NULL,
    type             TEXT    NOT NULL,       -- ANSWERED | ENDED
    target           TEXT    NOT NULL,
    at_ms            {integer} NOT NULL,       -- event time, ms since the epoch (UTC)
    duration_seconds {integer} NOT NULL,
    disposition      TEXT    NOT NULL,
    context          {blob},                   -- the decision context (JSON), if known
    received_ms      {integer} NOT NULL,
    UNIQUE (call_id, type)
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
CREATE TABLE IF NOT EXISTS calls (           -- the call detail records, written on ENDED
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
    answered_at_ms   {integer},
    ended_at_ms      {integer} NOT NULL,
    duration_seconds {integer} NOT NULL,
    disposition      TEXT    NOT NULL,
    rate_per_minute  {real},                   -- NULL: the decision is unknown
    billed_minutes   {integer} NOT NULL,
    cost             {real},                   -- NULL: unknown (no rate), never "free" by mistake
    plan_version     TEXT    NOT NULL,
    context_known    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_ended ON calls (ended_at_ms);
CREATE INDEX IF NOT EXISTS calls_tenant_ended ON calls (tenant, ended_at_ms);
CREATE TABLE IF NOT EXISTS list_changes (    -- live UpdateList changes: the latest op per number
    list_name        TEXT    NOT NULL,
    number           TEXT    NOT NULL,
    op               TEXT    NOT NULL CHECK (op IN ('add', 'remove')),
    changed_ms       {integer} NOT NULL,
    PRIMARY KEY (list_name, number)
){table_options};
"""


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements both backends run, with `p` as the parameter placeholder ("?" or "%s")."""

    insert_event: str
    event_seq: str
    answered_event: str
    ended_event: str
    insert_call: str
    delete_call: str
    late_answer: str
    upsert_list: str
    records: str
    tenant_filter: str
    events: str
    record: str
    list_changes: str

    @classmethod
    def with_placeholder(cls, p: str) -> Statements:
        return cls(
            insert_event=(
                "INSERT INTO events (call_id, type, target, at_ms, duration_seconds, disposition, "
                f"context, received_ms) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (call_id, type) DO NOTHING"
            ),
            event_seq=f"SELECT seq FROM events WHERE call_id = {p} AND type = {p}",
            answered_event=(
                "SELECT target, at_ms, duration_seconds, disposition, context FROM events "
                f"WHERE call_id = {p} AND type = 'ANSWERED'"
            ),
            ended_event=(
                "SELECT target, at_ms, duration_seconds, disposition, context FROM events "
                f"WHERE call_id = {p} AND type = 'ENDED'"
            ),
            insert_call=f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join([p] * 19)})",
            delete_call=f"DELETE FROM calls WHERE call_id = {p}",
            # A late ANSWERED with no decision context anywhere (an ENDED stored before contexts
            # were kept with it): only the answer time and target are filled in, the context the
            # record was built with is kept.
            late_answer=(
                f"UPDATE calls SET answered_at_ms = {p}, "
                f"target = CASE WHEN target = '' THEN {p} ELSE target END, "
                "disposition = CASE WHEN disposition = 'unanswered' THEN 'answered' ELSE disposition END "
                f"WHERE call_id = {p} AND answered_at_ms IS NULL"
            ),
            upsert_list=(
                f"INSERT INTO list_changes (list_name, number, op, changed_ms) VALUES ({p}, {p}, {p}, {p}) "
                "ON CONFLICT (list_name, number) DO UPDATE SET op = excluded.op, "
                "changed_ms = excluded.changed_ms"
            ),
            records=f"SELECT {CALL_COLUMNS} FROM calls WHERE ended_at_ms >= {p} AND ended_at_ms < {p}",
            tenant_filter=f" AND tenant = {p}",
            events=(
                "SELECT call_id, type, target, at_ms, duration_seconds, disposition FROM events "
                f"WHERE at_ms >= {p} AND at_ms < {p} ORDER BY at_ms, seq"
            ),
            record=f"SELECT {CALL_COLUMNS} FROM calls WHERE call_id = {p}",
            list_changes="SELECT list_name, number, op FROM list_changes ORDER BY list_name, number",
        )


def _ms(t: dt.datetime | None) -> int | None:
    return None if t is None else round(t.timestamp() * 1000)


def _record_row(r: CallRecord) -> tuple[Any, ...]:
    return (
        r.call_id,
        r.tenant,
        r.called,
        r.caller,
        r.caller_kind,
        r.province,
        r.city,
        r.carrier,
        r.rule,
        r.target,
        _ms(r.answered_at),
        _ms(r.ended_at),
        r.duration_seconds,
        r.disposition,
        r.rate_per_minute,
        r.billed_minutes,
        r.cost,
        r.plan_version,
        int(r.context_known),
    )


def _row_record(row: Sequence[Any]) -> CallRecord:
    ended = _utc(row[11])
    assert ended is not None
    (call_id, tenant, called, caller, kind, province, city, carrier, rule, target) = row[:10]
    return CallRecord(
        call_id, tenant, called, caller, kind, province, city, carrier, rule, target,
        _utc(row[10]), ended, row[12], row[13], row[14], row[15], row[16], row[17], bool(row[18]),
    )  # fmt: skip


def _range(since: Any, until: Any) -> tuple[int, int]:
    lo = -(2**62) if since is None else to_ms(since, field="since")
    hi = 2**62 if until is None else to_ms(until, field="until")
    return lo, hi


class SqlRecordStore(GroupCommitStore):
    """A `GroupCommitStore` over SQL tables; see the module docstring for what a backend adds.

    A backend sets `_SQL` (`Statements.with_placeholder`) and implements `_open` (a writer
    connection with the schema), `_commit` (its transaction around `_write`), `_insert_event`,
    `_executemany`, `_query` and `_close_backend`; it calls `_open_writer` last in `__init__`.
    """

    _SQL: ClassVar[Statements]
    _conn: Any = None

    # --- the backend -----------------------------------------------------------------------------

    @abstractmethod
    def _open(self) -> Any:
        """A new writer connection, the schema in place.

        Raises:
            StoreUnavailableError: the database cannot be opened or its schema created.
        """

    @abstractmethod
    def _insert_event(self, conn: Any, params: tuple[Any, ...]) -> int | None:
        """Run `_SQL.insert_event`: the new row's seq, or None when (call_id, type) was there."""

    @abstractmethod
    def _executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def _query(self, sql: str, args: Sequence[Any]) -> Generator[Sequence[Any], None, None]:
        """The rows of one read, lazily, from one snapshot; closing it closes its connection.

        Raises:
            StoreUnavailableError: the database cannot be read.
        """

    def _open_writer(self, *, strict: bool, until: str) -> None:
        """Open the writer connection and start the writer thread; see the backends' `strict`."""
        try:
            self._conn = self._open()
        except StoreUnavailableError as e:
            if strict:
                raise
            self._last_error = str(e)
            log.error("%s; writes fail until it %s", e, until)
        self._start()

    # --- writes (the writer thread) --------------------------------------------------------------

    def _write(self, conn: Any, batch: Sequence[_Item], now: int) -> list[Any]:
        """Every item of `batch`, inside the backend's open transaction; the result of each."""
        results: list[Any] = []
        for item in batch:
            if item.kind == _EVENTS:
                pairs = zip(item.events, item.contexts, strict=True)
                results.append([self._put(conn, ev, ctx, now) for ev, ctx in pairs])
            elif item.kind == _LIST:
                assert item.list_change is not None
                name, add, remove = item.list_change
                self._executemany(conn, self._SQL.upsert_list, [(name, n, "add", now) for n in add])
                self._executemany(conn, self._SQL.upsert_list, [(name, n, "remove", now) for n in remove])
                results.append(None)
            else:
                results.append(None)
        return results

    def _put(self, conn: Any, ev: CallEvent, ctx: DecisionContext | None, now: int) -> Ack:
        # Kept with either event: the one that comes second builds the record with it.
        stored_ctx = ctx.to_json() if ctx is not None else None
        seq = self._insert_event(
            conn,
            (ev.call_id, ev.type, ev.target, ev.at_ms, ev.duration_seconds, ev.disposition, stored_ctx, now),
        )
        if seq is None:
            row = conn.execute(self._SQL.event_seq, (ev.call_id, ev.type)).fetchone()
            return Ack(ev.call_id, ev.type, True, row[0])
        if ev.type == ANSWERED:
            found = conn.execute(self._SQL.ended_event, (ev.call_id,)).fetchone()
            if found is not None:
                # The call ended first: its record is built again with the answer (answer time,
                # target, duration when ENDED said 0, rate and cost), as if the two came in order.
                ended = CallEvent(ev.call_id, ENDED, found[0], found[1], found[2], found[3])
                if ctx is None and found[4] is not None:
                    ctx = DecisionContext.from_json(bytes(found[4]))
                if ctx is None:
                    conn.execute(self._SQL.late_answer, (ev.at_ms, ev.target, ev.call_id))
                else:
                    conn.execute(self._SQL.delete_call, (ev.call_id,))
                    conn.execute(self._SQL.insert_call, _record_row(build_record(ended, ev, ctx)))
        else:
            found = conn.execute(self._SQL.answered_event, (ev.call_id,)).fetchone()
            answered = None
            if found is not None:
                answered = CallEvent(ev.call_id, ANSWERED, found[0], found[1], found[2], found[3])
                if ctx is None and found[4] is not None:
                    # bytes(): PostgreSQL may hand BYTEA back as a memoryview.
                    ctx = DecisionContext.from_json(bytes(found[4]))
            conn.execute(self._SQL.insert_call, _record_row(build_record(ev, answered, ctx)))
        return Ack(ev.call_id, ev.type, False, seq)

    # --- reads (any thread) ----------------------------------------------------------------------

    def records(
        self,
        since: dt.datetime | float | str | None = None,
        until: dt.datetime | float | str | None = None,
        *,
        tenant: str | None = None,
    ) -> Iterator[CallRecord]:
        """CDRs of calls that ended in [since, until) (None = unbounded), by end time.

        A lazy iterator over one snapshot (O(1) memory); stop early and it closes its connection.

        Raises:
            InvalidArgumentError: `since`/`until` is not an instant.
            StoreUnavailableError: the database cannot be read.
        """
        lo, hi = _range(since, until)
        sql = self._SQL.records
        args: list[Any] = [lo, hi]
        if tenant is not None:
            sql += self._SQL.tenant_filter
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
        return (CallEvent(*row) for row in self._query(self._SQL.events, (lo, hi)))

    def record(self, call_id: str) -> CallRecord | None:
        """The CDR of one call, or None (not ended, or unknown)."""
        rows = self._query(self._SQL.record, (call_id,))
        try:
            row = next(rows, None)
        finally:
            rows.close()  # closes its connection now, not when collected
        return None if row is None else _row_record(row)

    def list_changes(self) -> dict[str, tuple[list[str], list[str]]]:
        """Every persisted live list change: {list name: (added numbers, removed numbers)}, sorted.

        Apply them over the plan's lists at start and after every reload.
        """
        out: dict[str, tuple[list[str], list[str]]] = {}
        for name, number, op in self._query(self._SQL.list_changes, ()):
            added, removed = out.setdefault(name, ([], []))
            (added if op == "add" else removed).append(number)
        return out
