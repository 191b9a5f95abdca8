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
