"""Group commit shared by the record stores: a bounded queue drained by one writer thread.

Callers (threads or asyncio tasks) enqueue events; the writer takes everything waiting (up to
`max_batch` events) and commits it in ONE transaction, then resolves every caller of that batch.
While one transaction syncs to disk the next batch gathers, so under load the cost of the sync
is shared by hundreds of events, and with one caller there is no added wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from routecore.records._model import (
    ENDED,
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
    check_list_change,
    check_range,
)

__all__ = ["GroupCommitStore"]

log = logging.getLogger("routecore.records")

_EVENTS, _LIST, _FLUSH = 0, 1, 2


class _Item:
    """One caller's unit of work: committed whole, in one batch."""

    __slots__ = ("contexts", "events", "fut", "kind", "list_change", "loop", "size")

    def __init__(
        self,
        kind: int,
        fut: Any,
        loop: asyncio.AbstractEventLoop | None,
        events: tuple[CallEvent, ...] = (),
        contexts: tuple[DecisionContext | None, ...] = (),
        list_change: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None,
    ) -> None:
        self.kind = kind
        self.fut = fut
        self.loop = loop
        self.events = events
        self.contexts = contexts
        self.list_change = list_change
        # What counts against `max_pending` and `max_batch`; a flush marker costs nothing.
        self.size = len(events) if kind == _EVENTS else (1 if kind == _LIST else 0)


def _settle_async(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, error in settled:
        if fut.done():  # the caller gave up (cancelled, deadline): the write stands anyway
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)


