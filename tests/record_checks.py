"""Checks every record store must pass, run by tests/test_records.py (SQLite) and
tests/test_records_postgres.py (PostgreSQL), each on its own store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from routecore.records import CallEvent, StoreUnavailableError


def a_batch_that_fails_midway_is_rolled_back(
    store: Any, monkeypatch: pytest.MonkeyPatch, ev: Callable[[str, str], CallEvent]
) -> None:
    """Not only a database error: any exception inside the transaction undoes the batch, and
    the next batch can begin its own transaction."""
    import routecore.records._sql as sql

    def broken(ended: CallEvent, *args: object) -> object:
        raise ValueError(f"a bug building the record of {ended.call_id}")

    monkeypatch.setattr(sql, "build_record", broken)
    with pytest.raises(StoreUnavailableError, match="a bug building"):
        store.append(ev("boom", "ENDED"))
    monkeypatch.undo()
    assert not store.append(ev("next", "ENDED")).duplicate
    # The failed batch left nothing behind: its event row was rolled back, so a retry is new.
    assert not store.append(ev("boom", "ENDED")).duplicate
    assert [e.call_id for e in store.events()] == ["next", "boom"]


def an_answer_after_the_end_builds_the_record_as_in_order(store: Any, t0: float) -> None:
    """ENDED before ANSWERED (out of order, a second node): the record is the one the two events
    in order build (answer time, target, duration, rate, cost), whichever came first; the
    decision's context kept with either event serves the other."""
    from routecore.records import DecisionContext

    ctx = DecisionContext(tenant="shop", rates=(("13800000010", 0.2),))
    cases = [  # (ENDED target, ENDED duration): the switch said 0 s, or named no target
        ("13800000010", 0),
        ("", 60),
    ]
    for i, (target, duration) in enumerate(cases):
        answered = CallEvent.create(f"in{i}", "ANSWERED", "13800000010", t0 + 5)
        ended = CallEvent.create(f"in{i}", "ENDED", target, t0 + 95, duration)
        for call_id, events in ((f"in{i}", [answered, ended]), (f"out{i}", [ended, answered])):
            store.remember_decision(ctx, call_id=call_id)
            for e in events:
                store.append(CallEvent.create(call_id, e.type, e.target, e.at, e.duration_seconds))
        in_order, out_of_order = store.record(f"in{i}"), store.record(f"out{i}")
        assert in_order is not None and out_of_order is not None
        assert out_of_order.cost is not None and out_of_order.cost > 0, out_of_order
        fields = ("answered_at", "target", "duration_seconds", "billed_minutes", "rate_per_minute", "cost")
        assert [getattr(out_of_order, f) for f in fields] == [getattr(in_order, f) for f in fields]
    # The answer reaches a node that no longer holds the decision (another node, a restart): the
    # context stored with the ENDED serves.
    store.remember_decision(ctx, call_id="later")
    store.append(CallEvent.create("later", "ENDED", "", t0 + 95, 60))
    store.decisions.discard("later")
    store.append(CallEvent.create("later", "ANSWERED", "13800000010", t0 + 35))
    later = store.record("later")
    assert later is not None and later.context_known
    assert (later.tenant, later.target, later.rate_per_minute) == ("shop", "13800000010", 0.2)
    assert later.cost == 0.2
