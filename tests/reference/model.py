"""Pure-Python reference model of one routing decision, written from the spec and semantics.md.

Simple and slow on purpose: every step is a loop over plain dicts, lists and sets, in the order
semantics.md gives. It shares no code with the engine and is the oracle of the differential test.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from . import numbers, patterns
from .numbers import NotANumber, Number, Region

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICRO = dt.timedelta(microseconds=1)
DIGITS = re.compile(r"[0-9*#T]*")
ACTIONS = ("forward", "menu", "announce", "voicemail", "reject")
DEFAULT_MAX_CALL_SECONDS = 4 * 3600
DEFAULT_RING_SECONDS = 20
CLOCK_STEP = 3600 * 1_000_000  # µs: how far back time may go and count as a clock step (docs/decisions.md)


class ReferenceError(Exception):
    """A refused request; `code` is the gRPC status name (INVALID_ARGUMENT or NOT_FOUND)."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
        self.message = message


class ReferencePlanError(ValueError):
    """The plan is not one `routecore check` would accept (only the checks the model relies on)."""


# ---------------------------------------------------------------------------------------------
# Plan pieces


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _minutes(text: str) -> int:
    hours, minutes = text.strip().split(":")
    return int(hours) * 60 + int(minutes)


def _normalize_plan_number(text: Any, where: str) -> Number:
    if not isinstance(text, str):
        raise ReferencePlanError(f"{where}: numbers must be quoted strings, got {text!r}")
    try:
        number = numbers.normalize(text)
    except NotANumber as err:
        raise ReferencePlanError(f"{where}: {err}") from err
    if number.kind == "anonymous":
        raise ReferencePlanError(f"{where}: empty number")
    return number


@dataclass
class CallerList:
    name: str
    numbers: set[str] = field(default_factory=set)
    patterns: list[str] = field(default_factory=list)
    reason: str = ""

    def holds(self, caller: Number) -> bool:
        if not caller.normalized:
            return False
        if caller.normalized in self.numbers:
            return True
        return any(patterns.matches(p, caller.normalized) for p in self.patterns)


@functools.cache
def _cn_days_off() -> frozenset[dt.date]:
    """The official holidays, and the weekend days joined to them ("与周末连休"): walking out
    from each weekday holiday over other holidays and over Saturdays and Sundays that are not
    make-up workdays (a holiday on a weekend alone does not reach out)."""
    official = set(chinese_calendar.holidays)
    joined = set()
    for day in official:
        if day.weekday() >= 5:
            continue
        for step in (dt.timedelta(days=-1), dt.timedelta(days=1)):
            other = day + step
            while other in official or (other.weekday() >= 5 and other not in chinese_calendar.workdays):
                if other not in official:
                    joined.add(other)
                other += step
    return frozenset(official | joined)


@dataclass
class Target:
    index: int
    number: str  # normalised, or "" for a URI target
    uri: str
    number_kind: str
    ring_seconds: int
    weight: int
    max_calls: int | None
    schedule: str | None
    regions: list[str]

    @property
    def key(self) -> str:
        """What slots belong to: the normalised number, also for a URI whose user part is a
        mobile, landline or international number (`sip:13800000009@gw`), else the URI as
        written (an extension, `sip:8001@pbx`, is its PBX's)."""
        return self.number or _slot_of(self.uri)


def _slot_of(target: str) -> str:
    """The slot of a target as named in a plan or a report."""
    try:
        number = numbers.normalize(target)
    except NotANumber:
        return target
    ten_digit_service = number.kind == "service" and len(number.normalized) == 10  # 400/800
    if ":" in target and number.kind not in ("mobile", "landline", "international") and not ten_digit_service:
        return target
    return number.normalized if number.kind != "anonymous" else target


@dataclass
class Group:
    tenant: str
    name: str
    strategy: str
    targets: list[Target]
    overflow: dict[str, Any] | None
    max_targets: int | None
    max_call_seconds: int


@dataclass
class Tenant:
    name: str
    raw: dict[str, Any]
    groups: dict[str, Group]
    menus: dict[str, dict[str, Any]]
    blocklists: list[str]
    allowlists: list[str]


@dataclass
class Lease:
    answered_at: int
    expires_at: int


# ---------------------------------------------------------------------------------------------


