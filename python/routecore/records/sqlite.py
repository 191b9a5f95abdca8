"""`SqliteRecordStore`: call events and CDRs in one SQLite file (WAL, group commit).

Durability, and which setting gives what:

- `synchronous="FULL"` (the default) with WAL: every COMMIT fsyncs the WAL before it returns, and
  an event is acknowledged only after its batch's COMMIT returned. An acknowledged record
  survives SIGKILL, a crash of the process, a kernel panic and a power loss (as far as the disk
  honours fsync). Group commit shares that one fsync among every event of the batch.
- `synchronous="NORMAL"` with WAL: COMMIT writes the WAL without fsync (only checkpoints sync).
  An acknowledged record survives SIGKILL and any crash of the process (the OS has the data),
  but a power loss or kernel panic may roll back the last transactions. Faster on slow disks;
  it breaks the "an acknowledged record is never lost" promise on power loss, so not the default.

The directory is fsynced once after the database and its WAL exist, so the files themselves
survive a power loss too. Reads open their own connections: WAL readers never block the writer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

from routecore.records._base import _Item
from routecore.records._model import StoreUnavailableError
from routecore.records._sql import SqlRecordStore, Statements, schema

__all__ = ["SCHEMA_VERSION", "SqliteRecordStore"]

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = schema(
    seq="INTEGER PRIMARY KEY", integer="INTEGER", blob="BLOB", real="REAL", table_options=" WITHOUT ROWID"
)

_HINTS: Final = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "I/O error",
    sqlite3.SQLITE_BUSY: "another process holds the write lock",
    sqlite3.SQLITE_CANTOPEN: "the file cannot be opened",
    sqlite3.SQLITE_CORRUPT: "the database file is corrupt",
    sqlite3.SQLITE_NOTADB: "the file is not an SQLite database",
}


def _explain(path: Path, doing: str, e: sqlite3.Error) -> StoreUnavailableError:
    code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
    hint = _HINTS.get(code)
    if hint is None or code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
        # SQLite says "unable to open database file" for a read-only directory (WAL needs to
        # create its -wal and -shm files there): name the likely cause.
        parent = path.resolve().parent
        if not parent.is_dir():
            hint = f"the directory {parent} does not exist"
        elif not os.access(parent, os.W_OK):
            hint = f"the directory {parent} is read-only"
    return StoreUnavailableError(f"record store {path}: {doing}: {hint + ': ' if hint else ''}{e}")


class SqliteRecordStore(SqlRecordStore):
    """The default record store: one SQLite file, WAL, `synchronous=FULL`, group commit.

    Args:
        path: the database file (created with its schema if missing).
        synchronous: "FULL" (default: survives power loss) or "NORMAL" (survives process
            crashes only); see the module docstring.
        max_batch, max_pending, decision_ttl, decision_max: see `GroupCommitStore`.
        busy_timeout: seconds to wait for a lock held by another process.
        strict: raise at once if the database cannot be opened (default). With `strict=False`
            the store starts anyway: every write fails with `StoreUnavailableError` (and is
            retried on the next write) until the database can be opened, so a service can keep
            routing while its record disk is read-only or full.
        read_only: only read an existing record database (reports, replays): it is opened with
            SQLite's `mode=ro`, never created, migrated or written (SQLite may leave its `-wal`
            and `-shm` side files beside it); no writer thread, and every write raises
            `StoreClosedError`.

    Raises:
        StoreUnavailableError: (strict) the file cannot be opened or written, or WAL is not
            available; the message names the file and the cause. (read_only) the file is not a
            regular file, or not a record database (`x.txt: not a record database`: empty, or
            another file, or another SQLite database).
        FileNotFoundError, IsADirectoryError: (read_only) no such file / a directory.
    """

    _SQL: ClassVar = Statements.with_placeholder("?")
    _conn: sqlite3.Connection | None

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        max_batch: int = 2048,
        max_pending: int = 20_000,
        decision_ttl: float = 900.0,
        decision_max: int = 1_000_000,
        busy_timeout: float = 5.0,
        strict: bool = True,
        read_only: bool = False,
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous: {synchronous!r} is not FULL, NORMAL or EXTRA")
        super().__init__(
            max_batch=max_batch,
            max_pending=max_pending,
            decision_ttl=decision_ttl,
            decision_max=decision_max,
        )
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self._conn = None
        self.read_only = read_only
        if read_only:
            self._closing = True  # no writer: writes are refused as to a closed store
            self._check_database()
            return
        self._open_writer(strict=strict, until="can be opened")

    def _check_database(self) -> None:
        """(read_only) Refuses, before any read, what is not a record database of this schema."""
        path = self.path
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not path.is_file():
            raise StoreUnavailableError(f"{path}: is not a regular file")
        conn = self._reader()
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
            if code == sqlite3.SQLITE_NOTADB:
                raise StoreUnavailableError(f"{path}: not a record database") from None
            raise _explain(path, "cannot read", e) from e
        finally:
            conn.close()
        if not {"events", "calls"} <= tables:
            raise StoreUnavailableError(f"{path}: not a record database")
        if version != SCHEMA_VERSION:
            raise StoreUnavailableError(
                f"record store {path}: schema version {version}, this routecore knows {SCHEMA_VERSION}"
            )

    def _open(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            # Autocommit mode: the writer issues BEGIN IMMEDIATE / COMMIT itself, one per batch.
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailableError(
                    f"record store {self.path}: WAL journal not available here (got {mode!r})"
                )
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA journal_size_limit=67108864")
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise StoreUnavailableError(
                    f"record store {self.path}: schema version {version}, this routecore knows "
                    f"{SCHEMA_VERSION}"
                )
        except sqlite3.Error as e:
            if conn is not None:
                conn.close()
            raise _explain(self.path, "cannot open", e) from e
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        # The database and WAL files exist now; make their directory entries durable too.
        try:
            fd = os.open(self.path.resolve().parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:  # some filesystems refuse fsync on directories; the data is synced
            pass
        return conn

    # --- writes (the writer thread) --------------------------------------------------------------

    def _commit(self, batch: Sequence[_Item]) -> list[Any]:
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        now = time.time_ns() // 1_000_000
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = self._write(conn, batch, now)
            conn.execute("COMMIT")
            return results
        except BaseException as e:
            # Whatever failed (the database, or a bug building a row), the batch is undone
            # whole and no transaction stays open: the next batch must be able to BEGIN.
            self._roll_back(conn)
            if not isinstance(e, sqlite3.Error):
                raise
            code = getattr(e, "sqlite_errorcode", 0) & 0xFF
            if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                # The connection may be unusable: start afresh with the next batch.
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
                self._conn = None
            raise _explain(self.path, "cannot write", e) from e

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            # A connection that cannot roll back cannot be trusted: start afresh next batch.
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._conn = None

    def _insert_event(self, conn: sqlite3.Connection, params: tuple[Any, ...]) -> int | None:
        cur = conn.execute(self._SQL.insert_event, params)
        return cur.lastrowid if cur.rowcount == 1 else None

    def _executemany(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(sql, rows)

    def _close_backend(self) -> None:
        if self._conn is None:
            return
        # Fold the WAL back into the database so the file is whole on its own; not needed
        # for durability (the WAL is), so a failure here only costs disk space.
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()

    # --- reads (any thread) ----------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                # mode=ro: a missing or empty file is never turned into a database.
                uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
                conn = sqlite3.connect(uri, timeout=self._busy_timeout, isolation_level=None, uri=True)
            else:
                conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            conn.execute("PRAGMA query_only=1")
        except sqlite3.Error as e:
            raise _explain(self.path, "cannot read", e) from e
        return conn

    def _query(self, sql: str, args: Sequence[Any]) -> Generator[Sequence[Any], None, None]:
        conn = self._reader()
        try:
            # One read transaction: the whole iteration sees one snapshot.
            conn.execute("BEGIN")
            cur = conn.execute(sql, args)
            while rows := cur.fetchmany(1024):
                yield from rows
        except sqlite3.Error as e:
            raise _explain(self.path, "cannot read", e) from e
        finally:
            conn.close()
