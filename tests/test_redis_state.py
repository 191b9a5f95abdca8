"""The decision state on a real Redis (`rust/engine/redis_state.rs`), shared by several engines
(one per node): caps, windows, round robin, weights and least-busy history hold across them;
an unreachable Redis never stops routing, and the events taken meanwhile are replayed."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import routecore
from routecore.exceptions import InvalidArgumentError, NotReadyError
from services import RedisServer, free_port

AT = "2026-11-11T10:00:00+08:00"

PLAN = """
version: 1
timezone: Asia/Shanghai
tenants:
  shop:
    name: shop
    limits: {per_caller: {calls: 3, window_seconds: 60}}
    groups:
      capped:
        strategy: sequential
        max_call_seconds: 600
        targets:
          - {number: "13800000001", max_calls: 2}
          - {number: "13800000002", max_calls: 1}
        overflow: {reject: {code: 486, reason: busy}}
      rotation:
        strategy: round_robin
        targets:
          - {number: "13900000001"}
          - {number: "13900000002"}
          - {number: "13900000003"}
      weights:
        strategy: weighted
        targets:
          - {number: "13700000001", weight: 3}
          - {number: "13700000002", weight: 1}
      idle:
        strategy: least_busy
        targets:
          - {number: "13600000001"}
          - {number: "13600000002"}
    numbers:
      "4001000001": {flow: [{id: capped, forward: capped}]}
      "4001000002": {flow: [{id: rotation, forward: rotation}]}
      "4001000003": {flow: [{id: weights, forward: weights}]}
      "4001000004": {flow: [{id: idle, forward: idle}]}
"""


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def loaded() -> object:
    from routecore.plan import load_plan

    return load_plan(PLAN)


def nodes(redis: RedisServer, loaded: object, n: int = 2) -> list[routecore.Engine]:
    """`n` engines sharing one fresh state (a prefix of their own)."""
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    return [routecore.Engine.from_loaded(loaded, state=redis.url, state_prefix=prefix) for _ in range(n)]  # type: ignore[arg-type]


def first(engine: routecore.Engine, called: str, caller: str, call_id: str = "", at: str = AT) -> str:
    d = engine.route(called=called, caller=caller, call_id=call_id, at=at)
    return d.targets[0].number if d.targets else f"{d.action}:{d.reject.reason if d.reject else ''}"


def test_cap_holds_across_nodes(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    assert a.state_backend == "redis"
    d = a.route(called="4001000001", caller="13300000001", call_id="c1", at=AT)
    assert [t.number for t in d.targets] == ["13800000001", "13800000002"]
    b.report(call_id="c1", type="ANSWERED", target="13800000001", at=AT)
    b.report(call_id="c2", type="ANSWERED", target="13800000001", at=AT)
    # Both slots of 13800000001 were taken on node b: node a skips it.
    d = a.route(called="4001000001", caller="13300000002", call_id="c3", at=AT)
    assert [t.number for t in d.targets] == ["13800000002"]
    a.report(call_id="c3", type="ANSWERED", target="13800000002", at=AT)
    assert first(b, "4001000001", "13300000003") == "REJECT:busy"
    a.report(call_id="c1", type="ENDED", target="13800000001", at="2026-11-11T10:01:00+08:00")
    assert first(b, "4001000001", "13300000004", at="2026-11-11T10:01:01+08:00") == "13800000001"


def test_an_ended_without_target_frees_the_slot_on_any_node(redis: RedisServer, loaded: object) -> None:
    # Routed on a, answered on b, ended without its target on b (which never saw the decision):
    # the slot is freed by the call id, not left to its lease.
    a, b = nodes(redis, loaded)
    a.route(called="4001000001", caller="13300000001", call_id="e1", at=AT)
    b.report(call_id="e1", type="ANSWERED", target="13800000001", at=AT)
    b.report(call_id="e2", type="ANSWERED", target="13800000001", at=AT)
    assert [t.number for t in a.route(called="4001000001", caller="13300000002", at=AT).targets] == [
        "13800000002"
    ]
    later = "2026-11-11T10:01:00+08:00"
    b.report(call_id="e1", type="ENDED", target="", at=later)
    b.report(call_id="e1", type="ANSWERED", target="13800000001", at=later)  # late: ignored
    d = a.route(called="4001000001", caller="13300000003", at="2026-11-11T10:01:01+08:00")
    assert [t.number for t in d.targets] == ["13800000001", "13800000002"]
    # Ended without a target before its ANSWERED arrives (on another node): nothing is taken.
    a.route(called="4001000001", caller="13300000004", call_id="e3", at=later)
    a.report(call_id="e3", type="ENDED", target="", at=later)
    b.report(call_id="e3", type="ANSWERED", target="13800000001", at=later)  # e2 holds the other
    d = a.route(called="4001000001", caller="13300000005", at="2026-11-11T10:01:02+08:00")
    assert [t.number for t in d.targets] == ["13800000001", "13800000002"]


def test_in_process_state_is_per_node(loaded: object) -> None:
    """The control: without shared state, node a never hears of node b's answered calls."""
    a, b = (routecore.Engine.from_loaded(loaded) for _ in range(2))  # type: ignore[arg-type]
    b.report(call_id="c1", type="ANSWERED", target="13800000001", at=AT)
    b.report(call_id="c2", type="ANSWERED", target="13800000001", at=AT)
    assert first(a, "4001000001", "13300000002") == "13800000001"
    assert first(b, "4001000001", "13300000002") == "13800000002"


