"""The record store: durable call events and CDRs, idempotency, group commit, crashes, failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import routecore
from record_checks import (
    a_batch_that_fails_midway_is_rolled_back,
    an_answer_after_the_end_builds_the_record_as_in_order,
)
from routecore.exceptions import InvalidArgumentError
from routecore.records import (
    Ack,
    CallEvent,
    DecisionCache,
    DecisionContext,
    RecordStore,
    RecordStoreError,
    SqliteRecordStore,
    StoreClosedError,
    StoreOverloadedError,
    StoreUnavailableError,
)

T0 = 1_780_000_000  # an instant in 2026, epoch seconds

PLAN = """
version: 1
timezone: Asia/Shanghai
rates:
  default: {mobile: 0.20, landline: 0.15, sip: 0.05}
  cheap: {mobile: 0.10}
tenants:
  shop:
    name: shop
    groups:
      desk:
        strategy: sequential
        targets:
          - {number: "13800000010"}
          - {number: "075586000010"}
          - {uri: "sip:agent@pbx.example"}
    numbers:
      "4001234567":
        flow:
          - {id: all, forward: desk}
  clinic:
    name: clinic
    package: {rates: cheap}
    groups:
      desk:
        targets:
          - {number: "13800000020"}
          - {number: "075586000020"}
    numbers:
      "4007654321":
        flow:
          - {id: desk, forward: desk}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteRecordStore]:
    s = SqliteRecordStore(tmp_path / "records.db")
    yield s
    s.close()


@pytest.fixture(scope="module")
def engine() -> routecore.Engine:
    return routecore.Engine.from_text(PLAN)


def ev(call_id: str, kind: str, target: str = "13800000010", at: float = T0, **kw: object) -> CallEvent:
    return CallEvent.create(call_id, kind, target, at, **kw)  # type: ignore[arg-type]


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


# --- events --------------------------------------------------------------------------------------


def test_event_validation() -> None:
    e = CallEvent.create("c1", "ended", "13800000010", "2026-05-01T10:00:00+08:00", 61, " Busy ")
    assert (e.type, e.disposition, e.duration_seconds) == ("ENDED", "busy", 61)
    assert e.at == dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
    assert CallEvent.create("c", "ANSWERED", at=T0 + 0.25).at_ms == T0 * 1000 + 250
    with pytest.raises(InvalidArgumentError, match="type"):
        CallEvent.create("c1", "RINGING")
    with pytest.raises(InvalidArgumentError, match="call_id"):
        CallEvent.create("", "ENDED")
    with pytest.raises(InvalidArgumentError, match="duration_seconds"):
        CallEvent.create("c1", "ENDED", duration_seconds=-1)
    with pytest.raises(InvalidArgumentError, match="UTC offset"):
        CallEvent.create("c1", "ENDED", at=dt.datetime(2026, 5, 1, 10))
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        CallEvent.create("c1", "ENDED", at="yesterday")
    now = time.time()
    assert abs(CallEvent.create("c1", "ENDED").at_ms / 1000 - now) < 5


