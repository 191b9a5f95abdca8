"""Record store appends per second: group commit vs one transaction per event, in the same run.

Run:

    python -m pytest bench/test_bench_records.py --benchmark-enable -s

Both modes are the same `SqliteRecordStore` (WAL, synchronous=FULL: every commit is fsynced);
`max_batch=1` makes it commit each event alone. Callers are concurrent, as in a server:
`CALLERS` asyncio tasks on one loop, or `THREADS` threads. Every ack is checked against the
stored rows after timing. Also measured: one caller appending sequentially (the latency a
single switch sees) and `remember_decision` (what the routing hot path pays).
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import routecore
from routecore.records import Ack, CallEvent, SqliteRecordStore

CALLERS = 256
THREADS = 32
T0 = 1_780_000_000
_ids = itertools.count()
_results: dict[str, float] = {}


def _events(n: int) -> list[CallEvent]:
    base = next(_ids) * 10_000_000
    return [CallEvent.create(f"b{base + i}", "ENDED", "13800000010", T0 + i, 61) for i in range(n)]


@pytest.fixture(params=["group_commit", "per_event"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteRecordStore]:
    s = SqliteRecordStore(tmp_path / "r.db", max_batch=2048 if request.param == "group_commit" else 1)
    s.mode = request.param  # type: ignore[attr-defined]
    yield s
    s.close()


def _check(store: SqliteRecordStore, acks: list[Ack]) -> None:
    with sqlite3.connect(store.path) as conn:
        stored = {r[0] for r in conn.execute("SELECT seq FROM events")}
    assert {a.seq for a in acks} <= stored and not any(a.duplicate for a in acks)


def _report(benchmark: Any, name: str, n: int, store: SqliteRecordStore) -> None:
    per_second = n / benchmark.stats.stats.median
    st = store.stats()
    benchmark.extra_info.update(events_per_second=round(per_second), batches=st.batches)
    _results[name] = per_second
    print(
        f"\n{name}: {per_second:,.0f} events/s "
        f"({st.events_written} events in {st.batches} transactions, largest {st.largest_batch})"
    )
    other = name.replace("group_commit", "per_event") if "group_commit" in name else None
    mine = name.replace("per_event", "group_commit") if "per_event" in name else None
    for a, b in ((name, other), (mine, name)):
        if a and b and a in _results and b in _results and a != b:
            print(f"  group commit / per event = {_results[a] / _results[b]:.1f}x")


def test_asyncio_tasks(benchmark: Any, store: SqliteRecordStore) -> None:
    n = 5000 if store.mode == "group_commit" else 400  # type: ignore[attr-defined]
    acks: list[Ack] = []

    def run() -> None:
        events = _events(n)

        async def caller(chunk: list[CallEvent]) -> None:
            for e in chunk:
                acks.append(await store.append_async(e))

        async def main() -> None:
            await asyncio.gather(*(caller(events[i::CALLERS]) for i in range(CALLERS)))

        asyncio.run(main())

    benchmark.pedantic(run, rounds=3, iterations=1)
    _check(store, acks)
    _report(benchmark, f"asyncio {CALLERS} tasks, {store.mode}", n, store)  # type: ignore[attr-defined]


def test_threads(benchmark: Any, store: SqliteRecordStore) -> None:
    n = 5000 if store.mode == "group_commit" else 400  # type: ignore[attr-defined]
    acks: list[Ack] = []

    def run() -> None:
        events = _events(n)

        def caller(chunk: list[CallEvent]) -> None:
            for e in chunk:
                acks.append(store.append(e))

        pool = [threading.Thread(target=caller, args=(events[i::THREADS],)) for i in range(THREADS)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()

    benchmark.pedantic(run, rounds=3, iterations=1)
    _check(store, acks)
    _report(benchmark, f"{THREADS} threads, {store.mode}", n, store)  # type: ignore[attr-defined]


def test_one_caller_latency(benchmark: Any, tmp_path: Path) -> None:
    with SqliteRecordStore(tmp_path / "r.db") as store:
        events = iter(_events(100_000))
        benchmark.pedantic(lambda: store.append(next(events)), rounds=200, iterations=1)
        print(f"\none caller: median append {benchmark.stats.stats.median * 1e3:.2f} ms (one fsync)")


def test_remember_decision(benchmark: Any, tmp_path: Path) -> None:
    engine = routecore.Engine.demo()
    called = engine.numbers()[0]
    decisions = [engine.route(called=called, caller="13912340000", call_id=f"d{i}") for i in range(1000)]
    with SqliteRecordStore(tmp_path / "r.db") as store:
        it = itertools.cycle(decisions)

        def remember() -> None:
            store.remember_decision(next(it), called)

        benchmark(remember)
        started = time.perf_counter()
        for d in decisions:
            store.decisions.get(d.call_id)
        convert = (time.perf_counter() - started) / len(decisions)
        print(
            f"\nremember_decision: {benchmark.stats.stats.median * 1e6:.2f} µs; "
            f"building the context when an event arrives: {convert * 1e6:.1f} µs"
        )