class GroupCommitStore(ABC):
    """The `RecordStore` machinery; a backend implements `_commit` (one transaction) and the reads.

    Args:
        max_batch: most events in one transaction.
        max_pending: most events waiting for the writer; beyond, appends raise
            `StoreOverloadedError` at once (backpressure instead of unbounded memory).
        decision_ttl: seconds a remembered decision waits for its call's first event.
        decision_max: most remembered decisions (the oldest are dropped first).
    """

    def __init__(
        self,
        *,
        max_batch: int = 2048,
        max_pending: int = 20_000,
        decision_ttl: float = 900.0,
        decision_max: int = 1_000_000,
    ) -> None:
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be >= 1")
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.decisions = DecisionCache(decision_ttl, decision_max)
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._queued = 0
        self._closing = False
        self._written = 0
        self._duplicates = 0
        self._batches = 0
        self._failed_batches = 0
        self._largest = 0
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name=f"{type(self).__name__}-writer", daemon=True)

    def _start(self) -> None:
        self._thread.start()

    # --- backend ---------------------------------------------------------------------------------

    @abstractmethod
    def _commit(self, batch: Sequence[_Item]) -> list[Any]:
        """Write `batch` in one durable transaction; the result of each item, in order.

        For an events item: its `list[Ack]`; otherwise None. Runs in the writer thread only.

        Raises:
            StoreUnavailableError: nothing of the batch was written.
        """

    @abstractmethod
    def _close_backend(self) -> None:
        """Release the writer's resources; runs in the writer thread after the last batch."""

    @abstractmethod
    def records(
        self, since: Any = None, until: Any = None, *, tenant: str | None = None
    ) -> Iterator[CallRecord]: ...

    @abstractmethod
    def events(self, since: Any = None, until: Any = None) -> Iterator[CallEvent]: ...

    @abstractmethod
    def record(self, call_id: str) -> CallRecord | None: ...

    @abstractmethod
    def list_changes(self) -> dict[str, tuple[list[str], list[str]]]: ...

    # --- decisions -------------------------------------------------------------------------------

    def remember_decision(self, decision: Any, called: str = "", *, call_id: str | None = None) -> None:
        """Keep a call's decision (in memory, `decision_ttl`) so that its events make a full CDR.

        O(1) and conversion-free: call it on the routing hot path with the `routecore.Decision`
        (or a dict with the proto's field names, or a `DecisionContext` with `call_id=`) and the request's
        called number. Decisions without a call_id or with an error are ignored. The context is
        stored durably with the call's events, so a restart after either loses nothing.
        """
        cid = call_id if call_id is not None else _field(decision, "call_id")
        if not cid or _field(decision, "error", None):
            return
        self.decisions.put(str(cid), decision, called)

    # --- writes ----------------------------------------------------------------------------------

    def _events_item(self, events: Sequence[CallEvent], fut: Any, loop: Any) -> _Item:
        if isinstance(events, CallEvent) or not all(isinstance(e, CallEvent) for e in events):
            raise TypeError("events: expected a sequence of CallEvent (CallEvent.create builds one)")
        evs = tuple(events)
        for e in evs:
            # Refused here, not in the writer: one bad event must not fail its batch-mates.
            check_range(e)
        return _Item(_EVENTS, fut, loop, evs, tuple(self.decisions.get(e.call_id) for e in evs))

    def _submit(self, item: _Item) -> None:
        with self._cond:
            if self._closing:
                raise StoreClosedError("the record store is closed")
            if item.size and self._queued + item.size > self.max_pending:
                raise StoreOverloadedError(
                    f"record store overloaded: {self._queued} events waiting "
                    f"(max_pending={self.max_pending}); retry later"
                )
            self._queue.append(item)
            self._queued += item.size
            self._cond.notify()

    def append(self, event: CallEvent, *, timeout: float | None = None) -> Ack:
        """Store one event; returns once it (and the CDR it completes) is durable.

        Blocks the calling thread: from asyncio use `append_async`.

        Raises:
            StoreOverloadedError: too many events waiting (nothing stored).
            StoreUnavailableError: the database refused the write (nothing stored).
            StoreClosedError: the store is closed.
            TimeoutError: not committed within `timeout` s (it may still be, later).
        """
        return self.append_many((event,), timeout=timeout)[0]

    def append_many(self, events: Sequence[CallEvent], *, timeout: float | None = None) -> list[Ack]:
        """Store several events atomically (one transaction); one Ack each, in order."""
        fut: concurrent.futures.Future[list[Ack]] = concurrent.futures.Future()
        self._submit(self._events_item(events, fut, None))
        return fut.result(timeout)

    async def append_async(self, event: CallEvent) -> Ack:
        """`append` for asyncio: the task waits, the loop does not. Same errors (no timeout:
        wrap in `asyncio.wait_for`; a cancelled wait does not undo the write)."""
        return (await self.append_many_async((event,)))[0]

    async def append_many_async(self, events: Sequence[CallEvent]) -> list[Ack]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Ack]] = loop.create_future()
        self._submit(self._events_item(events, fut, loop))
        return await fut

    def _list_item(
        self, list_name: str, add: Sequence[str], remove: Sequence[str], fut: Any, loop: Any
    ) -> _Item:
        check_list_change(list_name, add, remove)
        return _Item(_LIST, fut, loop, list_change=(list_name, tuple(add), tuple(remove)))

    def save_list_change(
        self,
        list_name: str,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        *,
        timeout: float | None = None,
    ) -> None:
        """Persist a live list update durably (returns once committed); replayed by `list_changes`.

        Numbers are stored as given: pass them normalised. A later change of the same number
        supersedes an earlier one.

        Raises:
            InvalidArgumentError: empty name, a bare string, a number both added and removed.
            StoreOverloadedError, StoreUnavailableError, StoreClosedError: as `append`.
        """
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._submit(self._list_item(list_name, add, remove, fut, None))
        fut.result(timeout)

    async def save_list_change_async(
        self, list_name: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._submit(self._list_item(list_name, add, remove, fut, loop))
        await fut

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything submitted before this call is committed (or failed)."""
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            self._submit(_Item(_FLUSH, fut, None))
        except StoreClosedError:
            return
        fut.result(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting writes, commit everything pending, close. Idempotent.

        Raises:
            TimeoutError: the writer did not finish within `timeout` s.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the record store writer did not finish within {timeout} s")

    def __enter__(self) -> GroupCommitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Events waiting for the writer (not yet in a transaction)."""
        return self._queued

    def stats(self) -> StoreStats:
        return StoreStats(
            pending=self._queued,
            events_written=self._written,
            duplicates=self._duplicates,
            batches=self._batches,
            failed_batches=self._failed_batches,
            largest_batch=self._largest,
            last_error=self._last_error,
        )

    # --- the writer ------------------------------------------------------------------------------

    def _take(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            n = batch[0].size
            while self._queue and n + self._queue[0].size <= self.max_batch:
                item = self._queue.popleft()
                batch.append(item)
                n += item.size
            self._queued -= n
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                self._process(batch)
        finally:
            try:
                self._close_backend()
            except Exception:
                log.exception("closing the record store")

    def _process(self, batch: list[_Item]) -> None:
        error: RecordStoreError | None = None
        results: list[Any] = []
        try:
            results = self._commit(batch)
        except RecordStoreError as e:
            error = e
        except Exception as e:  # a bug must fail the batch, never kill the writer or ack
            log.exception("record store batch failed")
            error = StoreUnavailableError(f"record store failure: {e!r}")
        n = sum(item.size for item in batch)
        if error is None:
            self._batches += 1
            self._largest = max(self._largest, n)
            for item, result in zip(batch, results, strict=True):
                if item.kind != _EVENTS:
                    continue
                for event, ack in zip(item.events, result, strict=True):
                    if ack.duplicate:
                        self._duplicates += 1
                    else:
                        self._written += 1
                    if event.type == ENDED:
                        self.decisions.discard(event.call_id)
        else:
            self._failed_batches += 1
            self._last_error = str(error)
            log.error("record store: %d events not stored: %s", n, error)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, BaseException | None]]] = {}
        for i, item in enumerate(batch):
            # One exception object per caller: a shared one would collect every raiser's traceback.
            err = None if error is None else type(error)(str(error))
            res = None if error is not None else results[i]
            if item.loop is None:
                if err is not None:
                    item.fut.set_exception(err)
                else:
                    item.fut.set_result(res)
            else:
                by_loop.setdefault(item.loop, []).append((item.fut, res, err))
        for loop, settled in by_loop.items():
            # One wake-up per event loop per batch, not one per event.
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_async, settled)


def _field(obj: Any, name: str, default: Any = "") -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)
