"""What the record stores hold: call events, their acks, decision contexts, call detail records.

Everything here is store-agnostic; `routecore.records.sqlite` (and later PostgreSQL) persist it.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import orjson

from routecore._routecore import (
    EMPTY_TIME,
    MAX_CALL_ID,
    InvalidArgumentError,
    RoutecoreError,
    first_unprintable,
    unprintable_message,
)
from routecore._routecore import check_call_id as _engine_check_call_id
from routecore._routecore import slot_key as _slot_key

__all__ = [
    "ANSWERED",
    "ENDED",
    "MAX_CALL_ID",
    "Ack",
    "CallEvent",
    "CallRecord",
    "DecisionCache",
    "DecisionContext",
    "RecordStoreError",
    "StoreClosedError",
    "StoreOverloadedError",
    "StoreStats",
    "StoreUnavailableError",
    "build_record",
    "check_call_id",
    "check_disposition",
    "check_range",
    "to_ms",
]

ANSWERED: Final = "ANSWERED"
ENDED: Final = "ENDED"
_EVENT_TYPES: Final = (ANSWERED, ENDED)
# Characters of a call id (and of a target) a record holds: the engine's `MAX_CALL_ID`, so the
# route requests refuse the call ids the events do (a switch must not be able to route a call it can
# never report).
_MAX_ID = MAX_CALL_ID
# The instants a record can hold: a CDR's times are datetimes, which end at the years 1 and 9999.
_MIN_MS: Final = -62_135_596_800_000  # 0001-01-01T00:00:00Z
_MAX_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


# --- errors ------------------------------------------------------------------------------------


class RecordStoreError(RoutecoreError):
    """The event (or list change) was NOT stored: it must not be acknowledged."""


class StoreOverloadedError(RecordStoreError):
    """The write queue is full (backpressure); retry later. gRPC: `RESOURCE_EXHAUSTED`, HTTP 503."""


class StoreUnavailableError(RecordStoreError):
    """The database refused the write (disk full, read-only, I/O error); the message says why.

    gRPC: `UNAVAILABLE`, HTTP 503. Routing is not affected.
    """


class StoreClosedError(StoreUnavailableError):
    """The store is closed (shutting down)."""


# --- time --------------------------------------------------------------------------------------


def to_ms(at: dt.datetime | float | str | None, *, field: str = "at") -> int:
    """An instant as milliseconds since the epoch (UTC).

    `None` is now; a number is seconds since the epoch; a datetime or an ISO 8601 string must
    carry its offset (a record is an instant; the plan's timezone is the engine's business).

    Raises:
        InvalidArgumentError: naive datetime, unparsable string, or not a time at all.
    """
    if at is None:
        return time.time_ns() // 1_000_000
    if isinstance(at, str) and not at.strip():
        raise InvalidArgumentError(f"{field}: {EMPTY_TIME}")
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError:
            raise InvalidArgumentError(f"{field}: {at!r} is not an ISO 8601 time") from None
    if isinstance(at, dt.datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidArgumentError(
                f"{field}: {at.isoformat()} has no UTC offset; a record needs an instant "
                "(an aware datetime, an ISO time with offset, or seconds since the epoch)"
            )
        return round(at.timestamp() * 1000)
    if isinstance(at, int | float) and not isinstance(at, bool):
        ms = at * 1000
        if not math.isfinite(ms):  # 1e308 s is finite, its milliseconds are not
            raise InvalidArgumentError(f"{field}: not a finite number of seconds")
        return round(ms)
    raise InvalidArgumentError(
        f"{field}: expected a datetime, an ISO 8601 string or seconds since the epoch, "
        f"got {type(at).__name__}"
    )


def _utc(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


@lru_cache(maxsize=1 << 16)
def _target_key(target: str) -> str:
    """How a target is matched against a decision's targets: the engine's slot key (`sip:NUMBER@GW`
    of a mobile, landline, international or 400/800 number is NUMBER; an extension is its URI).

    Cached: a platform's targets (agents, desks) are few and recur on every call.
    """
    return _slot_key(target) if target else target


def check_call_id(call_id: str) -> None:
    """Refuses a call id longer than `MAX_CALL_ID` characters or not printable text: the engine's
    own `decide::check_call_id`, which every route request passes, so that a call routed is a
    call its events can report.

    Raises:
        InvalidArgumentError: `call_id: longer than 256 characters`, or the character and its
            position.
    """
    try:
        _engine_check_call_id(call_id)
    except UnicodeEncodeError:
        # A lone surrogate (only a Python str holds one): Rust cannot take the text. Its length
        # is refused first, as the engine refuses it.
        if len(call_id) > MAX_CALL_ID:
            raise InvalidArgumentError(f"call_id: longer than {MAX_CALL_ID} characters") from None
        _check_printable("call_id", call_id, "a call id is printable text")


def check_disposition(disposition: str) -> None:
    """Refuses a disposition that is not printable text: a control character (`\\n`, ESC, NUL,
    DEL, C1), an invisible format character (a bidi override), a line separator, any character
    `str.isprintable()` refuses. Stored as is, it would reach `routecore stats` and the bills.

    Raises:
        InvalidArgumentError: `disposition: U+001B at position 4 is a control or invisible
            character; …`.
    """
    _check_printable("disposition", disposition, "a disposition is printable text (answered, busy, …)")


def check_event_text(call_id: str, target: str, disposition: str) -> None:
    """Refuses an event whose call id, target or disposition is not printable text (all three are
    stored and shown by `routecore stats`), or whose call id is too long (`check_call_id`).

    Raises:
        InvalidArgumentError: the field, and the character and its position.
    """
    check_call_id(call_id)
    _check_printable("target", target, "a target is a number or URI")
    check_disposition(disposition)


def _check_printable(field: str, value: str, what: str) -> None:
    """Refuses `value` unless every character is printable by the engine's rule
    (`_routecore.first_unprintable`), in the engine's words (`_routecore.unprintable_message`)."""
    if value.isascii() and value.isprintable():
        return
    try:
        found = first_unprintable(value)
    except UnicodeEncodeError:
        # A lone surrogate, which only a Python str can hold (a JSON `"\ud800"`): unprintable,
        # and the first one unless the text before it has another.
        at = next(i for i, c in enumerate(value) if "\ud800" <= c <= "\udfff")
        found = first_unprintable(value[:at]) or (at, value[at])
    if found is not None:
        raise InvalidArgumentError(unprintable_message(field, found[0], ord(found[1]), what))


