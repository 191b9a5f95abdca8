"""The PostgreSQL record store on a real server: same promises as SQLite, shared by nodes."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator

import psycopg
import pytest
import routecore
from record_checks import (
    a_batch_that_fails_midway_is_rolled_back,
    an_answer_after_the_end_builds_the_record_as_in_order,
)
from routecore.cli import app
from routecore.exceptions import InvalidArgumentError
from routecore.records import (
    CallEvent,
    DecisionContext,
    PostgresRecordStore,
    RecordStore,
    SqliteRecordStore,
    StoreClosedError,
    StoreUnavailableError,
    open_record_store,
)
from routecore.stats import report
from services import PostgresServer, free_port
from typer.testing import CliRunner

T0 = 1_780_000_000

PLAN = """
version: 1
timezone: Asia/Shanghai
rates:
  default: {mobile: 0.20, landline: 0.15, sip: 0.05}
tenants:
  shop:
    name: shop
    package: {monthly_fee: 100, included_minutes: 0}
    groups:
      desk:
        targets:
          - {number: "13800000010"}
    numbers:
      "4001234567":
        flow:
          - {id: all, forward: desk}
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dsn(pg: PostgresServer) -> str:
    return pg.new_database()


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresRecordStore]:
    s = PostgresRecordStore(dsn)
    yield s
    s.close()


def ev(call_id: str, kind: str, target: str = "13800000010", at: float = T0, **kw: object) -> CallEvent:
    return CallEvent.create(call_id, kind, target, at, **kw)  # type: ignore[arg-type]


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def test_selected_by_the_dsn(dsn: str, tmp_path: object) -> None:
    with open_record_store(dsn) as s:
        assert isinstance(s, PostgresRecordStore) and isinstance(s, RecordStore)
    with open_record_store(f"{tmp_path}/r.db") as s:
        assert isinstance(s, SqliteRecordStore)


def test_full_record_from_a_real_decision(store: PostgresRecordStore) -> None:
    engine = routecore.Engine.from_text(PLAN)
    d = engine.route(called="4001234567", caller="13912340000", call_id="c1", at=T0)
    store.remember_decision(d, called="4001234567")
    a = store.append(ev("c1", "ANSWERED", "+86 138 0000 0010", T0 + 5))
    e = store.append(ev("c1", "ENDED", "13800000010", T0 + 186, duration_seconds=181))
    assert not a.duplicate and not e.duplicate and e.seq > a.seq
    r = store.record("c1")
    assert r is not None
    assert (r.tenant, r.called, r.caller, r.rule, r.target) == (
        "shop",
        "4001234567",
        "13912340000",
        "all",
        "13800000010",
    )
    assert r.answered_at == dt.datetime.fromtimestamp(T0 + 5, dt.UTC)
    assert (r.duration_seconds, r.disposition, r.billed_minutes, r.rate_per_minute, r.cost) == (
        181,
        "answered",
        4,
        0.2,
        0.8,
    )
    assert r.plan_version == engine.version and r.context_known


def test_replayed_events_are_duplicates_and_stored_once(store: PostgresRecordStore, dsn: str) -> None:
    a1 = store.append(ev("c1", "ANSWERED"))
    e1 = store.append(ev("c1", "ENDED", at=T0 + 60, duration_seconds=60))
    a2 = store.append(ev("c1", "ANSWERED", "13800000011", T0 + 1))
    acks = store.append_many([ev("c2", "ENDED"), ev("c2", "ENDED"), ev("c1", "ENDED")])
    assert a2.duplicate and a2.seq == a1.seq
    assert [a.duplicate for a in acks] == [False, True, True] and acks[2].seq == e1.seq
    assert count(dsn, "SELECT count(*) FROM events") == 3
    assert count(dsn, "SELECT count(*) FROM calls") == 2


def test_an_answer_after_the_end_builds_the_record_as_in_order(store: PostgresRecordStore) -> None:
    an_answer_after_the_end_builds_the_record_as_in_order(store, T0)


def test_late_answered_completes_the_record(store: PostgresRecordStore) -> None:
    store.append(ev("c", "ENDED", "", T0 + 10))
    store.append(ev("c", "ANSWERED", "13800000010", T0 + 2))
    r = store.record("c")
    assert r is not None and (r.disposition, r.target) == ("answered", "13800000010")