def test_lease_length_comes_from_the_routing_group_on_any_node(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    a.route(called="4001000001", caller="13300000001", call_id="c1", at=AT)
    b.report(call_id="c1", type="ANSWERED", target="13800000002", at=AT)
    assert first(a, "4001000001", "13300000002", at="2026-11-11T10:09:59+08:00") == "13800000001"
    d = a.route(called="4001000001", caller="13300000003", at="2026-11-11T10:09:59+08:00")
    assert [t.number for t in d.targets] == ["13800000001"]  # 13800000002 still busy
    # max_call_seconds 600: the lease expires 10 minutes after the answer (once node a's
    # written-behind lease length is in Redis, if the ANSWERED overtook it).
    assert both_free_at_ten_past(b) == ["13800000001", "13800000002"]


def both_free_at_ten_past(engine: routecore.Engine) -> list[str]:
    """The targets offered at 10:10:00, waiting (at most 5 s) for a lease length written behind."""
    deadline = time.monotonic() + 5
    while True:
        d = engine.route(called="4001000001", caller="13300000004", at="2026-11-11T10:10:00+08:00")
        numbers = [t.number for t in d.targets]
        if len(numbers) == 2 or time.monotonic() > deadline:
            return numbers
        time.sleep(0.01)


def test_a_lease_answered_before_its_length_gets_it(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    # The switch's ANSWERED reaches node b before node a has even routed the call: b takes the
    # default lease (4 hours); node a's lease length (600 s), written behind, then shortens it.
    b.report(call_id="c1", type="ANSWERED", target="13800000002", at=AT)
    a.route(called="4001000001", caller="13300000001", call_id="c1", at=AT)
    d = b.route(called="4001000001", caller="13300000003", at="2026-11-11T10:09:59+08:00")
    assert [t.number for t in d.targets] == ["13800000001"]
    assert both_free_at_ten_past(b) == ["13800000001", "13800000002"]


def test_duplicate_and_out_of_order_events_change_nothing(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    for node in (a, b, a):
        node.report(call_id="c1", type="ANSWERED", target="13800000002", at=AT)
    assert first(a, "4001000001", "13300000001") == "13800000001"
    b.report(call_id="c1", type="ENDED", target="13800000002", at=AT)
    a.report(call_id="c1", type="ENDED", target="13800000002", at=AT)
    a.report(call_id="c1", type="ANSWERED", target="13800000002", at=AT)  # late: ignored
    b.report(call_id="c9", type="ENDED", target="13800000002", at=AT)  # ENDED before ANSWERED
    a.report(call_id="c9", type="ANSWERED", target="13800000002", at=AT)
    d = b.route(called="4001000001", caller="13300000002", at=AT)
    assert [t.number for t in d.targets] == ["13800000001", "13800000002"]


def test_round_robin_is_exactly_fair_across_nodes(redis: RedisServer, loaded: object) -> None:
    engines = nodes(redis, loaded, 3)
    firsts = [first(engines[i % 3 if i % 5 else 0], "4001000002", f"133000{i:05d}") for i in range(30)]
    # One shared position: the first target cycles as listed whichever node decides.
    assert firsts == ["13900000001", "13900000002", "13900000003"] * 10


def test_weighted_follows_the_weights_across_nodes(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    single = routecore.Engine.from_loaded(loaded)  # type: ignore[arg-type]
    shared = [first(a if i % 3 else b, "4001000003", f"133{i:08d}") for i in range(16)]
    alone = [first(single, "4001000003", f"133{i:08d}") for i in range(16)]
    assert shared == alone
    assert Counter(shared) == {"13700000001": 12, "13700000002": 4}


def test_least_busy_history_is_shared(redis: RedisServer, loaded: object) -> None:
    a, b = nodes(redis, loaded)
    assert first(a, "4001000004", "13300000001") == "13600000001"
    assert first(b, "4001000004", "13300000002") == "13600000002"
    a.report(call_id="x", type="ANSWERED", target="13600000002", at=AT)
    assert first(b, "4001000004", "13300000003") == "13600000001"
    assert first(a, "4001000004", "13300000004") == "13600000001"


def test_per_caller_limit_is_exact_under_concurrent_nodes(redis: RedisServer, loaded: object) -> None:
    """12 threads on 3 nodes race for one caller's 3 calls a minute: exactly 3 are admitted."""
    engines = nodes(redis, loaded, 3)
    actions: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def call(i: int) -> None:
        barrier.wait(10)
        d = engines[i % 3].route(called="4001000002", caller="13312345678", at=AT)
        with lock:
            actions.append(d.reject.reason if d.reject else d.action)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Counter(actions) == {"FORWARD": 3, "rate_limited": 9}
    # The window slides on the request time, whichever node asks.
    assert first(engines[1], "4001000002", "13312345678", at="2026-11-11T10:01:00+08:00").startswith("139")


def test_a_rejected_attempt_does_not_count_on_any_node(redis: RedisServer, loaded: object) -> None:
    """A call the flow rejects (every slot taken: 486 busy) is taken back from the shared window,
    so after three such attempts on one node the caller is still admitted on another."""
    a, b = nodes(redis, loaded)
    for i, target in enumerate(["13800000001", "13800000001", "13800000002"]):
        assert first(a, "4001000001", f"1350000000{i}", call_id=f"busy{i}") == target
        a.report(call_id=f"busy{i}", type="ANSWERED", target=target, at=AT)
    for _ in range(3):
        assert first(a, "4001000001", "13312340000") == "REJECT:busy"
    b.report(call_id="busy2", type="ENDED", target="13800000002", at=AT)
    assert first(b, "4001000001", "13312340000") == "13800000002"


def test_unreachable_redis_fails_open_and_replays_events(tmp_path: Path, loaded: object) -> None:
    server = RedisServer(tmp_path / "redis")
    try:
        prefix = f"t-{uuid.uuid4().hex[:8]}"
        a, b = (
            routecore.Engine.from_loaded(loaded, state=server.url, state_prefix=prefix)  # type: ignore[arg-type]
            for _ in range(2)
        )
        a.report(call_id="c0", type="ANSWERED", target="13800000002", at=AT)
        server.stop()
        started = time.monotonic()
        # Routing goes on; the caller's limit and the caps are open: they count only what this
        # node saw since the outage began (c0's slot is not known here).
        for i in range(3):
            d = a.route(called="4001000001", caller="13312345678", call_id=f"c{i + 1}", at=AT)
            assert d.action == "FORWARD" and d.targets[0].number == "13800000001"
        a.report(call_id="c1", type="ANSWERED", target="13800000001", at=AT)
        a.report(call_id="c2", type="ANSWERED", target="13800000001", at=AT)
        assert time.monotonic() - started < 5  # no step waits on the dead Redis for long
        status = a.state_status()
        assert status is not None
        assert not status["healthy"] and status["outages"] == 1 and status["fallbacks"] >= 3
        assert status["journaled"] >= 2 and "refused" in status["last_error"].lower()
        # This node's own view still counts what it saw during the outage.
        assert first(a, "4001000001", "13300000009") == "13800000002"
        server.start()  # empty: everything before the restart is gone
        time.sleep(0.6)
        assert first(b, "4001000001", "13300000010").startswith("138")  # b reconnects by itself
        first(a, "4001000001", "13300000011")  # a's next step replays its journal first
        status = a.state_status()
        assert status is not None and status["healthy"] and status["replayed"] >= 2
        assert status["journaled"] == 0
        # The two answers taken during the outage are shared again: b sees 13800000001 full.
        d = b.route(called="4001000001", caller="13300000012", at=AT)
        assert [t.number for t in d.targets] == ["13800000002"]
    finally:
        server.stop()


def test_bad_state_settings_are_refused(loaded: object, redis: RedisServer) -> None:
    with pytest.raises(NotReadyError, match=r"state: cannot reach Redis at redis://\*\*\*@127\.0\.0\.1"):
        routecore.Engine.from_loaded(loaded, state=f"redis://:secret@127.0.0.1:{free_port()}/0")  # type: ignore[arg-type]
    with pytest.raises(NotReadyError, match="state"):
        routecore.Engine.from_loaded(loaded, state="not a url")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="state_prefix"):
        routecore.Engine.from_loaded(loaded, state=redis.url, state_prefix="a b")  # type: ignore[arg-type]
    assert routecore.Engine.from_loaded(loaded).state_status() is None  # type: ignore[arg-type]