# --- events and acks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One `ReportCall` event: `ANSWERED` (a target took the call) or `ENDED` (the call is over).

    Use `CallEvent.create(...)` to give the time as a datetime, ISO string or epoch seconds.
    Validated on construction; `(call_id, type)` identifies the event (a replay is a duplicate).
    """

    call_id: str
    type: str
    target: str = ""
    at_ms: int = 0
    duration_seconds: int = 0
    disposition: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.call_id, str) or not self.call_id:
            raise InvalidArgumentError("call_id: an event needs the call's id")
        check_call_id(self.call_id)
        kind = self.type.upper() if isinstance(self.type, str) else self.type
        if kind not in _EVENT_TYPES:
            raise InvalidArgumentError(f"type: {self.type!r} is not an event type (ANSWERED, ENDED)")
        if kind != self.type:
            object.__setattr__(self, "type", kind)
        if not isinstance(self.target, str) or len(self.target) > _MAX_ID:
            raise InvalidArgumentError(f"target: expected a number or URI of at most {_MAX_ID} characters")
        if not isinstance(self.at_ms, int) or isinstance(self.at_ms, bool):
            raise InvalidArgumentError("at_ms: expected an int (milliseconds since the epoch)")
        if (
            not isinstance(self.duration_seconds, int)
            or isinstance(self.duration_seconds, bool)
            or self.duration_seconds < 0
        ):
            raise InvalidArgumentError(f"duration_seconds: {self.duration_seconds!r} is not a count >= 0")
        if not isinstance(self.disposition, str) or len(self.disposition) > 64:
            raise InvalidArgumentError("disposition: expected a short string")
        if self.disposition != self.disposition.strip().lower():
            object.__setattr__(self, "disposition", self.disposition.strip().lower())

    @classmethod
    def create(
        cls,
        call_id: str,
        type: str,
        target: str = "",
        at: dt.datetime | float | str | None = None,
        duration_seconds: int = 0,
        disposition: str = "",
    ) -> CallEvent:
        """An event at `at` (aware datetime, ISO string with offset, epoch seconds; None = now).

        Raises:
            InvalidArgumentError: a field is wrong (the message names it).
        """
        if isinstance(call_id, str) and isinstance(target, str) and isinstance(disposition, str):
            check_event_text(call_id, target, disposition)  # (new events, not rows read back)
        event = cls(call_id, type, target, to_ms(at), duration_seconds, disposition)
        check_range(event, at_field="at", shown=at)
        return event

    @property
    def at(self) -> dt.datetime:
        """The event time, UTC."""
        return dt.datetime.fromtimestamp(self.at_ms / 1000, dt.UTC)


def check_range(event: CallEvent, *, at_field: str = "at_ms", shown: Any = None) -> None:
    """Refuses an event whose time, or the start its duration implies, a CDR cannot hold.

    Checked before an event is queued, not on construction: rows read back from a store built
    before this check must still load.

    Raises:
        InvalidArgumentError: naming `at_field` (the time as the caller gave it: `shown`) or
            `duration_seconds`.
    """
    if not _MIN_MS <= event.at_ms <= _MAX_MS:
        given = event.at_ms if shown is None else shown
        if isinstance(given, dt.datetime):
            given = given.isoformat()
        raise InvalidArgumentError(f"{at_field}: {given} is out of range (the years 1 to 9999, UTC)")
    if event.at_ms - event.duration_seconds * 1000 < _MIN_MS:
        raise InvalidArgumentError(
            f"duration_seconds: {event.duration_seconds} is out of range "
            "(the call would have begun before the year 1)"
        )


@dataclass(frozen=True, slots=True)
class Ack:
    """The store's answer to one event, given only once the event (and its CDR) is durable.

    `duplicate`: an event with the same `(call_id, type)` was stored before; nothing was written
    and `seq` is the original's. Acknowledge a duplicate to the switch like a first delivery.
    """

    call_id: str
    type: str
    duplicate: bool
    seq: int


# --- decision context --------------------------------------------------------------------------


def _get(obj: Any, name: str, default: Any = "") -> Any:
    # A dict (a JSON decision) or an object with attributes (routecore.Decision, a proto message);
    # no `Mapping` ABC check: it costs more than the rest of the lookup.
    if isinstance(obj, dict):
        return obj.get(name, default)
    return default if obj is None else getattr(obj, name, default)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the decision of a call knew that its events do not carry: who, which rule, the rates.

    `rates` maps each offered target (normalised number or URI) to its `rate_per_minute`.
    """

    tenant: str = ""
    called: str = ""
    caller: str = ""
    caller_kind: str = ""
    province: str = ""
    city: str = ""
    carrier: str = ""
    rule: str = ""
    plan_version: str = ""
    action: str = ""
    rates: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_decision(cls, decision: Any, called: str = "") -> DecisionContext:
        """From a `routecore.Decision`, or a dict with the proto's field names (a JSON decision).

        `called` is the request's called number (a decision does not repeat it); normalised when
        it is a number.
        """
        caller = _get(decision, "caller", None)
        rates = []
        for t in _get(decision, "targets", ()) or ():
            # The engine's targets are normalised already.
            key = _get(t, "number") or _get(t, "uri")
            if key:
                rates.append((str(key), float(_get(t, "rate_per_minute", 0.0) or 0.0)))
        action = _get(decision, "action")
        return cls(
            tenant=str(_get(decision, "tenant")),
            called=_target_key(called),
            caller=str(_get(caller, "normalized")),
            caller_kind=str(_get(caller, "kind")),
            province=str(_get(caller, "province")),
            city=str(_get(caller, "city")),
            carrier=str(_get(caller, "carrier")),
            rule=str(_get(decision, "rule")),
            plan_version=str(_get(decision, "plan_version")),
            action=str(getattr(action, "name", action)),
            rates=tuple(rates),
        )

    def rate_for(self, target: str) -> float | None:
        """The per-minute rate the decision gave `target`; None if it did not offer it."""
        for t, rate in self.rates:
            if t == target:
                return rate
        key = _target_key(target)
        for t, rate in self.rates:
            if _target_key(t) == key:
                return rate
        return None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "tenant": self.tenant,
                "called": self.called,
                "caller": self.caller,
                "caller_kind": self.caller_kind,
                "province": self.province,
                "city": self.city,
                "carrier": self.carrier,
                "rule": self.rule,
                "plan_version": self.plan_version,
                "action": self.action,
                "rates": [list(r) for r in self.rates],
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> DecisionContext:
        d = orjson.loads(data)
        d["rates"] = tuple((str(t), float(r)) for t, r in d.get("rates", ()))
        return cls(**d)