@pytest.mark.parametrize(
    ("at", "duration", "field"),
    [
        ("9999-12-31T23:59:59-12:00", 5, "at"),  # the year 10000 in UTC
        ("0001-01-01T00:00:00+08:00", 0, "at"),  # the year 0 in UTC
        (T0, 99_999_999_999, "duration_seconds"),  # begun 3,000 years before the year 1
        (T0, 10**20, "duration_seconds"),  # past SQLite's 64-bit integers
    ],
)
def test_event_out_of_range_is_refused_before_it_is_queued(
    store: SqliteRecordStore, at: object, duration: int, field: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^{field}: .* out of range"):
        CallEvent.create("far", "ENDED", "13800000010", at, duration)  # type: ignore[arg-type]
    # Built field by field (no `create`), it is refused by the store, before any transaction.
    at_ms = CallEvent.create("x", "ENDED", at=T0).at_ms if field == "duration_seconds" else 10**15
    with pytest.raises(InvalidArgumentError, match=f"^{'at_ms' if field == 'at' else field}: "):
        store.append(CallEvent("far", "ENDED", "13800000010", at_ms, duration))
    assert not store.append(ev("next", "ENDED")).duplicate
    assert store.record("far") is None and store.stats().failed_batches == 0


def test_a_batch_that_fails_midway_is_rolled_back_and_the_store_goes_on(
    store: SqliteRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_batch_that_fails_midway_is_rolled_back(store, monkeypatch, ev)


def test_store_satisfies_the_interface(store: SqliteRecordStore) -> None:
    assert isinstance(store, RecordStore)


# --- CDRs ----------------------------------------------------------------------------------------


def test_full_record_from_a_real_decision(store: SqliteRecordStore, engine: routecore.Engine) -> None:
    d = engine.route(called="400-123-4567", caller="+86 139 1234 0000", call_id="c1", at=T0)
    store.remember_decision(d, called="400-123-4567")
    store.append(ev("c1", "ANSWERED", "+86 138 0000 0010", T0 + 5))
    store.append(ev("c1", "ENDED", "13800000010", T0 + 186, duration_seconds=181))
    r = store.record("c1")
    assert r is not None
    region = routecore.region("13912340000")
    assert (r.tenant, r.called, r.caller, r.rule, r.target) == (
        "shop",
        "4001234567",
        "13912340000",
        "all",
        "13800000010",
    )
    assert (r.caller_kind, r.province, r.city, r.carrier) == (
        "mobile",
        region.province,
        region.city,
        region.carrier,
    )
    assert r.answered_at == dt.datetime.fromtimestamp(T0 + 5, dt.UTC)
    assert r.ended_at == dt.datetime.fromtimestamp(T0 + 186, dt.UTC)
    assert (r.duration_seconds, r.disposition, r.billed_minutes) == (181, "answered", 4)
    assert (r.rate_per_minute, r.cost) == (0.20, 0.8)  # per started minute: 4 × 0.20
    assert r.plan_version == engine.version and r.context_known


@pytest.mark.parametrize(
    ("called", "target", "duration", "rate", "minutes", "cost"),
    [
        ("4001234567", "075586000010", 60, 0.15, 1, 0.15),
        ("4001234567", "075586000010", 61, 0.15, 2, 0.3),
        ("4001234567", "sip:agent@pbx.example", 3600, 0.05, 60, 3.0),
        ("4001234567", "13800000010", 1, 0.20, 1, 0.2),
        ("4007654321", "13800000020", 125, 0.10, 3, 0.3),  # the tenant's own table
        ("4007654321", "075586000020", 125, 0.0, 3, 0.0),  # kind missing in its table: 0
    ],
)
def test_cost_is_billed_per_started_minute(
    tmp_path: Path,
    engine: routecore.Engine,
    called: str,
    target: str,
    duration: int,
    rate: float,
    minutes: int,
    cost: float,
) -> None:
    with SqliteRecordStore(tmp_path / "r.db") as store:
        store.remember_decision(engine.route(called=called, caller="13912340000", call_id="c", at=T0), called)
        store.append(ev("c", "ANSWERED", target, T0))
        store.append(ev("c", "ENDED", target, T0 + duration, duration_seconds=duration))
        r = store.record("c")
    assert r is not None
    assert (r.rate_per_minute, r.billed_minutes, r.cost) == (rate, minutes, cost)


def test_decision_given_as_json_mapping(store: SqliteRecordStore) -> None:
    decision = {
        "call_id": "j1",
        "action": "FORWARD",
        "tenant": "shop",
        "rule": "r1",
        "plan_version": "v9",
        "caller": {"normalized": "13912340000", "kind": "mobile", "province": "江苏"},
        "targets": [{"number": "13800000010", "uri": "", "rate_per_minute": 0.2}],
    }
    store.remember_decision(decision, called="4001234567")
    store.append(ev("j1", "ENDED", "13800000010", T0 + 30, duration_seconds=30))
    r = store.record("j1")
    assert r is not None
    assert (r.tenant, r.rule, r.plan_version, r.province, r.cost) == ("shop", "r1", "v9", "江苏", 0.2)


def test_unknown_decision_keeps_the_events_facts_and_no_invented_cost(store: SqliteRecordStore) -> None:
    store.append(ev("u1", "ANSWERED", "13800000010", T0))
    store.append(ev("u1", "ENDED", "13800000010", T0 + 90, duration_seconds=90))
    store.append(ev("u2", "ENDED", "13800000010", T0, disposition="no_answer"))
    r1, r2 = store.record("u1"), store.record("u2")
    assert r1 is not None and r2 is not None
    assert not r1.context_known and (r1.tenant, r1.caller, r1.rule) == ("", "", "")
    assert (r1.duration_seconds, r1.billed_minutes, r1.rate_per_minute, r1.cost) == (90, 2, None, None)
    assert (r2.disposition, r2.answered_at, r2.cost) == ("no_answer", None, 0.0)  # nothing to bill


def test_context_stored_with_answered_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with SqliteRecordStore(path) as s:
        ctx = DecisionContext(tenant="shop", caller="13912340000", rates=(("13800000010", 0.2),))
        s.remember_decision(ctx, call_id="c1")
        s.append(ev("c1", "ANSWERED", "13800000010", T0))
    with SqliteRecordStore(path) as s:  # a new process: nothing in memory
        assert len(s.decisions) == 0
        s.append(ev("c1", "ENDED", "13800000010", T0 + 120, duration_seconds=120))
        r = s.record("c1")
    assert r is not None and r.context_known
    assert (r.tenant, r.caller, r.cost) == ("shop", "13912340000", 0.4)


def test_duration_and_answer_time_derived_when_not_reported(store: SqliteRecordStore) -> None:
    store.append(ev("a", "ANSWERED", at=T0))
    store.append(ev("a", "ENDED", at=T0 + 75))  # no duration reported: ended - answered
    store.append(ev("b", "ENDED", at=T0 + 75, duration_seconds=30))  # no ANSWERED seen
    a, b = store.record("a"), store.record("b")
    assert a is not None and b is not None
    assert (a.duration_seconds, a.billed_minutes, a.disposition) == (75, 2, "answered")
    assert b.answered_at == dt.datetime.fromtimestamp(T0 + 45, dt.UTC)
    assert b.disposition == "answered"
    # A part of a second is a started second: 60.5 s bills as 2 started minutes, not 1.
    store.append(ev("c", "ANSWERED", at=T0))
    store.append(ev("c", "ENDED", at=T0 + 60.5))
    c = store.record("c")
    assert c is not None and (c.duration_seconds, c.billed_minutes) == (61, 2)


def test_an_answer_after_the_end_builds_the_record_as_in_order(store: SqliteRecordStore) -> None:
    an_answer_after_the_end_builds_the_record_as_in_order(store, T0)


def test_late_answered_completes_the_record(store: SqliteRecordStore) -> None:
    store.append(ev("c", "ENDED", "", T0 + 10))
    r = store.record("c")
    assert r is not None and (r.answered_at, r.disposition, r.target) == (None, "unanswered", "")
    store.append(ev("c", "ANSWERED", "13800000010", T0 + 2))
    r = store.record("c")
    assert r is not None
    assert (r.answered_at, r.disposition, r.target) == (
        dt.datetime.fromtimestamp(T0 + 2, dt.UTC),
        "answered",
        "13800000010",
    )


# --- idempotency ---------------------------------------------------------------------------------


def test_replayed_event_is_acknowledged_as_duplicate_and_stored_once(store: SqliteRecordStore) -> None:
    a1 = store.append(ev("c1", "ANSWERED"))
    e1 = store.append(ev("c1", "ENDED", at=T0 + 60, duration_seconds=60))
    # Replays, even with different content: the first delivery stands.
    a2 = store.append(ev("c1", "ANSWERED", "13800000011", T0 + 1))
    e2 = store.append(ev("c1", "ENDED", at=T0 + 99, duration_seconds=99))
    assert not a1.duplicate and not e1.duplicate
    assert a2 == Ack("c1", "ANSWERED", True, a1.seq) and e2 == Ack("c1", "ENDED", True, e1.seq)
    assert rows(store.path, "SELECT count(*) FROM events") == [(2,)]
    assert rows(store.path, "SELECT call_id, duration_seconds FROM calls") == [("c1", 60)]
    # Duplicates inside one batch, and after a restart.
    acks = store.append_many([ev("c2", "ENDED"), ev("c2", "ENDED"), ev("c1", "ENDED")])
    assert [a.duplicate for a in acks] == [False, True, True]
    store.close()
    with SqliteRecordStore(store.path) as again:
        assert again.append(ev("c2", "ENDED")).duplicate
        assert again.stats().duplicates == 1
    assert rows(store.path, "SELECT count(*) FROM calls") == [(2,)]


# --- queries -------------------------------------------------------------------------------------


def test_records_and_events_by_time_range(store: SqliteRecordStore) -> None:
    for i in range(10):
        tenant = "shop" if i % 2 else "clinic"
        store.remember_decision(DecisionContext(tenant=tenant), call_id=f"c{i}")
        store.append(ev(f"c{i}", "ANSWERED", at=T0 + 100 * i))
        store.append(ev(f"c{i}", "ENDED", at=T0 + 100 * i + 50, duration_seconds=50))
    got = [r.call_id for r in store.records(T0 + 250, T0 + 650)]
    assert got == ["c2", "c3", "c4", "c5"]  # ended in [since, until): c2 at +250 in, c6 at +650 out
    since = dt.datetime.fromtimestamp(T0, dt.UTC)
    assert [r.call_id for r in store.records(since, tenant="shop")] == ["c1", "c3", "c5", "c7", "c9"]
    assert [(e.call_id, e.type) for e in store.events(T0 + 100, T0 + 200)] == [
        ("c1", "ANSWERED"),
        ("c1", "ENDED"),
    ]
    assert len(list(store.records())) == 10 and store.record("nope") is None
    it = store.records()
    next(it)  # stopping early is fine
    del it
    with pytest.raises(InvalidArgumentError, match="since"):
        store.records(dt.datetime(2026, 1, 1))


# --- list changes --------------------------------------------------------------------------------


def test_list_changes_persist_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with SqliteRecordStore(path) as s:
        s.save_list_change("fraud", add=["13900000001", "13900000002"])
        s.save_list_change("fraud", remove=["13900000001", "13700000000"])
        s.save_list_change("vip", add=["13800000001"])
        asyncio.run(s.save_list_change_async("vip", add=["13800000002"]))
        with pytest.raises(InvalidArgumentError, match="both"):
            s.save_list_change("vip", add=["1"], remove=["1"])
        with pytest.raises(InvalidArgumentError, match="one string"):
            s.save_list_change("vip", add="13800000003")
    with SqliteRecordStore(path) as s:
        assert s.list_changes() == {
            "fraud": (["13900000002"], ["13700000000", "13900000001"]),
            "vip": (["13800000001", "13800000002"], []),
        }


# --- concurrency and group commit ----------------------------------------------------------------


def test_many_threads_every_ack_is_a_stored_row(store: SqliteRecordStore) -> None:
    threads, per = 16, 60
    acks: list[list[Ack]] = [[] for _ in range(threads)]

    def work(t: int) -> None:
        for i in range(per):
            cid = f"t{t}-{i}"
            acks[t].append(store.append(ev(cid, "ANSWERED", at=T0 + i)))
            acks[t].append(store.append(ev(cid, "ENDED", at=T0 + i + 30, duration_seconds=30)))

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    flat = [a for t in acks for a in t]
    assert len(flat) == 2 * threads * per and not any(a.duplicate for a in flat)
    stored = set(rows(store.path, "SELECT seq, call_id, type FROM events"))
    assert {(a.seq, a.call_id, a.type) for a in flat} == stored
    assert rows(store.path, "SELECT count(*) FROM calls") == [(threads * per,)]
    st = store.stats()
    assert st.events_written == len(flat) and st.batches < len(flat)  # batches were shared


def test_asyncio_tasks_group_commit(store: SqliteRecordStore) -> None:
    n = 600

    async def main() -> list[Ack]:
        return await asyncio.gather(*(store.append_async(ev(f"a{i}", "ENDED", at=T0 + i)) for i in range(n)))

    acks = asyncio.run(main())
    assert [a.call_id for a in acks] == [f"a{i}" for i in range(n)]
    assert {a.seq for a in acks} == {r[0] for r in rows(store.path, "SELECT seq FROM events")}
    assert store.stats().largest_batch > 1


def test_cancelled_waiter_does_not_undo_the_write(store: SqliteRecordStore) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(store.append_async(ev("x", "ENDED")))
        await asyncio.sleep(0)  # submitted
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    store.flush()
    assert store.record("x") is not None
    assert store.append(ev("x", "ENDED")).duplicate  # the switch's retry is acknowledged


def test_bounded_queue_refuses_with_overloaded(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = SqliteRecordStore(path, max_pending=5, busy_timeout=30)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer now waits for the lock: the queue fills
    results: list[object] = []

    def one(i: int) -> None:
        try:
            results.append(store.append(ev(f"q{i}", "ENDED")))
        except RecordStoreError as e:
            results.append(e)

    pool: list[threading.Thread] = []
    deadline = time.monotonic() + 10
    while store.pending < 5 and time.monotonic() < deadline:
        # The writer holds the first batch (its size depends on timing); the rest queue up.
        th = threading.Thread(target=one, args=(len(pool),))
        th.start()
        pool.append(th)
        time.sleep(0.02)
    assert store.pending == 5
    with pytest.raises(StoreOverloadedError, match="max_pending=5"):
        store.append(ev("refused", "ENDED"))
    blocker.execute("ROLLBACK")
    blocker.close()
    for th in pool:
        th.join()
    acked = [r for r in results if isinstance(r, Ack)]
    assert all(isinstance(r, Ack | StoreOverloadedError) for r in results) and len(acked) >= 5
    store.close()
    stored = {r[0] for r in rows(path, "SELECT call_id FROM events")}
    assert stored == {a.call_id for a in acked}


def test_close_flushes_and_then_refuses(tmp_path: Path) -> None:
    store = SqliteRecordStore(tmp_path / "r.db")

    async def main() -> None:
        tasks = [asyncio.ensure_future(store.append_async(ev(f"c{i}", "ENDED"))) for i in range(50)]
        await asyncio.sleep(0)
        await asyncio.to_thread(store.close)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert rows(store.path, "SELECT count(*) FROM calls") == [(50,)]
    with pytest.raises(StoreClosedError):
        store.append(ev("late", "ENDED"))
    store.close()  # idempotent


# --- crash durability ----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading
    from routecore.records import CallEvent, DecisionContext, SqliteRecordStore

    store = SqliteRecordStore(sys.argv[1])
    prefix = sys.argv[2]
    out_lock = threading.Lock()
    CTX = DecisionContext(tenant="shop", rates=(("13800000010", 0.2),))

    def say(ack):
        with out_lock:
            sys.stdout.write(f"{ack.call_id} {ack.type}\\n")
            sys.stdout.flush()

    def events(cid, i):
        store.remember_decision(CTX, call_id=cid)
        return [CallEvent.create(cid, kind, "13800000010", 1.78e9 + i, dur)
                for kind, dur in (("ANSWERED", 0), ("ENDED", 61))]

    def work(t):  # a threaded server
        for i in range(1_000_000):
            for e in events(f"{prefix}t{t}-{i}", i):
                say(store.append(e))

    async def task(t):  # an asyncio server
        for i in range(1_000_000):
            for e in events(f"{prefix}a{t}-{i}", i):
                say(await store.append_async(e))

    async def main():
        await asyncio.gather(*(task(t) for t in range(32)))

    for t in range(4):
        threading.Thread(target=work, args=(t,), daemon=True).start()
    asyncio.run(main())
    """
)


def test_acknowledged_records_survive_sigkill(tmp_path: Path) -> None:
    """Kill a loaded writer several times; every acknowledged event and CDR is there after each."""
    path = tmp_path / "r.db"
    acked: set[tuple[str, ...]] = set()
    for round_, kill_after in enumerate((300, 1700, 800, 2500, 50)):
        got: list[bytes] = []
        cmd = [sys.executable, "-c", CHILD, str(path), f"r{round_}"]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    got.append(line)
                    if len(got) >= kill_after:
                        break
                os.kill(proc.pid, signal.SIGKILL)  # mid-load: appends are in flight
                # What was acknowledged before the kill and still sits in the pipe counts too.
                got.extend(proc.stdout.read().splitlines(keepends=True))
            finally:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
        assert proc.returncode == -signal.SIGKILL and len(got) >= kill_after
        # A cut last line was not a whole acknowledgement.
        acked |= {tuple(line.decode().split()) for line in got if line.endswith(b"\n")}
        with SqliteRecordStore(path) as store:
            stored = {(e.call_id, e.type) for e in store.events()}
            missing = acked - stored
            assert not missing, (
                f"round {round_}: {len(missing)} acknowledged events lost: {sorted(missing)[:3]}"
            )
            ended = {cid for cid, kind in acked if kind == "ENDED"}
            records = {r.call_id: r for r in store.records()}
            assert ended <= records.keys()
            assert all(records[cid].tenant == "shop" and records[cid].cost == 0.4 for cid in ended)
    # The switch retries what it sent before the crash: stored once.
    with SqliteRecordStore(path) as store:
        replay = [CallEvent.create(cid, kind, "13800000010", T0) for cid, kind in sorted(acked)[:50]]
        assert all(a.duplicate for a in store.append_many(replay))


# --- failures ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small filesystem")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_fails_clearly_and_never_acknowledges(tiny_fs: Path, engine: routecore.Engine) -> None:
    store = SqliteRecordStore(tiny_fs / "r.db")
    acked: list[str] = []
    with pytest.raises(StoreUnavailableError, match="disk is full") as err:
        for i in range(100_000):
            store.append(ev(f"c{i:05}" + "x" * 200, "ENDED", "1" * 200, T0 + i))
            acked.append(f"c{i:05}" + "x" * 200)
    assert acked and len(acked) < 100_000
    failed = f"c{len(acked):05}" + "x" * 200
    # Routing does not depend on the store.
    assert engine.route(called="4001234567", caller="13912340000", at=T0).action == "FORWARD"
    assert str(tiny_fs) in str(err.value) and store.stats().failed_batches >= 1
    stored = {r.call_id for r in store.records()}
    assert stored == set(acked) and failed not in stored
    store.close()


def test_read_only_database_fails_clearly(tiny_fs: Path) -> None:
    path = tiny_fs / "r.db"
    with SqliteRecordStore(path) as s:
        s.append(ev("before", "ENDED"))
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    try:
        with pytest.raises(StoreUnavailableError, match="read-only"):
            SqliteRecordStore(path)
        # strict=False: the service keeps running, every write fails clearly...
        s = SqliteRecordStore(path, strict=False)
        with pytest.raises(StoreUnavailableError, match="read-only"):
            s.append(ev("during", "ENDED"))

        async def via_async() -> None:
            with pytest.raises(StoreUnavailableError, match="read-only"):
                await s.append_async(ev("during", "ENDED"))

        asyncio.run(via_async())
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_fs)], check=True)
    # ...until the disk is writable again.
    assert not s.append(ev("after", "ENDED")).duplicate
    s.close()
    assert {r[0] for r in rows(path, "SELECT call_id FROM calls")} == {"before", "after"}


def test_read_only_at_runtime_fails_the_batch_not_the_store(store: SqliteRecordStore) -> None:
    # Portable stand-in for a database that turns read-only under the running store.
    assert store._conn is not None
    store._conn.execute("PRAGMA query_only=1")
    with pytest.raises(StoreUnavailableError, match="read-only"):
        store.append(ev("c1", "ENDED"))
    store._conn.execute("PRAGMA query_only=0")
    assert not store.append(ev("c1", "ENDED")).duplicate  # the failed one was never stored


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(StoreUnavailableError, match="not an SQLite database"):
        SqliteRecordStore(bad)


# --- the decision cache --------------------------------------------------------------------------


def test_decision_cache_ttl_and_bound() -> None:
    now = [0.0]
    cache = DecisionCache(ttl_seconds=10, max_entries=3, clock=lambda: now[0])
    for i in range(5):
        cache.put(f"c{i}", DecisionContext(tenant=f"t{i}"))
    assert len(cache) == 3 and cache.get("c0") is None
    assert cache.get("c4") == DecisionContext(tenant="t4")
    now[0] = 5
    cache.put("c2", DecisionContext(tenant="again"))  # re-decided: fresh TTL
    now[0] = 12
    assert cache.get("c3") is None and cache.get("c2") == DecisionContext(tenant="again")
    cache.put("c9", DecisionContext())
    assert len(cache) == 2  # the expired ones were dropped


def test_remember_ignores_decisions_without_call_id(
    store: SqliteRecordStore, engine: routecore.Engine
) -> None:
    store.remember_decision(engine.route(called="4001234567", caller="13912340000", at=T0))
    assert len(store.decisions) == 0
    store.remember_decision(engine.route(called="4001234567", caller="13912340000", at=T0, call_id="k"))
    assert len(store.decisions) == 1
    store.append(ev("k", "ENDED"))
    assert len(store.decisions) == 0  # the call is over


def test_a_target_reported_in_either_spelling_gets_its_rate() -> None:
    """The engine's slot rule: a number target reported as `sip:NUMBER@GATEWAY`, or a URI
    target whose user part is a number reported bare, is the same target; an extension is
    its PBX's alone."""
    ctx = DecisionContext(
        rates=(("13800000010", 0.2), ("sip:13800000011@gw", 0.3), ("sip:8001@pbx-a", 0.5)),
    )
    assert ctx.rate_for("13800000010") == 0.2
    assert ctx.rate_for("sip:13800000010@10.0.0.1") == 0.2
    assert ctx.rate_for("+86 138 0000 0011") == 0.3
    assert ctx.rate_for("sip:8001@pbx-a") == 0.5
    assert ctx.rate_for("sip:8001@pbx-b") is None
    assert ctx.rate_for("13800000099") is None