def test_a_batch_that_fails_midway_is_rolled_back_and_the_store_goes_on(
    store: PostgresRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_batch_that_fails_midway_is_rolled_back(store, monkeypatch, ev)


def test_event_out_of_range_is_refused_and_the_store_goes_on(store: PostgresRecordStore) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^at_ms: .* out of range"):
        store.append(CallEvent("far", "ENDED", "13800000010", 10**15))
    assert not store.append(ev("next", "ENDED")).duplicate
    assert store.stats().failed_batches == 0


def test_two_nodes_one_call_each_event_on_another_node(dsn: str) -> None:
    """ANSWERED on one node, ENDED on another: the record is whole (context from the ANSWERED)."""
    with PostgresRecordStore(dsn) as a, PostgresRecordStore(dsn) as b:
        a.remember_decision(DecisionContext(tenant="shop", rule="all"), call_id="x")
        a.append(ev("x", "ANSWERED", at=T0))
        b.append(ev("x", "ENDED", at=T0 + 30, duration_seconds=30))
        for store in (a, b):
            r = store.record("x")
            assert r is not None and (r.tenant, r.rule, r.duration_seconds) == ("shop", "all", 30)


def test_concurrent_nodes_every_ack_is_a_stored_row(dsn: str) -> None:
    """Three stores (nodes), threads on each: every acknowledged event is a row, each call one CDR."""
    stores = [PostgresRecordStore(dsn) for _ in range(3)]
    acked: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(40):
            call = f"n{n}-{i}"
            # The two events of a call go to different nodes.
            a = stores[n % 3].append(ev(call, "ANSWERED", at=T0 + i))
            e = stores[(n + 1) % 3].append(ev(call, "ENDED", at=T0 + i + 9, duration_seconds=9))
            with lock:
                acked.extend([a.seq, e.seq])

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(acked) == 6 * 40 * 2 == len(set(acked))
        assert count(dsn, "SELECT count(*) FROM events") == len(acked)
        assert count(dsn, "SELECT count(*) FROM calls WHERE disposition = 'answered'") == 240
    finally:
        for s in stores:
            s.close()


def test_asyncio_appends_group_commit(store: PostgresRecordStore) -> None:
    async def main() -> list[int]:
        acks = await asyncio.gather(*(store.append_async(ev(f"a{i}", "ENDED")) for i in range(200)))
        return [a.seq for a in acks]

    seqs = asyncio.run(main())
    assert len(set(seqs)) == 200
    assert store.stats().batches < 200  # shared commits


def test_stats_and_bills_read_the_store(store: PostgresRecordStore) -> None:
    from routecore.plan import load_plan

    for i in range(4):
        store.remember_decision(
            DecisionContext(tenant="shop", rates=(("13800000010", 0.2),)), call_id=f"b{i}"
        )
        store.append(ev(f"b{i}", "ANSWERED", at=T0 + 100 * i))
        store.append(ev(f"b{i}", "ENDED", at=T0 + 100 * i + 60, duration_seconds=60))
    month = dt.datetime.fromtimestamp(T0, dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    rep = report(store, load_plan(PLAN).model, month=month.strftime("%Y-%m"))
    assert rep.stats.calls == 4 and rep.stats.answered == 4
    (bill,) = rep.bills
    assert (bill.tenant, bill.calls, bill.minutes_used) == ("shop", 4, 4)


def test_stats_on_a_database_that_is_down_is_one_line() -> None:
    """libpq's message spans lines ("…refused\n\tIs the server running…"): one line on stderr."""
    result = CliRunner().invoke(app, ["stats", "--cdr", f"postgresql://nobody@127.0.0.1:{free_port()}/x"])
    assert result.exit_code == 1
    assert result.stderr.startswith("StoreUnavailableError: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_report_only_reads_the_database(dsn: str) -> None:
    from routecore.plan import load_plan

    # A database without the record tables is refused, and stays empty: a report creates nothing.
    with pytest.raises(StoreUnavailableError, match=r"not a record database \(no calls table\)$"):
        open_record_store(dsn, read_only=True)
    result = CliRunner().invoke(app, ["stats", "--cdr", dsn])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("not a record database (no calls table)"), result.stderr
    assert count(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    with PostgresRecordStore(dsn) as writer:
        writer.remember_decision(DecisionContext(tenant="shop", rates=(("13800000010", 0.2),)), call_id="r1")
        writer.append(ev("r1", "ANSWERED"))
        writer.append(ev("r1", "ENDED", at=T0 + 60, duration_seconds=60))
    reader = open_record_store(dsn, read_only=True)
    try:
        assert isinstance(reader, PostgresRecordStore)
        month = dt.datetime.fromtimestamp(T0, dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert report(reader, load_plan(PLAN).model, month=month.strftime("%Y-%m")).stats.calls == 1
        with pytest.raises(StoreClosedError):
            reader.append(ev("r2", "ANSWERED"))
    finally:
        reader.close()
    assert count(dsn, "SELECT count(*) FROM events") == 2


def test_list_changes_are_shared(dsn: str) -> None:
    with PostgresRecordStore(dsn) as a:
        a.save_list_change("fraud", add=["13800000001", "13800000002"])
        a.save_list_change("fraud", remove=["13800000001"])
    with PostgresRecordStore(dsn) as b:
        assert b.list_changes() == {"fraud": (["13800000002"], ["13800000001"])}


def test_unreachable_database_fails_clearly() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        PostgresRecordStore(dsn, connect_timeout=1)
    lenient = PostgresRecordStore(dsn, connect_timeout=1, strict=False)
    try:
        with pytest.raises(StoreUnavailableError):
            lenient.append(ev("c", "ENDED"), timeout=30)
        assert lenient.stats().failed_batches == 1
    finally:
        lenient.close()


def test_database_restart_fails_the_batch_then_recovers(pg: PostgresServer, dsn: str) -> None:
    """A broken connection fails one batch (not acknowledged); the next batch reconnects."""
    with PostgresRecordStore(dsn) as s:
        s.append(ev("before", "ENDED"))
        with psycopg.connect(pg.dsn(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            )
        try:
            s.append(ev("during", "ENDED"))
        except StoreUnavailableError:
            s.append(ev("during", "ENDED"))  # the retry a switch does when not acknowledged
        assert s.record("before") is not None and s.record("during") is not None