def _parse_time(at: dt.datetime | str | None, tz: ZoneInfo) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError as err:
            raise ReferenceError("INVALID_ARGUMENT", f"time: not ISO 8601: {at!r}", "time") from err
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at


def _micros(instant: dt.datetime) -> int:
    return (instant - EPOCH) // MICRO


class ReferenceModel:
    """One routing engine's worth of state over one plan."""

    def __init__(self, plan: dict[str, Any], base_dir: Path | None = None, *, source: bytes = b"") -> None:
        self.plan = plan
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.tz = ZoneInfo(plan.get("timezone", "Asia/Shanghai"))
        self.calendars: dict[str, dict[str, Any]] = plan.get("calendars") or {}
        self.schedules: dict[str, dict[str, Any]] = plan.get("schedules") or {}
        self.rates: dict[str, dict[str, float]] = plan.get("rates") or {}
        self.blocklists: list[str] = list(plan.get("blocklists") or [])
        self.rng = random.Random(plan.get("seed", 0))
        list_bytes: list[bytes] = []
        self.lists = {
            name: self._load_list(name, spec, list_bytes) for name, spec in (plan.get("lists") or {}).items()
        }
        self.tenants: dict[str, Tenant] = {}
        self.numbers: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for tname, traw in (plan.get("tenants") or {}).items():
            self.tenants[tname] = self._load_tenant(tname, traw)
        groups = [g for ten in self.tenants.values() for g in ten.groups.values()]
        self.slot_keys = {t.key for g in groups for t in g.targets}
        self._check_references()
        digest = hashlib.sha256(source or json.dumps(plan, sort_keys=True, default=str).encode())
        for chunk in list_bytes:
            digest.update(chunk)
        self.plan_version = digest.hexdigest()[:16]
        # state
        self.sequence = 0
        self.rr_counter: dict[tuple[str, str], int] = {}
        self.swrr_current: dict[tuple[str, str, int], int] = {}
        self.last_first: dict[tuple[str, str, int], tuple[int, int]] = {}
        self.admitted: dict[tuple[str, str], list[int]] = {}
        self.leases: dict[tuple[str, str], Lease] = {}
        self.ended: set[tuple[str, str]] = set()
        self.call_group: dict[str, Group] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> ReferenceModel:
        import yaml

        path = Path(path)
        source = path.read_bytes()
        plan = json.loads(source) if path.suffix == ".json" else yaml.safe_load(source)
        return cls(plan, path.parent, source=source)

    # -- loading ---------------------------------------------------------------------------------

    def _load_list(self, name: str, spec: dict[str, Any], list_bytes: list[bytes]) -> CallerList:
        result = CallerList(name, reason=str(spec.get("reason", "")))
        for entry in spec.get("numbers") or []:
            result.numbers.add(_normalize_plan_number(entry, f"lists.{name}.numbers").normalized)
        if "file" in spec:
            data = (self.base_dir / spec["file"]).read_bytes()
            list_bytes.append(data)
            for line in data.decode().splitlines():
                text = line.split("#", 1)[0].strip()
                if text:
                    result.numbers.add(_normalize_plan_number(text, f"lists.{name}.file").normalized)
        result.patterns = [str(p) for p in spec.get("patterns") or []]
        for p in result.patterns:
            if p.startswith("_"):
                patterns.compile_pattern(p)
        return result

    def _load_tenant(self, tname: str, traw: dict[str, Any]) -> Tenant:
        groups: dict[str, Group] = {}
        for gname, graw in (traw.get("groups") or {}).items():
            targets = []
            for i, t in enumerate(graw.get("targets") or []):
                if "uri" in t:
                    number, uri, kind = "", str(t["uri"]), "sip"
                else:
                    parsed = _normalize_plan_number(t.get("number"), f"tenants.{tname}.groups.{gname}")
                    number, uri, kind = parsed.normalized, "", parsed.kind
                targets.append(
                    Target(
                        index=i,
                        number=number,
                        uri=uri,
                        number_kind=kind,
                        ring_seconds=int(t.get("ring_seconds", DEFAULT_RING_SECONDS)),
                        weight=int(t.get("weight", 1)),
                        max_calls=None if t.get("max_calls") is None else int(t["max_calls"]),
                        schedule=t.get("schedule"),
                        regions=[str(r) for r in t.get("regions") or []],
                    )
                )
            groups[gname] = Group(
                tenant=tname,
                name=gname,
                strategy=graw.get("strategy", "sequential"),
                targets=targets,
                overflow=graw.get("overflow"),
                max_targets=None if graw.get("max_targets") is None else int(graw["max_targets"]),
                max_call_seconds=int(graw.get("max_call_seconds", DEFAULT_MAX_CALL_SECONDS)),
            )
        tenant = Tenant(
            name=tname,
            raw=traw,
            groups=groups,
            menus=traw.get("menus") or {},
            blocklists=list(traw.get("blocklists") or []),
            allowlists=list(traw.get("allowlists") or []),
        )
        for key, nraw in (traw.get("numbers") or {}).items():
            served = _normalize_plan_number(key, f"tenants.{tname}.numbers").normalized
            if served in self.numbers:
                raise ReferencePlanError(f"number {key!r} is served twice")
            self.numbers[served] = (tname, list(nraw.get("flow") or []))
        return tenant

    def _check_references(self) -> None:
        """The few `check` rules the model needs to be well defined (names resolve, flows end)."""

        def action(tenant: Tenant, raw: dict[str, Any], where: str) -> None:
            present = [k for k in ACTIONS if k in raw]
            if len(present) != 1:
                raise ReferencePlanError(f"{where}: exactly one action needed, got {present}")
            if "forward" in raw and raw["forward"] not in tenant.groups:
                raise ReferencePlanError(f"{where}: unknown group {raw['forward']!r}")
            if "menu" in raw and raw["menu"] not in tenant.menus:
                raise ReferencePlanError(f"{where}: unknown menu {raw['menu']!r}")

        for name in self.blocklists:
            if name not in self.lists:
                raise ReferencePlanError(f"blocklists: unknown list {name!r}")
        for name, sched in self.schedules.items():
            cal = sched.get("calendar")
            if cal is not None and cal != "cn" and cal not in self.calendars:
                raise ReferencePlanError(f"schedules.{name}: unknown calendar {cal!r}")
        for tenant in self.tenants.values():
            for name in tenant.blocklists + tenant.allowlists:
                if name not in self.lists:
                    raise ReferencePlanError(f"tenants.{tenant.name}: unknown list {name!r}")
            for group in tenant.groups.values():
                if group.overflow is not None:
                    action(tenant, group.overflow, f"{tenant.name}.groups.{group.name}.overflow")
                for t in group.targets:
                    if t.schedule is not None and t.schedule not in self.schedules:
                        raise ReferencePlanError(f"{group.name}: unknown schedule {t.schedule!r}")
            for mname, menu in tenant.menus.items():
                for key, opt in (menu.get("options") or {}).items():
                    if not isinstance(key, str):
                        raise ReferencePlanError(f"menus.{mname}: option keys must be quoted: {key!r}")
                    action(tenant, opt, f"menus.{mname}.options.{key}")
                for extra in ("invalid", "timeout"):
                    if menu.get(extra) is not None:
                        action(tenant, menu[extra], f"menus.{mname}.{extra}")
        for number, (tname, flow) in self.numbers.items():
            if not flow or flow[-1].get("when"):
                raise ReferencePlanError(f"number {number}: the flow must end in a rule with no `when`")
            for i, rule in enumerate(flow):
                action(self.tenants[tname], rule, f"number {number} rule {i + 1}")
                when = rule.get("when") or {}
                for key in ("schedule", "not_schedule"):
                    if key in when and when[key] not in self.schedules:
                        raise ReferencePlanError(f"number {number}: unknown schedule {when[key]!r}")
                for name in _as_list(when.get("caller_list")):
                    if name not in self.lists:
                        raise ReferencePlanError(f"number {number}: unknown list {name!r}")

    # -- time and calendars ------------------------------------------------------------------------

    def _calendar_day(self, name: str, day: dt.date) -> str | None:
        """holiday / workday as the calendar fixes it, or None when it leaves the day to its weekday."""
        if name == "cn":
            if day in _cn_days_off():
                return "holiday"
            if day in chinese_calendar.workdays:
                return "workday"
            return None
        cal = self.calendars[name]
        if day in {_date(d) for d in cal.get("closed") or []}:
            return "holiday"
        if day in {_date(d) for d in cal.get("open") or []}:
            return "workday"
        base = cal.get("base")
        return self._calendar_day(base, day) if base else None

    def day_type(self, calendar: str | None, day: dt.date) -> str:
        fixed = self._calendar_day(calendar, day) if calendar else None
        if fixed is not None:
            return fixed
        return ("workday", "workday", "workday", "workday", "workday", "sat", "sun")[day.weekday()]

    def schedule_holds(self, name: str, instant: dt.datetime) -> bool:
        sched = self.schedules[name]
        tz = ZoneInfo(sched["timezone"]) if sched.get("timezone") else self.tz
        local = instant.astimezone(tz)
        hours = sched.get("hours") or {}
        kind = self.day_type(sched.get("calendar"), local.date())
        ranges = hours[kind] if kind in hours else hours.get("all", [])
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        for text in ranges or []:
            start, end = text.split("-")
            if _minutes(start) * 60 <= seconds < _minutes(end) * 60:
                return True
        return False

    # -- slots -----------------------------------------------------------------------------------

    def active(self, key: str, now: int) -> int:
        return sum(
            1
            for (_call, target), lease in self.leases.items()
            # A lease answered up to an hour after `now` (a clock step back) still holds:
            # docs/decisions.md, "Clock steps".
            if target == key
            and (lease.answered_at <= now < lease.expires_at or now < lease.answered_at <= now + CLOCK_STEP)
        )

    def _target_key(self, target: str) -> str | None:
        key = _slot_of(target)
        return key if key in self.slot_keys else None

    def report(
        self,
        call_id: str,
        type: str,
        target: str,
        at: dt.datetime | str | None = None,
        duration_seconds: int = 0,
    ) -> None:
        """A call event: `ANSWERED` takes a slot lease, `ENDED` frees it (semantics.md, Slots)."""
        if type not in ("ANSWERED", "ENDED"):
            raise ReferenceError("INVALID_ARGUMENT", f"type: unknown event type {type!r}", "type")
        now = _micros(_parse_time(at, self.tz))
        if type == "ENDED" and not target.strip():
            # No target: the call ends on whatever it answered.
            for slot in [s for s in self.leases if s[0] == call_id]:
                del self.leases[slot]
                self.ended.add(slot)
            return
        key = self._target_key(target)
        if key is None:
            return
        slot = (call_id, key)
        if type == "ANSWERED":
            if slot in self.leases or slot in self.ended:
                return
            group = self.call_group.get(call_id)
            ttl = group.max_call_seconds if group is not None else DEFAULT_MAX_CALL_SECONDS
            self.leases[slot] = Lease(now, now + ttl * 1_000_000)
        else:
            self.leases.pop(slot, None)
            self.ended.add(slot)

    # -- the decision ------------------------------------------------------------------------------

    def route(
        self,
        called: str,
        caller: str,
        digits: str = "",
        at: dt.datetime | str | None = None,
        call_id: str = "",
    ) -> dict[str, Any]:
        """One decision, as a dict with the proto's field names.

        Raises:
            ReferenceError: INVALID_ARGUMENT (called, caller, digits, time) or NOT_FOUND (called).
        """
        try:
            called_number = numbers.normalize(called)
        except NotANumber as err:
            raise ReferenceError("INVALID_ARGUMENT", f"called: {err}", "called") from err
        if called_number.kind == "anonymous":
            raise ReferenceError("INVALID_ARGUMENT", "called: empty or withheld", "called")
        try:
            caller_number = numbers.normalize_caller(caller)
        except NotANumber as err:
            raise ReferenceError("INVALID_ARGUMENT", f"caller: {err}", "caller") from err
        if not DIGITS.fullmatch(digits):
            raise ReferenceError("INVALID_ARGUMENT", f"digits: only 0-9 * # T allowed: {digits!r}", "digits")
        instant = _parse_time(at, self.tz)
        if called_number.normalized not in self.numbers:
            raise ReferenceError("NOT_FOUND", f"called: {called_number.normalized} is not served", "called")
        self.sequence += 1
        tname, flow = self.numbers[called_number.normalized]
        call = _Call(
            model=self,
            tenant=self.tenants[tname],
            caller=caller_number,
            region=numbers.region(caller_number),
            digits=digits,
            instant=instant,
            now=_micros(instant),
            date=instant.astimezone(self.tz).date(),
            call_id=call_id,
        )
        klass, tags = numbers.classify(called_number.normalized)
        decision = _empty_decision(call_id)
        decision.update(
            tenant=tname,
            plan_version=self.plan_version,
            caller={
                "normalized": caller_number.normalized,
                "kind": caller_number.kind,
                "province": call.region.province,
                "city": call.region.city,
                "carrier": call.region.carrier,
                "virtual_operator": call.region.virtual_operator,
                "country": call.region.country,
            },
            called_class={"class": klass, "tags": tags},
            display=call.display(),
        )
        decision.update(call.decide(flow))
        decision["trace"] = call.trace
        return decision


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _empty_decision(call_id: str) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "action": "",
        "targets": [],
        "parallel": False,
        "menu": {"id": "", "prompt": "", "keys": []},
        "prompt": "",
        "voicemail_box": "",
        "reject": {"sip_code": 0, "reason": ""},
        "display": {"name": "", "tag": "", "certified": False},
        "caller": {},
        "called_class": {"class": "", "tags": []},
        "tenant": "",
        "rule": "",
        "plan_version": "",
        "trace": [],
    }


