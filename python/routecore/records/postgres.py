"""`PostgresRecordStore`: call events and CDRs in PostgreSQL, shared by every routecore node.

Same promise as the SQLite store: an event is acknowledged only after the transaction holding
it committed (PostgreSQL's default `synchronous_commit=on`: the WAL is flushed to disk before
COMMIT returns), and group commit shares that flush among every event of a batch. Each node
has its own writer thread and connection; the database serialises them.

Nodes write concurrently, and a call's ANSWERED and ENDED may reach different nodes: each
transaction first takes a transaction-scoped advisory lock per call id of its batch (in one
sorted order, so two batches never deadlock), so the ENDED that builds the CDR always sees an
ANSWERED committed before it, and an ANSWERED committed after it builds the CDR again instead.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Sequence
from typing import Any, ClassVar, Final

from routecore.records._base import _EVENTS, _Item
from routecore.records._model import StoreUnavailableError
from routecore.records._sql import SqlRecordStore, Statements, schema

__all__ = ["PostgresRecordStore", "is_postgres_dsn"]

_SCHEMA: Final = schema(seq="BIGSERIAL PRIMARY KEY", integer="BIGINT", blob="BYTEA", real="DOUBLE PRECISION")

# One constant key: nodes starting together create the schema one at a time.
_SCHEMA_LOCK: Final = 0x726F757465636F72
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


class PostgresRecordStore(SqlRecordStore):
    """The shared record store: PostgreSQL, group commit, acknowledged only after COMMIT.

    Args:
        dsn: a `postgresql://user@host:port/db` URI (libpq's; `?host=/socket/dir` works too).
        connect_timeout: seconds to wait for a connection.
        max_batch, max_pending, decision_ttl, decision_max: see `GroupCommitStore`.
        strict: raise at once if the database cannot be reached (default). With `strict=False`
            the store starts anyway and every write fails with `StoreUnavailableError` until it
            can (routing is never affected).
        read_only: only read an existing record database (reports): no schema is created, no
            writer is started, writes are refused as to a closed store, and every read runs in
            a read-only transaction.

    Raises:
        StoreUnavailableError: (strict) the database cannot be reached or its schema created;
            (read_only) it cannot be reached, or holds no record tables.
    """

    _SQL: ClassVar = Statements.with_placeholder("%s")
    # RETURNING: a new row answers its seq, a duplicate (DO NOTHING) answers no row.
    _INSERT_EVENT_RETURNING: ClassVar = _SQL.insert_event + " RETURNING seq"

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
        read_only: bool = False,
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
        self._conn = None
        self.read_only = read_only
        if read_only:
            self._closing = True  # no writer: writes are refused as to a closed store
            self._check_database()
            return
        self._open_writer(strict=strict, until="can be reached")

    def _check_database(self) -> None:
        """(read_only) Refuses, before any report, a database without the record tables."""
        sql = "SELECT to_regclass('events') IS NOT NULL AND to_regclass('calls') IS NOT NULL"
        with contextlib.closing(self._query(sql, ())) as rows:
            tables = next(rows)[0]
        if not tables:
            raise StoreUnavailableError(f"record store {self.shown}: not a record database (no calls table)")

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
            with conn.transaction():
                if call_ids:
                    conn.execute(_LOCK_CALLS, (call_ids,))
                results = self._write(conn, batch, now)
            # Leaving the block committed (durably: synchronous_commit) or raised.
            return results
        except BaseException as e:
            # Leaving the block on any exception (the database, or a bug building a row) rolled
            # the batch back whole. If the server went away, the connection broke, or the
            # rollback itself failed (psycopg only warns then), the connection is still inside
            # a transaction or unusable: start afresh with the next batch.
            idle = not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if not idle or isinstance(e, psycopg.OperationalError):
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                self._conn = None
            if not isinstance(e, psycopg.Error):
                raise
            raise StoreUnavailableError(f"record store {self.shown}: cannot write: {e}") from e

    def _insert_event(self, conn: Any, params: tuple[Any, ...]) -> int | None:
        row = conn.execute(self._INSERT_EVENT_RETURNING, params).fetchone()
        return None if row is None else row[0]

    def _executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cur:
            cur.executemany(sql, rows)

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
