"""The plan format (plan-format.md) as pydantic v2 models: shapes, defaults and local checks.

Unknown keys are refused (`extra="forbid"`) and types are strict: a number, menu key or digit
string must be a quoted string, so YAML's unquoted `0755` (read as the integer 493) is refused
rather than silently changed. Checks that need the whole plan (names that refer to nothing,
cycles, undecided flows, known places, list files) are in `routecore.plan.checks`, and so are the
checks of a mapping as a whole (exactly one action, address or list source; a window's ends in
order; ranges of a day type apart): a model validator runs only when every key of its mapping
passed, so here one bad value would hide them (`check` reports every problem at once).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from routecore.plan import _syntax

# --- scalar types ---------------------------------------------------------------------------------


def _number(v: str) -> str:
    problem = _syntax.number_problem(v)
    if problem:
        raise ValueError(f"not a number: {v!r}: {problem}")
    return v


def _uri(v: str) -> str:
    problem = _syntax.uri_problem(v)
    if problem:
        raise ValueError(f"not a SIP URI: {v!r}: {problem}")
    return v


def _gateway(v: str) -> str:
    problem = _syntax.gateway_problem(v)
    if problem:
        raise ValueError(f"not a SIP gateway (host[:port]): {v!r}: {problem}")
    return v


def _pattern(v: str) -> str:
    problem = _syntax.pattern_problem(v)
    if problem:
        raise ValueError(f"bad dial pattern {v!r}: {problem}")
    return v


def _hours_range(v: str) -> str:
    parsed = _syntax.parse_range(v)
    if isinstance(parsed, str):
        raise ValueError(f"bad hours {v!r}: {parsed}")
    return v


def _menu_key(v: str) -> str:
    problem = _syntax.menu_key_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _sip_code(v: int) -> int:
    if not 400 <= v <= 699:
        raise ValueError(f"SIP code {v} is outside 400-699 (a reject is a 4xx, 5xx or 6xx final response)")
    return v


# Files of the tz folder that zoneinfo reads but that name no IANA zone the engine knows
# (chrono-tz): the system's own zone, the POSIX rules template, tzdata's placeholder.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def _zones() -> frozenset[str]:
    """IANA zone names and links, as the engine reads them; `available_timezones` leaves out the
    `posix/` and `right/` copies that `ZoneInfo` would also load."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _timezone(v: str) -> str:
    if v not in _zones():
        import difflib

        close = difflib.get_close_matches(v, sorted(_zones()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown time zone {v!r}{hint}")
    return v


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(v: Any) -> date:
    """A plan date: a `date` as YAML reads it, or `YYYY-MM-DD` text (quoted, or JSON).

    Raises:
        ValueError: anything else, or an impossible date (2026-02-30), saying which.
    """
    if isinstance(v, datetime):
        raise ValueError(f"expected a date (YYYY-MM-DD), got the date and time {v.isoformat()}")
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        if _ISO_DATE.fullmatch(v):
            try:
                return date.fromisoformat(v)
            except ValueError as exc:  # 2026-02-30, 2026-13-01: quoted or not, the same message
                raise ValueError(f"{v!r} is not a date: {exc}") from None
        raise ValueError(f"expected a date written YYYY-MM-DD, got {v!r}")
    raise ValueError(f"expected a date (YYYY-MM-DD), got {type(v).__name__} {v!r}")


def _one_or_many(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


# Constraints that pydantic-core checks itself (no Python call per value: a big plan has 100k+ names).
Name = Annotated[StrictStr, StringConstraints(min_length=1)]
Text = Annotated[StrictStr, StringConstraints(pattern=r"\S")]
PhoneNumber = Annotated[
    StrictStr,
    AfterValidator(_number),
    Field(
        description="A phone number in any accepted form, quoted (digits, separators, +, tel:, sip:)",
        json_schema_extra={"pattern": r"^\s*(?:(?:tel:|sips?:))?\+?[0-9 ().\-]+"},
    ),
]
Gateway = Annotated[
    Text,
    AfterValidator(_gateway),
    Field(
        description="The SIP trunk number targets are sent through (`sip:NUMBER@GATEWAY`): "
        "host[:port][;param=value], the host a name, an IPv4 address or [an IPv6 address]",
        json_schema_extra={
            "pattern": r"^[^\s@;:\[]+(:[0-9]{1,5})?(;\S*)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?(;\S*)?$"
        },
    ),
]
SipUri = Annotated[StrictStr, AfterValidator(_uri), Field(json_schema_extra={"pattern": r"^sips?:\S+$"})]
CallerPattern = Annotated[
    StrictStr,
    AfterValidator(_pattern),
    Field(
        description="Dial pattern (`_` then X Z N [set] digits * #, final . or !) or plain digit prefix",
        json_schema_extra={"pattern": r"^(_([0-9*#XxZzNn]|\[[0-9\-]+\])+[.!]?|[0-9]+)$"},
    ),
]
HoursRange = Annotated[
    StrictStr,
    AfterValidator(_hours_range),
    Field(json_schema_extra={"pattern": r"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"}),
]
MenuKey = Annotated[StrictStr, AfterValidator(_menu_key), Field(json_schema_extra={"pattern": r"^[0-9*#]$"})]
TimeZone = Annotated[StrictStr, AfterValidator(_timezone), Field(description="IANA time zone name")]
PlanDate = Annotated[date, BeforeValidator(parse_date, json_schema_input_type=date)]
Place = Annotated[Text, Field(description="`province` or `province/city`, short names (广东, 广东/深圳)")]
# The engine reads these as unsigned integers (rust/engine/doc.rs): bounded here, so that `check`
# refuses what the compiler cannot read, at its key and line.
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
PositiveInt = Annotated[StrictInt, Field(ge=1, le=U32_MAX)]
Count = Annotated[StrictInt, Field(ge=0, le=U32_MAX)]
Seed = Annotated[StrictInt, Field(ge=0, le=U64_MAX)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]

Strategy = Literal["sequential", "round_robin", "weighted", "random", "least_busy", "ring_all", "region"]
CallerKind = Literal["mobile", "landline", "service", "international", "anonymous", "unknown"]
Carrier = Literal["移动", "联通", "电信", "广电"]
DAY_TYPES = ("workday", "sat", "sun", "holiday", "all")
ACTION_KEYS = ("forward", "menu", "announce", "voicemail", "reject")
LIST_SOURCES = ("file", "numbers", "patterns")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


# --- calendars and schedules ----------------------------------------------------------------------


class Calendar(_Model):
    """Day classification: the base's, then `open` days are workdays and `closed` days holidays."""

    base: Name | None = None
    closed: list[PlanDate] = Field(default_factory=list)
    open: list[PlanDate] = Field(default_factory=list)


class Hours(_Model):
    """Opening ranges by day type; `all` covers every day type not listed; no key means closed.

    Every day type closed is allowed (the spec does not forbid it): the schedule never holds, and
    the checker warns.
    """

    workday: list[HoursRange] | None = None
    sat: list[HoursRange] | None = None
    sun: list[HoursRange] | None = None
    holiday: list[HoursRange] | None = None
    all: list[HoursRange] | None = None

    @model_validator(mode="before")
    @classmethod
    def _listed_without_ranges_is_closed(cls, data: Any) -> Any:
        # `sun:` with nothing after it lists the day type (closed), which `all` must not fill:
        # YAML reads it as null, the same as a key not written.
        if isinstance(data, dict):
            return {k: [] if v is None and k in DAY_TYPES else v for k, v in data.items()}
        return data


class Schedule(_Model):
    """Opening hours, optionally classified by a calendar and in their own time zone."""

    calendar: Name | None = None
    timezone: TimeZone | None = None
    hours: Hours


# --- lists and rates ------------------------------------------------------------------------------


class CallerList(_Model):
    """A named caller list: exactly one of `file` (relative to the plan), `numbers`, `patterns`."""

    file: Text | None = None
    numbers: list[PhoneNumber] | None = None
    patterns: list[CallerPattern] | None = None
    reason: Text = "blocked"


class RateTable(_Model):
    """Per-minute price of the forwarded leg by target kind; a kind not given costs 0."""

    mobile: Money = 0.0
    landline: Money = 0.0
    sip: Money = 0.0


# --- actions and rules ----------------------------------------------------------------------------


class Reject(_Model):
    """Refuse the call with a SIP final response (both keys required)."""

    code: Annotated[StrictInt, AfterValidator(_sip_code)]
    reason: Text


class Action(_Model):
    """Exactly one of forward (group), menu, announce (prompt), voicemail (box), reject."""

    forward: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    menu: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    announce: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    voicemail: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    reject: Reject | None = Field(default=None, exclude_if=lambda v: v is None)


class DateWindow(_Model):
    """Both ends included."""

    from_: PlanDate = Field(alias="from")
    until: PlanDate


class Conditions(_Model):
    """All given conditions must hold."""

    schedule: Name | None = None
    not_schedule: Name | None = None
    caller_region: Annotated[list[Place], Field(min_length=1)] | None = None
    caller_pattern: Annotated[list[CallerPattern], Field(min_length=1)] | None = None
    caller_list: (
        Annotated[
            list[Name],
            BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
            Field(min_length=1),
        ]
        | None
    ) = None
    caller_kind: Annotated[list[CallerKind], Field(min_length=1)] | None = None
    carrier: Annotated[list[Carrier], Field(min_length=1)] | None = None
    dates: DateWindow | None = None

    @model_validator(mode="after")
    def _some(self) -> Conditions:
        if not self.model_fields_set:
            raise ValueError("`when` has no condition (a rule that always holds has no `when`)")
        return self


class Rule(_Model):
    """One rule of a flow: optional id (default r1, r2, … by position), conditions, one action."""

    id: Name | None = None
    when: Conditions | None = None
    forward: Name | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("when", mode="before")
    @classmethod
    def _no_condition_always_holds(cls, value: Any) -> Any:
        # `when: {}` has no condition to fail: it always holds, as a rule without `when` does.
        return None if value == {} else value

    menu: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    announce: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    voicemail: Name | None = Field(default=None, exclude_if=lambda v: v is None)
    reject: Reject | None = Field(default=None, exclude_if=lambda v: v is None)


class ServedNumber(_Model):
    """A number the tenant serves and its flow (the first rule whose `when` holds wins)."""

    flow: Annotated[list[Rule], Field(min_length=1)]

    @model_validator(mode="after")
    def _ids(self) -> ServedNumber:
        for i, rule in enumerate(self.flow, start=1):
            if rule.id is None:
                rule.id = f"r{i}"
        return self


# --- groups and menus -----------------------------------------------------------------------------


class Target(_Model):
    """A `number` or a `uri`, rung for `ring_seconds`; skipped off shift or at `max_calls`."""

    number: PhoneNumber | None = None
    uri: SipUri | None = None
    ring_seconds: PositiveInt = 20
    weight: Count = 1
    max_calls: PositiveInt | None = None
    schedule: Name | None = None
    regions: list[Place] = Field(default_factory=list)


class Group(_Model):
    """Targets and how to order them; `overflow` applies when none is eligible."""

    strategy: Strategy = "sequential"
    targets: Annotated[list[Target], Field(min_length=1)]
    overflow: Action | None = None
    max_targets: PositiveInt | None = None
    max_call_seconds: PositiveInt = 14400


class Menu(_Model):
    """Play `prompt`, collect one key; `invalid`/`timeout` default to replaying the menu."""

    prompt: Name
    options: Annotated[dict[MenuKey, Action], Field(min_length=1)]
    invalid: Action | None = None
    timeout: Action | None = None


# --- tenants and the plan -------------------------------------------------------------------------


class Display(_Model):
    """Caller-ID display: certified name (until `certified_until`, inclusive) and default tag."""

    name: Text | None = None
    tag: Text | None = None
    certified_until: PlanDate | None = None


class TagWindow(_Model):
    """A display tag valid from `from` to `until`, both included."""

    tag: Text
    from_: PlanDate = Field(alias="from")
    until: PlanDate


class PerCaller(_Model):
    """At most `calls` admitted new calls per caller in any window of `window_seconds`."""

    calls: PositiveInt
    window_seconds: PositiveInt


class Limits(_Model):
    per_caller: PerCaller | None = None


class Package(_Model):
    """Billing package; `rates` names a rate table (else the table `default`, else 0)."""

    monthly_fee: Money = 0.0
    included_minutes: Count = 0
    rates: Name | None = None


class Tenant(_Model):
    """A customer: display, lists, limits, package, groups, menus and the numbers it serves."""

    name: Text | None = None
    display: Display = Field(default_factory=Display)
    tags: list[TagWindow] = Field(default_factory=list)
    blocklists: list[Name] = Field(default_factory=list)
    allowlists: list[Name] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    package: Package = Field(default_factory=Package)
    groups: dict[Name, Group] = Field(default_factory=dict)
    menus: dict[Name, Menu] = Field(default_factory=dict)
    numbers: dict[PhoneNumber, ServedNumber] = Field(default_factory=dict)


class Plan(_Model):
    """A routecore routing plan (format version 1)."""

    model_config = ConfigDict(title="routecore routing plan")

    version: Literal[1]
    timezone: TimeZone = "Asia/Shanghai"
    gateway: Gateway | None = None
    seed: Seed = 0
    calendars: dict[Name, Calendar] = Field(default_factory=dict)
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    lists: dict[Name, CallerList] = Field(default_factory=dict)
    blocklists: list[Name] = Field(default_factory=list)
    rates: dict[Name, RateTable] = Field(default_factory=dict)
    tenants: dict[Name, Tenant] = Field(default_factory=dict)