@dataclass
class _Call:
    """One request being decided."""

    model: ReferenceModel
    tenant: Tenant
    caller: Number
    region: Region
    digits: str
    instant: dt.datetime
    now: int
    date: dt.date
    call_id: str
    trace: list[str] = field(default_factory=list)
    # The caller's admitted times once the per-caller limit counted this call (None: not counted).
    counted: list[int] | None = None

    # -- display ---------------------------------------------------------------------------------

    def display(self) -> dict[str, Any]:
        raw = self.tenant.raw
        disp = raw.get("display") or {}
        name = disp.get("name") or ""
        until = disp.get("certified_until")
        certified = bool(name) and (until is None or self.date <= _date(until))
        tag = disp.get("tag") or ""
        for entry in raw.get("tags") or []:
            lo = _date(entry["from"]) if entry.get("from") is not None else dt.date.min
            hi = _date(entry["until"]) if entry.get("until") is not None else dt.date.max
            if lo <= self.date <= hi:
                tag = entry["tag"]
        return {"name": name if certified else "", "tag": tag, "certified": certified}

    # -- checks before the flow ----------------------------------------------------------------------

    def _on(self, list_name: str) -> bool:
        return self.model.lists[list_name].holds(self.caller)

    def decide(self, flow: list[dict[str, Any]]) -> dict[str, Any]:
        allowed = any(self._on(name) for name in self.tenant.allowlists)
        if allowed:
            self.trace.append("allowlisted: block checks and the per-caller limit skipped")
        else:
            for name in self.model.blocklists + self.tenant.blocklists:
                if self._on(name):
                    self.trace.append(f"blocked by list {name}")
                    reason = self.model.lists[name].reason or "blocked"
                    return {"action": "REJECT", "reject": {"sip_code": 603, "reason": reason}, "rule": ""}
            limited = self._per_caller_limit()
            if limited is not None:
                return limited
        out = self._flow(flow)
        if out["action"] == "REJECT" and self.counted is not None:
            # plan-format.md: "a rejected attempt does not count".
            self.counted.remove(self.now)
        return out

    def _flow(self, flow: list[dict[str, Any]]) -> dict[str, Any]:
        for i, rule in enumerate(flow):
            rule_id = str(rule.get("id") or f"r{i + 1}")
            failed = self._failed_condition(rule.get("when") or {})
            if failed is not None:
                self.trace.append(f"rule {rule_id}: {failed} does not hold")
                continue
            self.trace.append(f"rule {rule_id}: matched")
            out = self._act(rule, self.digits, seen=set())
            out["rule"] = rule_id
            return out
        raise AssertionError("unreachable: flows end in an unconditional rule")

    def _per_caller_limit(self) -> dict[str, Any] | None:
        limit = (self.tenant.raw.get("limits") or {}).get("per_caller")
        if not limit or self.digits != "" or self.caller.kind == "anonymous":
            return None
        window = int(limit["window_seconds"]) * 1_000_000
        key = (self.tenant.name, self.caller.normalized)
        log = self.model.admitted.setdefault(key, [])
        # Calls admitted up to an hour after `now` (a clock step back) count as admitted at
        # `now`: docs/decisions.md, "Clock steps".
        log[:] = [self.now if self.now < t <= self.now + CLOCK_STEP else t for t in log]
        recent = sum(1 for t in log if self.now - window < t <= self.now)
        if recent >= int(limit["calls"]):
            self.trace.append(f"per-caller limit: {recent} calls in the window")
            return {"action": "REJECT", "reject": {"sip_code": 603, "reason": "rate_limited"}, "rule": ""}
        log.append(self.now)
        self.counted = log
        return None

    # -- conditions ------------------------------------------------------------------------------------

    def _failed_condition(self, when: dict[str, Any]) -> str | None:
        """The first condition of `when` that does not hold, or None when all hold."""
        model = self.model
        for key, value in when.items():
            if key == "schedule":
                ok = model.schedule_holds(value, self.instant)
            elif key == "not_schedule":
                ok = not model.schedule_holds(value, self.instant)
            elif key == "caller_region":
                ok = any(self._in_region(str(entry)) for entry in _as_list(value))
            elif key == "caller_pattern":
                ok = any(patterns.matches(str(p), self.caller.normalized) for p in _as_list(value))
            elif key == "caller_list":
                ok = any(self._on(name) for name in _as_list(value))
            elif key == "caller_kind":
                ok = self.caller.kind in _as_list(value)
            elif key == "carrier":
                ok = bool(self.region.carrier) and self.region.carrier in _as_list(value)
            elif key == "dates":
                lo = _date(value["from"]) if value.get("from") is not None else dt.date.min
                hi = _date(value["until"]) if value.get("until") is not None else dt.date.max
                ok = lo <= self.date <= hi
            else:
                raise ReferencePlanError(f"unknown condition {key!r}")
            if not ok:
                return key
        return None

    def _in_region(self, entry: str) -> bool:
        if not self.region.province:
            return False
        if "/" in entry:
            province, city = entry.split("/", 1)
            return self.region.province == province and self.region.city == city
        return self.region.province == entry

    # -- actions -----------------------------------------------------------------------------------------

    def _menu_answer(self, name: str) -> dict[str, Any]:
        menu = self.tenant.menus[name]
        keys = list((menu.get("options") or {}).keys())
        return {"action": "MENU", "menu": {"id": name, "prompt": menu.get("prompt", ""), "keys": keys}}

    def _walk(self, name: str, keys: str) -> dict[str, Any]:
        """Walk the `keys` left through the menu `name` (semantics.md, Menu walk)."""
        for at, key in enumerate(keys):
            menu = self.tenant.menus[name]
            options = menu.get("options") or {}
            if key == "T":
                action = menu.get("timeout")
                how = "timeout"
            elif key in options:
                action = options[key]
                how = f"key {key}"
            else:
                action = menu.get("invalid")
                how = f"invalid key {key}"
            if action is None:
                # The replayed menu takes the next key as the first time.
                self.trace.append(f"menu {name}: {how}, replay")
                continue
            if "menu" in action:
                self.trace.append(f"menu {name}: {how} -> menu {action['menu']}")
                name = action["menu"]
                continue
            self.trace.append(f"menu {name}: {how} -> {next(k for k in ACTIONS if k in action)}")
            return self._act(action, keys[at + 1 :], seen=set())
        return self._menu_answer(name)

    def _act(self, action: dict[str, Any], keys: str, *, seen: set[str]) -> dict[str, Any]:
        """Runs `action`; a menu it reaches (directly or by an overflow) walks `keys`."""
        if "forward" in action:
            return self._forward(action["forward"], keys, seen)
        if "menu" in action:
            return self._walk(action["menu"], keys)
        if "announce" in action:
            return {"action": "ANNOUNCE", "prompt": str(action["announce"])}
        if "voicemail" in action:
            return {"action": "VOICEMAIL", "voicemail_box": str(action["voicemail"])}
        reject = action["reject"]
        return {
            "action": "REJECT",
            "reject": {"sip_code": int(reject["code"]), "reason": str(reject["reason"])},
        }

    # -- forwarding ----------------------------------------------------------------------------------------

    def _eligible(self, target: Target) -> bool:
        if target.schedule is not None and not self.model.schedule_holds(target.schedule, self.instant):
            return False
        return target.max_calls is None or self.model.active(target.key, self.now) < target.max_calls

    def _forward(self, group_name: str, keys: str, seen: set[str]) -> dict[str, Any]:
        group = self.tenant.groups[group_name]
        if group_name in seen:
            self.trace.append(f"group {group_name}: overflow cycle")
            return {"action": "REJECT", "reject": {"sip_code": 480, "reason": "no_target"}}
        seen = seen | {group_name}
        eligible = [t for t in group.targets if self._eligible(t)]
        if group.strategy == "region":
            # Targets of other regions are left out; if that leaves none, the overflow applies.
            eligible = self._order(group, eligible)
        if not eligible:
            self.trace.append(f"group {group_name}: no eligible target")
            if group.overflow is None:
                return {"action": "REJECT", "reject": {"sip_code": 480, "reason": "no_target"}}
            return self._act(group.overflow, keys, seen=seen)
        ordered = self._order(group, eligible)
        if group.max_targets is not None:
            ordered = ordered[: group.max_targets]
        self.model.call_group[self.call_id] = group
        self.trace.append(f"group {group_name} ({group.strategy}): {[t.key for t in ordered]}")
        return {
            "action": "FORWARD",
            "targets": [
                {
                    "number": t.number,
                    "uri": t.uri,
                    "ring_seconds": t.ring_seconds,
                    "rate_per_minute": self._rate(t),
                }
                for t in ordered
            ],
            "parallel": group.strategy == "ring_all",
        }

    def _order(self, group: Group, eligible: list[Target]) -> list[Target]:
        model = self.model
        strategy = group.strategy
        if strategy in ("sequential", "ring_all"):
            return eligible
        if strategy == "round_robin":
            state = (group.tenant, group.name)
            n = len(group.targets)
            start = model.rr_counter.get(state, 0) % n
            model.rr_counter[state] = model.rr_counter.get(state, 0) + 1
            rotated = group.targets[start:] + group.targets[:start]
            ok = {t.index for t in eligible}
            return [t for t in rotated if t.index in ok]
        if strategy == "weighted":
            weighted = [t for t in eligible if t.weight > 0]
            if not weighted:
                return eligible
            total = sum(t.weight for t in weighted)
            for t in weighted:
                key = (group.tenant, group.name, t.index)
                model.swrr_current[key] = model.swrr_current.get(key, 0) + t.weight
            first = weighted[0]
            for t in weighted[1:]:
                if (
                    model.swrr_current[(group.tenant, group.name, t.index)]
                    > model.swrr_current[(group.tenant, group.name, first.index)]
                ):
                    first = t
            model.swrr_current[(group.tenant, group.name, first.index)] -= total
            rest = sorted((t for t in weighted if t is not first), key=lambda t: (-t.weight, t.index))
            zero = [t for t in eligible if t.weight <= 0]
            return [first, *rest, *zero]
        if strategy == "random":
            shuffled = list(eligible)
            model.rng.shuffle(shuffled)
            return shuffled
        if strategy == "least_busy":
            never = (-(2**63), -1)

            def rank(t: Target) -> tuple[int, tuple[int, int], int]:
                placed = model.last_first.get((group.tenant, group.name, t.index), never)
                return (model.active(t.key, self.now), placed, t.index)

            ordered = sorted(eligible, key=rank)
            model.last_first[(group.tenant, group.name, ordered[0].index)] = (self.now, model.sequence)
            return ordered
        if strategy == "region":
            province, city = self.region.province, self.region.city
            tiers: list[list[Target]] = [[], [], []]
            for t in eligible:
                if not t.regions:
                    tiers[2].append(t)
                elif province and f"{province}/{city}" in t.regions:
                    tiers[0].append(t)
                elif province and province in t.regions:
                    tiers[1].append(t)
            return tiers[0] + tiers[1] + tiers[2]
        raise ReferencePlanError(f"unknown strategy {strategy!r}")

    def _rate(self, target: Target) -> float:
        package = self.tenant.raw.get("package") or {}
        rates = self.model.rates
        table = rates.get(package["rates"]) if package.get("rates") in rates else rates.get("default")
        if table is None:
            return 0.0
        kind = "sip" if target.uri else "mobile" if target.number_kind == "mobile" else "landline"
        return float(table.get(kind, 0.0))