class DecisionCache:
    """call_id → the call's latest decision, in memory, for `ttl_seconds` and at most `max_entries`.

    `put` is O(1) and only stores a reference (the hot path pays no conversion); the context is
    built when an event asks for it. Expiry uses a monotonic clock (it is a cache, not engine
    state); a call re-decided (menu digits) moves to the back with a fresh TTL.
    """

    def __init__(
        self,
        ttl_seconds: float = 900.0,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be > 0")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        # Insertion order is expiry order (constant TTL, re-put moves to the back), so eviction
        # only ever looks at the front.
        self._entries: dict[str, tuple[float, Any, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, call_id: str, decision: Any, called: str = "") -> None:
        now = self._clock()
        with self._lock:
            entries = self._entries
            entries.pop(call_id, None)
            entries[call_id] = (now + self.ttl, decision, called)
            while entries:
                first = next(iter(entries))
                if len(entries) <= self.max_entries and entries[first][0] > now:
                    break
                del entries[first]

    def get(self, call_id: str) -> DecisionContext | None:
        entry = self._entries.get(call_id)
        if entry is None or entry[0] <= self._clock():
            return None
        expires, decision, called = entry
        if isinstance(decision, DecisionContext):
            return decision
        ctx = DecisionContext.from_decision(decision, called)
        with self._lock:
            if self._entries.get(call_id) is entry:
                self._entries[call_id] = (expires, ctx, called)
        return ctx

    def discard(self, call_id: str) -> None:
        with self._lock:
            self._entries.pop(call_id, None)


# --- call detail records -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call detail record, written when the call's `ENDED` event is stored.

    Times are UTC. `context_known` is False when the decision was not known to the store (a
    restart between the decision and the call's first event, or a call it never routed): then
    tenant, called, caller and its region, rule and plan_version are "" and `rate_per_minute` and
    `cost` are None (unknown, not free) unless the call billed no minute (cost 0).
    """

    call_id: str
    tenant: str
    called: str
    caller: str
    caller_kind: str
    province: str
    city: str
    carrier: str
    rule: str
    target: str
    answered_at: dt.datetime | None
    ended_at: dt.datetime
    duration_seconds: int
    disposition: str
    rate_per_minute: float | None
    billed_minutes: int
    cost: float | None
    plan_version: str
    context_known: bool


def build_record(ended: CallEvent, answered: CallEvent | None, context: DecisionContext | None) -> CallRecord:
    """The CDR of a call from its `ENDED` event, its `ANSWERED` event if any, and its decision.

    - target: the ENDED event's, else the ANSWERED event's; normalised when it is a number.
    - duration: as reported by ENDED; when it reports 0 after an ANSWERED, ended - answered in
      started seconds.
    - answered_at: the ANSWERED event's time; without one, ended - duration if duration > 0.
    - disposition: as reported, else `answered` (it was) or `unanswered`.
    - cost: rate_per_minute × minutes billed per started minute (181 s → 4 min), to 4 decimals.
    """
    target = _target_key(ended.target or (answered.target if answered else ""))
    duration = ended.duration_seconds
    if duration == 0 and answered is not None:
        # Started seconds, as minutes are billed started: 60.5 s is 61 s, so 2 minutes.
        duration = max(0, -(-(ended.at_ms - answered.at_ms) // 1000))
    if answered is not None:
        answered_ms: int | None = answered.at_ms
    elif duration > 0:
        answered_ms = ended.at_ms - duration * 1000
    else:
        answered_ms = None
    disposition = ended.disposition or ("answered" if answered_ms is not None else "unanswered")
    billed = -(-duration // 60)
    rate = context.rate_for(target) if context is not None and target else None
    if billed == 0:
        cost: float | None = 0.0
    else:
        cost = None if rate is None else round(billed * rate, 4)
    c = context or DecisionContext()
    return CallRecord(
        call_id=ended.call_id,
        tenant=c.tenant,
        called=c.called,
        caller=c.caller,
        caller_kind=c.caller_kind,
        province=c.province,
        city=c.city,
        carrier=c.carrier,
        rule=c.rule,
        target=target,
        answered_at=_utc(answered_ms),
        ended_at=ended.at,
        duration_seconds=duration,
        disposition=disposition,
        rate_per_minute=rate,
        billed_minutes=billed,
        cost=cost,
        plan_version=c.plan_version,
        context_known=context is not None,
    )


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counters since the store was opened (for `/metrics`)."""

    pending: int
    events_written: int
    duplicates: int
    batches: int
    failed_batches: int
    largest_batch: int
    last_error: str


def check_list_change(list_name: str, add: Sequence[str], remove: Sequence[str]) -> None:
    """Raises InvalidArgumentError for a change that cannot be stored as given."""
    if not isinstance(list_name, str) or not list_name:
        raise InvalidArgumentError("list_name: a list change needs the list's name")
    for field, numbers in (("add", add), ("remove", remove)):
        if isinstance(numbers, str | bytes):
            raise InvalidArgumentError(f"{field}: expected a sequence of numbers, not one string")
        for n in numbers:
            if not isinstance(n, str) or not n:
                raise InvalidArgumentError(f"{field}: {n!r} is not a number")
    both = set(add) & set(remove)
    if both:
        raise InvalidArgumentError(f"add/remove: {sorted(both)[0]!r} is both added and removed")
