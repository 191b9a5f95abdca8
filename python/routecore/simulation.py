"""Traffic simulation: a day (or week) of calls routed by the real engine and played out on targets.

    import datetime as dt
    import routecore

    report = routecore.simulate(routecore.Engine.demo(), calls=100_000, day="2026-11-11", seed=1)
    print(report.answered, report.abandon_rate, report.utilisation_by_hour)
    report.stats, report.frames()["hours"], report.charts()   # figures, tables, PNG charts

The work is done in Rust (`rust/sim.rs`, bound as `routecore._routecore.Simulation`): arrivals
are generated (a Poisson process whose rate follows an hourly curve, callers from real mobile
segments with a province mix, a share of anonymous and blocked callers) or replayed (`Arrivals`
from a CSV file or a record store); every call is decided by the engine's decision path at its
simulated time, MENU decisions are re-decided with a drawn key, and FORWARD decisions are played
out by a discrete-event model of the targets whose ANSWERED and ENDED events go to the engine's
decision state in simulated time (caps, least busy, round robin see simulated time). The model's
assumptions are spelled out in `rust/sim.rs`. Python does O(1) work per hour of simulated time.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from routecore._routecore import InvalidArgumentError, Simulation
from routecore.engine import Engine

if TYPE_CHECKING:
    from routecore.charts import Chart

__all__ = ["DIURNAL", "SEGMENTS", "Arrivals", "SimReport", "simulate"]

# Relative call volume per local hour: quiet nights, a morning peak at 10:00, an afternoon one at 15:00.
DIURNAL: tuple[float, ...] = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 3.0, 5.5, 6.5, 5.8,
    3.5, 4.2, 5.6, 6.0, 5.2, 4.0, 2.6, 2.0, 1.6, 1.2, 0.7, 0.4,
)  # fmt: skip

# Real mobile segments (7-digit prefixes, checked against the `phone` package's table) per province.
SEGMENTS: Mapping[str, tuple[str, ...]] = {
    "北京": ("1380010", "1391000", "1860100", "1500100"),
    "上海": ("1381600", "1891600", "1331000"),
    "广东": ("1360286", "1368888", "1380280", "1371234"),
    "浙江": ("1390571", "1380571"),
    "江苏": ("1392100", "1385100"),
    "天津": ("1380200", "1802000"),
    "四川": ("1398000",),
    "湖北": ("1592771",),
}

_DAY_SECONDS = 86_400.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Arrivals:
    """Calls to replay instead of generated traffic: `at` is seconds from `start` (an aware
    datetime), with the called number, the caller ("" when withheld) and menu keys per call."""

    start: dt.datetime
    at: list[float]
    called: list[str]
    caller: list[str]
    digits: list[str]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.at)

    @property
    def span_seconds(self) -> float:
        """Whole days from `start` covering every call."""
        last = max(self.at, default=0.0)
        return max(1.0, math.floor(last / _DAY_SECONDS) + 1.0) * _DAY_SECONDS

    @classmethod
    def from_calls(
        cls, calls: Iterable[tuple[dt.datetime, str, str, str]], timezone: str, *, skipped: int = 0
    ) -> Arrivals:
        """From (time, called, caller, digits) tuples; `start` is local midnight of the first call
        in `timezone`, so simulated hours are local hours.

        Raises:
            InvalidArgumentError: a naive time, or no call at all.
        """
        rows = sorted(calls, key=lambda c: c[0])
        if not rows:
            raise InvalidArgumentError("arrivals: no call to replay")
        zone = ZoneInfo(timezone)
        for t, *_ in rows:
            if t.tzinfo is None:
                raise InvalidArgumentError(f"at: {t.isoformat()} has no UTC offset")
        first = rows[0][0].astimezone(zone)
        start = dt.datetime.combine(first.date(), dt.time(), tzinfo=zone)
        base = start.timestamp()
        return cls(
            start=start,
            at=[t.timestamp() - base for t, *_ in rows],
            called=[r[1] for r in rows],
            caller=[r[2] for r in rows],
            digits=[r[3] for r in rows],
            skipped=skipped,
        )

    @classmethod
    def from_csv(cls, path: str | Path, timezone: str = "Asia/Shanghai") -> Arrivals:
        """Calls from a CSV file with a header: `at` (ISO 8601 with offset, or epoch seconds),
        `called`, `caller` (empty: withheld), optional `digits`; UTF-8, with or without a
        byte-order mark, LF or CRLF line ends.

        Raises:
            InvalidArgumentError: a missing column or a bad time (the line and column are named).
        """
        calls = []
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"at", "called", "caller"} - set(reader.fieldnames or ())
            if missing:
                raise InvalidArgumentError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                line = reader.line_num
                raw = (row.get("at") or "").strip()
                try:
                    t = (
                        dt.datetime.fromtimestamp(float(raw), dt.UTC)
                        if raw.replace(".", "", 1).isdigit()
                        else dt.datetime.fromisoformat(raw)
                    )
                except ValueError:
                    raise InvalidArgumentError(f"{path}:{line}: at: {raw!r} is not a time") from None
                if t.tzinfo is None:
                    raise InvalidArgumentError(f"{path}:{line}: at: {raw!r} has no UTC offset")
                called = (row.get("called") or "").strip()
                if not called:
                    raise InvalidArgumentError(f"{path}:{line}: called: empty")
                calls.append(
                    (t, called, (row.get("caller") or "").strip(), (row.get("digits") or "").strip())
                )
        return cls.from_calls(calls, timezone)

    @classmethod
    def from_records(
        cls,
        source: Any,
        timezone: str = "Asia/Shanghai",
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Arrivals:
        """The calls of a record store (`records(since, until)`) or an iterable of `CallRecord`.

        A record keeps no arrival time: a call arrives when it was answered, else when it ended
        (the convention of `routecore.stats`). Records whose decision was unknown to the store
        (no called number) cannot be routed again and are counted in `skipped`.
        """
        records = source.records(since, until) if hasattr(source, "records") else source
        calls = []
        skipped = 0
        for r in records:
            if not r.called:
                skipped += 1
                continue
            calls.append((r.answered_at or r.ended_at, r.called, r.caller, ""))
        return cls.from_calls(calls, timezone, skipped=skipped)


def _seconds_by_hour(span_seconds: float) -> list[float]:
    """How many seconds of each hour of the day a run of `span_seconds` from midnight holds:
    2.5 days hold hours 0-11 three times and hours 12-23 twice."""
    days, rest = divmod(span_seconds, _DAY_SECONDS)
    return [days * 3600.0 + min(max(rest - hour * 3600.0, 0.0), 3600.0) for hour in range(24)]


@dataclass
class SimReport:
    """What a simulation produced (see `rust/sim.rs` for the model).

    Every forwarded call is answered, abandoned (the caller hung up while it rang) or lost (no
    target took it); `overflowed` counts forwarded calls that moved past their first offered target
    (busy or not answering). `rejected` is by reason; `other` counts ANNOUNCE, VOICEMAIL, an
    unfinished MENU and failed requests (`error:CODE`). Hours are local hours of the day by the
    call's arrival (a multi-day run adds its days up). `by_tenant`, `by_number` and `by_rule`
    count calls by their final decision (a failed request counts in none).
    """

    calls: int = 0
    forwarded: int = 0
    answered: int = 0
    lost: int = 0
    abandoned: int = 0
    overflowed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)
    by_hour: list[dict[str, float]] = field(default_factory=list)
    by_province: dict[str, dict[str, int]] = field(default_factory=dict)
    by_tenant: dict[str, int] = field(default_factory=dict)
    by_number: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    durations: dict[str, float | None] = field(default_factory=dict)
    span_seconds: float = _DAY_SECONDS
    start: str = ""
    skipped: int = 0

    @classmethod
    def from_outcome(cls, outcome: Mapping[str, Any], *, start: str = "", skipped: int = 0) -> SimReport:
        fields = {k: v for k, v in outcome.items() if k != "events"}
        return cls(**fields, start=start, skipped=skipped)

    def _hourly(self, name: str) -> list[int]:
        return [int(h[name]) for h in self.by_hour]

    @property
    def offered_by_hour(self) -> list[int]:
        return self._hourly("offered")

    @property
    def answered_by_hour(self) -> list[int]:
        return self._hourly("answered")

    @property
    def lost_by_hour(self) -> list[int]:
        return self._hourly("lost")

    @property
    def abandoned_by_hour(self) -> list[int]:
        return self._hourly("abandoned")

    @property
    def blocking(self) -> float:
        """Share of forwarded calls that were lost (0.0 when none was forwarded)."""
        return self.lost / self.forwarded if self.forwarded else 0.0

    @property
    def abandon_rate(self) -> float:
        """Share of forwarded calls whose caller hung up before an answer."""
        return self.abandoned / self.forwarded if self.forwarded else 0.0

    @property
    def overflow_rate(self) -> float:
        """Share of forwarded calls that moved past their first offered target."""
        return self.overflowed / self.forwarded if self.forwarded else 0.0

    @property
    def answer_rate(self) -> float:
        """Share of forwarded calls that were answered."""
        return self.answered / self.forwarded if self.forwarded else 0.0

    @property
    def utilisation(self) -> dict[str, float]:
        """Each target's handling time over its capacity (lines × span), for targets that talked."""
        return {
            k: t["busy_seconds"] / (t["lines"] * self.span_seconds)
            for k, t in self.targets.items()
            if t["busy_seconds"] > 0
        }

    @property
    def utilisation_by_hour(self) -> list[float]:
        """Per hour of the day: handling time of all targets over their lines' time in that hour."""
        lines = sum(int(t["lines"]) for t in self.targets.values())
        return [
            h["busy_seconds"] / (lines * seconds) if lines and seconds else 0.0
            for h, seconds in zip(self.by_hour, _seconds_by_hour(self.span_seconds), strict=True)
        ]

    @property
    def stats(self) -> dict[str, Any]:
        """The summary figures: calls, what became of the forwarded ones (with their rates), the
        rejected by reason and the other outcomes."""
        return {
            "calls": self.calls,
            "forwarded": self.forwarded,
            "answered": self.answered,
            "lost": self.lost,
            "abandoned": self.abandoned,
            "overflowed": self.overflowed,
            "answer_rate": self.answer_rate,
            "blocking": self.blocking,
            "abandon_rate": self.abandon_rate,
            "overflow_rate": self.overflow_rate,
            "rejected": self.rejected,
            "other": self.other,
        }

    def frames(self) -> dict[str, list[dict[str, Any]]]:
        """The report's tables, one dict a row (`pandas.DataFrame(rows)` or `polars.DataFrame(rows)`
        takes them as they are): `hours` (each local hour's figures and utilisation), `targets`,
        `groups`, `provinces`, and `tenants`, `numbers` and `rules` (calls of each). The figures
        are `to_dict`'s, row by row."""
        report = self.to_dict()
        ranked = {
            f"{key}s": [{key: name, "calls": n} for name, n in report[f"by_{key}"].items()]
            for key in ("tenant", "number", "rule")
        }
        return {
            "hours": report["by_hour"],
            "targets": [{"target": name, **t} for name, t in report["targets"].items()],
            "groups": [{"group": name, **g} for name, g in report["groups"].items()],
            "provinces": [{"province": name, **p} for name, p in report["by_province"].items()],
            **ranked,
        }

    def charts(self) -> list[Chart]:
        """The report's charts (`routecore.charts`, PNG bytes each): calls by hour with the answered
        ones, calls by province, the answer rate over the day. `routecore simulate --html` and
        `--png-dir` draw these."""
        from routecore import charts as draw

        return [
            draw.hourly_volume_chart(self.offered_by_hour, self.answered_by_hour, "Simulated calls by hour"),
            draw.region_chart({k: v["offered"] for k, v in self.by_province.items()}),
            draw.answer_rate_chart(self.offered_by_hour, self.answered_by_hour),
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every figure, rates included."""
        utilisation = self.utilisation
        return {
            "start": self.start,
            "span_seconds": self.span_seconds,
            **self.stats,
            "by_hour": [
                {"hour": h, **row, "utilisation": u}
                for h, (row, u) in enumerate(zip(self.by_hour, self.utilisation_by_hour, strict=True))
            ],
            "by_province": self.by_province,
            "by_tenant": self.by_tenant,
            "by_number": self.by_number,
            "by_rule": self.by_rule,
            "targets": {k: {**t, "utilisation": utilisation.get(k, 0.0)} for k, t in self.targets.items()},
            "groups": self.groups,
            "durations": self.durations,
            "skipped": self.skipped,
        }


def _first_day(day: dt.date | str | None) -> dt.date | None:
    """`day` as a date: a date, a datetime (its date), or an ISO date string (`2026-11-11`).

    Raises:
        InvalidArgumentError: a string that is not an ISO date.
        TypeError: neither a date nor a string.
    """
    if isinstance(day, dt.datetime):
        return day.date()
    if day is None or isinstance(day, dt.date):
        return day
    if isinstance(day, str):
        try:
            return dt.date.fromisoformat(day.strip())
        except ValueError:
            raise InvalidArgumentError(f"day: {day!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"day: expected a date or an ISO date string (YYYY-MM-DD), got {type(day).__name__}")


def _engine_of(plan_or_engine: Engine | str | Path | Mapping[str, Any]) -> Engine:
    if isinstance(plan_or_engine, Engine):
        # A fresh engine on the same plan, its state in this process: simulated calls must not
        # hold a serving engine's slots or turn its rotations (nor a Redis state shared by nodes),
        # and the same seed then gives the same report whatever ran before.
        loaded = getattr(plan_or_engine, "loaded", None)
        return plan_or_engine if loaded is None else Engine.from_loaded(loaded)
    if isinstance(plan_or_engine, Mapping):
        return Engine.from_dict(dict(plan_or_engine))
    return Engine.from_file(plan_or_engine)


def blocked_callers(engine: Engine) -> list[str]:
    """The numbers on the plan's global block lists (number lists written in the plan)."""
    model = getattr(getattr(engine, "loaded", None), "model", None)
    if model is None:
        return []
    out: list[str] = []
    for name in model.blocklists:
        lst = model.lists.get(name)
        out.extend(getattr(lst, "numbers", None) or ())
    return out


#: The core's names for simulate()'s parameters, as its messages give them.
_PARAMETERS = {
    "span_seconds": "days",
    "listed_share": "blocked_share",
    "mean_patience_seconds": "patience_seconds",
    "mean_ring_seconds": "ring_seconds",
    "calls_per_day": "calls",
    "regions": "province_mix",
}

_MAX_SEED = 2**64 - 1


def _real(name: str, value: Any) -> float:
    """`value` as a float when it is a real number (an int, a float, a numpy float, a Fraction;
    not a bool, not text): the core checks its range, naming `name`.

    Raises:
        TypeError: not a real number.
        InvalidArgumentError: an int too large for a float.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidArgumentError(f"{name}: {value} is out of range") from None


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= seed <= _MAX_SEED:
        raise InvalidArgumentError(f"seed: {seed} is not between 0 and 2**64-1")
    return int(seed)


def _weights(hourly_weights: Any) -> list[float]:
    if isinstance(hourly_weights, (str, bytes, bytearray, Mapping)) or not isinstance(
        hourly_weights, Iterable
    ):
        raise TypeError(
            f"hourly_weights: expected a sequence of 24 numbers, got {type(hourly_weights).__name__}"
        )
    return [_real(f"hourly_weights[{i}]", w) for i, w in enumerate(hourly_weights)]


def _mix(province_mix: Any) -> dict[str, float]:
    """Weight per province, each a number >= 0 (the core would name its own `regions[i]`)."""
    if province_mix is None:
        return dict.fromkeys(SEGMENTS, 1.0)
    if not isinstance(province_mix, Mapping):
        raise TypeError(
            f"province_mix: expected a mapping of province to weight, got {type(province_mix).__name__}"
        )
    mix: dict[str, float] = {}
    for province, weight in province_mix.items():
        value = _real(f"province_mix: {province}", weight)
        if not (0 <= value < math.inf):
            raise InvalidArgumentError(f"province_mix: {province}: {weight!r} is not a weight >= 0")
        mix[province] = value
    return mix


def _simulation(engine: Engine, **kwargs: Any) -> Simulation:
    """The core's `Simulation`, its refusals naming simulate()'s parameters, not its own."""
    try:
        return Simulation(engine, **kwargs)
    except InvalidArgumentError as exc:
        field, sep, rest = str(exc).partition(": ")
        if sep and field in _PARAMETERS:
            raise InvalidArgumentError(f"{_PARAMETERS[field]}: {rest}") from None
        raise


def simulate(
    plan_or_engine: Engine | str | Path | Mapping[str, Any],
    *,
    calls: float | None = None,
    day: dt.date | str | None = None,
    seed: int = 0,
    days: float = 1.0,
    arrivals: Arrivals | None = None,
    hourly_weights: Sequence[float] = DIURNAL,
    province_mix: Mapping[str, float] | None = None,
    anonymous_share: float = 0.05,
    blocked_share: float = 0.0,
    answer_probability: float = 0.9,
    ring_seconds: float = 6.0,
    mean_handling_seconds: float = 180.0,
    handling: str = "exponential",
    handling_cv: float = 1.0,
    patience_seconds: float | None = None,
    menu_key_seconds: float = 8.0,
    progress: Progress | None = None,
) -> SimReport:
    """Simulate generated traffic (`calls` per day from `day`, for `days`) or a replay
    (`arrivals`) through a plan, and report.

    Args:
        plan_or_engine: an `Engine` (simulated on a fresh copy of its plan as loaded, with its own
            decision state: the engine given is not touched, and live list updates made to it
            since are not carried), a plan file path, or a plan dict.
        calls: expected calls per day (generated traffic).
        day: the first simulated day (local midnight in the plan's timezone), a date or an ISO
            date string (`"2026-11-11"`); generated traffic.
        seed: the random seed; the same seed and inputs on a fresh engine give the same report.
        days: how many days to simulate (fractions allowed).
        arrivals: calls to replay instead (`Arrivals.from_csv`, `Arrivals.from_records`).
        hourly_weights: relative arrival rate per local hour (24 values).
        province_mix: weight per province of `SEGMENTS` (default: equal weights).
        anonymous_share: share of callers that withhold their number.
        blocked_share: share of callers drawn from the plan's global block lists.
        answer_probability: chance that a free target answers a ringing call.
        ring_seconds: mean time until an answering target answers (exponential; 0: at once),
            capped at the target's `ring_seconds`; a target that does not answer rings its full
            `ring_seconds`.
        mean_handling_seconds: mean handling (talk) time.
        handling: its distribution: `exponential` or `lognormal` (with `handling_cv`).
        handling_cv: coefficient of variation of a log-normal handling time.
        patience_seconds: mean patience of a caller while ringing (exponential); None: unlimited.
        menu_key_seconds: time a caller spends per menu before pressing a key.
        progress: called as `progress(calls_arrived, calls_total)` after each simulated hour.

    Returns:
        The report: its figures (`stats`, and each as an attribute), its tables (`frames()`) and
        its charts (`charts()`).

    Raises:
        InvalidArgumentError: a bad argument (the message names it): a number out of range or
            NaN (`blocked_share: 2 is not a share …`, `seed: -1 is not between 0 and 2**64-1`,
            `province_mix: 广东: -1 is not a weight >= 0`), a `day` that is not an ISO date.
        TypeError: an argument of the wrong type (the message names it): a number that is not
            a real number (a str, a bool: `calls: expected a number, got str`), a `seed` that is
            not an int, `hourly_weights` that are not a sequence of numbers, a `province_mix` that
            is not a mapping, a `day` that is neither a date nor a string.
        ValueError: an unknown province in `province_mix`.
    """
    first_day = _first_day(day)
    # Types are checked here (a str is not a number, nor is a bool); ranges by the core, which
    # names the parameter (`_PARAMETERS`).
    seed = _seed(seed)
    days = _real("days", days)
    if not (0 < days < math.inf):
        # `g`: the number as it was typed (`-1`, not `-1.0`), from the CLI or from Python.
        raise InvalidArgumentError(f"days: {days:g} is not a positive number of days")
    calls = None if calls is None else _real("calls", calls)
    if not isinstance(handling, str):
        raise TypeError(f"handling: expected a str, got {type(handling).__name__}")
    handling_cv = _real("handling_cv", handling_cv)
    if not (0 < handling_cv < math.inf):  # refused even when unused (exponential handling)
        shown = "NaN" if math.isnan(handling_cv) else f"{handling_cv:g}"
        raise InvalidArgumentError(f"handling_cv: {shown} is not a positive coefficient of variation")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a callable or None, got {type(progress).__name__}")
    anonymous_share = _real("anonymous_share", anonymous_share)
    blocked_share = _real("blocked_share", blocked_share)
    params: dict[str, Any] = {
        "seed": seed,
        "answer_probability": _real("answer_probability", answer_probability),
        "mean_ring_seconds": _real("ring_seconds", ring_seconds),
        "mean_handling_seconds": _real("mean_handling_seconds", mean_handling_seconds),
        "handling": handling,
        "handling_cv": handling_cv,
        "mean_patience_seconds": None
        if patience_seconds is None
        else _real("patience_seconds", patience_seconds),
        "menu_key_seconds": _real("menu_key_seconds", menu_key_seconds),
        "call_id_prefix": f"sim-{seed}-",
    }
    weights = _weights(hourly_weights)
    mix = _mix(province_mix)
    engine = _engine_of(plan_or_engine)
    zone = ZoneInfo(engine.timezone)
    skipped = 0
    if arrivals is not None:
        if calls is not None:
            raise InvalidArgumentError("arrivals: give arrivals or calls, not both")
        start = arrivals.start
        span = arrivals.span_seconds
        skipped = arrivals.skipped
        sim = _simulation(
            engine,
            start=start.timestamp(),
            span_seconds=span,
            arrivals=(arrivals.at, arrivals.called, arrivals.caller, arrivals.digits),
            **params,
        )
    else:
        if calls is None or first_day is None:
            raise InvalidArgumentError("calls: give calls per day and the first day, or arrivals")
        unknown = sorted(set(mix) - set(SEGMENTS))
        if unknown:
            raise ValueError(f"province_mix: no segments for {', '.join(unknown)}")
        start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
        span = days * _DAY_SECONDS
        listed = blocked_callers(engine) if blocked_share > 0 else []
        sim = _simulation(
            engine,
            start=start.timestamp(),
            span_seconds=span,
            calls_per_day=calls,
            hourly_weights=weights,
            regions=[(float(w), list(SEGMENTS[p])) for p, w in mix.items()],
            anonymous_share=anonymous_share,
            listed=listed,
            listed_share=blocked_share,
            **params,
        )
    total = sim.total_calls
    hour = 0
    while not sim.done:
        hour += 1
        # Past the span only hang-ups remain: finish them in one step.
        sim.advance(hour * 3600.0 if hour * 3600.0 < span else math.inf)
        if progress is not None:
            progress(sim.arrived, total)
    return SimReport.from_outcome(orjson.loads(sim.outcome_json()), start=start.isoformat(), skipped=skipped)
