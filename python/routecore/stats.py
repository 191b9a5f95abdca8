"""Statistics and bills from call detail records (CDRs): when people call, from where, how many
are answered, how long they talk, and what each tenant owes for a month.

    from routecore.plan import load_plan
    from routecore.records import open_record_store
    from routecore.stats import report

    store = open_record_store("records.db")   # or "postgresql://…": any `RecordStore` (its `records`)
    rep = report(store, load_plan("plan.yaml").model, month="2026-10")
    print(rep.stats.answer_rate, rep.bills[0].total)
    open("bills.csv", "w").write(bills_csv(rep.bills))

Conventions:
- Local times (hour of day, day of week, month) are in the plan's time zone (Asia/Shanghai
  without a plan). A call's time is when it was answered, else when it ended (a record does not
  keep the arrival time; an unanswered call ends when the ringing stops).
- Answered: the record has an answer time (an `ANSWERED` event, or a reported duration > 0).
- What a record cannot infer is taken from the disposition the switch reports with `ENDED`
  (docs/decisions.md): `rejected:<reason>` (or `rejected`) for a call the decision rejected,
  `abandoned` for a caller who hung up before an answer, `overflow` (or `overflow:<why>`, the
  reference Kamailio's `overflow:busy` and the like) for a call no offered target took
  (voicemail, announcement or lost after the hunt). Rates: rejected calls are not offered,
  so the answer, abandon and overflow rates are over `offered = calls - rejected`.
- Concurrent-call peak per target group: the most answered calls in progress at once on the
  group's targets (answer to end); with no plan, per target.
- Durations (mean, median, p90) are over answered calls; percentiles interpolate linearly
  between the closest ranks (`statistics.quantiles(method="inclusive")`, numpy's default).
- Bills: calls are billed per started minute (`CallRecord.billed_minutes`) and grouped by the
  month they ended in. The package's included minutes are used up in time order (end time, then
  call id); each minute beyond them costs the record's `rate_per_minute` (the rate the decision
  gave the target, so the record's `cost` for a call wholly beyond); a record without a rate
  (decision unknown to the store) is priced from the package's rate table by target kind, and
  without a plan its minutes are counted as `unpriced_minutes`. Records with no tenant (decision
  unknown) are not billed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson

from routecore._routecore import InvalidArgumentError, RoutecoreError
from routecore._routecore import group_key as _group_key
from routecore._routecore import kind as _number_kind
from routecore.records import CallRecord
from routecore.records._model import _target_key

__all__ = [
    "Bill",
    "CallStats",
    "Durations",
    "Overage",
    "Report",
    "bills",
    "bills_csv",
    "call_stats",
    "charts_of",
    "concurrent_peaks",
    "month_range",
    "records_of",
    "render_report",
    "report",
    "report_html",
    "stats_csv",
    "summary_rows",
    "target_kind",
]

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"
WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KINDS: Final = ("mobile", "landline", "sip")
UNKNOWN: Final = "(unknown)"


# --- inputs ------------------------------------------------------------------------------------


def _plan_model(plan: Any) -> Any:
    # A `Plan` model, a `LoadedPlan` (its `.model`), or None.
    return getattr(plan, "model", plan)


def _zone(plan: Any, timezone: str | None) -> zoneinfo.ZoneInfo:
    name = timezone or getattr(_plan_model(plan), "timezone", None) or DEFAULT_TIMEZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidArgumentError(f"timezone: {name!r} is not an IANA time zone") from None


_MONTH: Final = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")


def _check_month(month: Any, name: str = "month") -> str:
    """`month` when it is exactly `YYYY-MM` (month 01-12, year 0001-9999), else the refusal
    naming `name`: '2026-1' is no month (read as January, it billed a phantom month '2026-1')."""
    if not isinstance(month, str):
        raise TypeError(f"{name}: expected a str (YYYY-MM), got {type(month).__name__}")
    if not _MONTH.fullmatch(month) or month.startswith("0000"):
        raise InvalidArgumentError(f"{name}: {month!r} is not YYYY-MM")
    return month


def month_range(month: str, timezone: str = DEFAULT_TIMEZONE) -> tuple[dt.datetime, dt.datetime]:
    """The instants [first day 00:00, next month's first day 00:00) of `YYYY-MM` in `timezone`.

    Raises:
        InvalidArgumentError: `month` is not exactly `YYYY-MM` (month 01-12).
        TypeError: `month` is not a str.
    """
    start = dt.datetime.strptime(_check_month(month), "%Y-%m")
    zone = zoneinfo.ZoneInfo(timezone)
    if start.month < 12:
        end = start.replace(month=start.month + 1)
    elif start.year < dt.MAXYEAR:
        end = start.replace(year=start.year + 1, month=1)
    else:  # 9999-12 ends with the calendar (no year 10000 to begin)
        end = dt.datetime.max
    return start.replace(tzinfo=zone), end.replace(tzinfo=zone)


def records_of(
    source: Any,
    *,
    month: str | None = None,
    tenant: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Iterator[CallRecord]:
    """The records of a store (anything with `records(since, until, tenant=...)`) or an iterable
    of `CallRecord`, restricted to calls that ended in `month` (local) and to `tenant`.

    Raises:
        InvalidArgumentError: `month` is not exactly `YYYY-MM` (month 01-12).
        TypeError: `month` is not a str.
    """
    since, until = month_range(month, timezone) if month is not None else (None, None)
    if hasattr(source, "records"):
        return iter(source.records(since, until, tenant=tenant))

    def keep(r: CallRecord) -> bool:
        if tenant is not None and r.tenant != tenant:
            return False
        return since is None or until is None or since <= r.ended_at < until

    return filter(keep, source)


def target_kind(target: str) -> str:
    """The rate-table kind of a target: `sip` for a URI, `mobile`, else `landline` (the spec
    prices service and international targets as landlines); "" for no target."""
    if not target:
        return ""
    if ":" in target:
        return "sip"
    try:
        return "mobile" if _number_kind(target) == "mobile" else "landline"
    except RoutecoreError:
        return "landline"


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Durations:
    """Talk time of answered calls, seconds; None when there is none."""

    count: int
    total_seconds: int
    mean: float | None
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class CallStats:
    """Call counts by dimension (most calls first, ties by key), answers and talk time."""

    calls: int
    answered: int
    answer_rate: float | None
    by_hour: dict[int, int]
    by_weekday: dict[str, int]
    by_province: dict[str, int]
    by_city: dict[str, int]
    by_tenant: dict[str, int]
    by_number: dict[str, int]
    by_rule: dict[str, int]
    by_target: dict[str, int]
    by_disposition: dict[str, int]
    durations: Durations
    answered_by_hour: dict[int, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    abandoned: int = 0
    overflowed: int = 0
    peak_concurrent: dict[str, int] = field(default_factory=dict)

    @property
    def offered(self) -> int:
        """Calls offered to targets: every call but the rejected ones."""
        return self.calls - sum(self.rejected.values())

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    @property
    def overflow_rate(self) -> float | None:
        return self.overflowed / self.offered if self.offered else None

    @property
    def peak_hours(self) -> list[int]:
        """The hours of day with the most calls (several on a tie; none without calls)."""
        top = max(self.by_hour.values(), default=0)
        return [h for h, n in self.by_hour.items() if n == top and top > 0]

    def by_place_and_party(self) -> list[tuple[str, dict[str, int]]]:
        """The ranked dimensions (province … disposition) with their counts, in report order."""
        return [
            ("province", self.by_province),
            ("city", self.by_city),
            ("tenant", self.by_tenant),
            ("number", self.by_number),
            ("rule", self.by_rule),
            ("target", self.by_target),
            ("disposition", self.by_disposition),
        ]


def _ranked(c: Counter[str]) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _durations(seconds: list[int]) -> Durations:
    if not seconds:
        return Durations(0, 0, None, None, None)
    p90 = (
        float(seconds[0]) if len(seconds) == 1 else statistics.quantiles(seconds, n=10, method="inclusive")[8]
    )
    return Durations(
        count=len(seconds),
        total_seconds=sum(seconds),
        mean=statistics.fmean(seconds),
        median=float(statistics.median(seconds)),
        p90=float(p90),
    )


def group_label(tenant: str, group: str) -> str:
    """`tenant/group`, with `%`, `/` and `#` in either name escaped (`a%2Fb/c`) so that no two
    groups share a label: the engine's own group key, which the simulation report uses too."""
    return _group_key(tenant, group)


def _group_targets(plan: Any) -> dict[str, list[str]]:
    """`tenant/group` (`group_label`) → its targets' keys (normalised numbers or URIs)."""
    model = _plan_model(plan)
    out: dict[str, list[str]] = {}
    for tname, tenant in (getattr(model, "tenants", None) or {}).items():
        for gname, group in tenant.groups.items():
            # A target listed twice (`138 0000 0010` and `13800000010`) is one target.
            keys = [_target_key(str(t.number or t.uri or "")) for t in group.targets]
            out[group_label(tname, gname)] = list(dict.fromkeys(keys))
    return out


def concurrent_peaks(records: Iterable[CallRecord], plan: Any = None) -> dict[str, int]:
    """The most answered calls in progress at once per target group of `plan` (per target
    without a plan), from answer to end. A call ending at the instant another is answered does
    not overlap it. O(n log n)."""
    edges: dict[str, list[tuple[int, int]]] = {}
    for r in records:
        if r.answered_at is None or not r.target:
            continue
        a, e = _ms(r.answered_at), _ms(r.ended_at)
        if e <= a:
            continue  # no time in progress (or an answer stamped after the end: clocks disagree)
        edges.setdefault(_target_key(r.target), []).extend(((a, 1), (e, -1)))
    groups = _group_targets(plan) if plan is not None else {t: [t] for t in edges}
    peaks: dict[str, int] = {}
    for name, keys in groups.items():
        # Ends sort before starts at the same instant (-1 < 1).
        merged = sorted(x for k in keys for x in edges.get(k, ()))
        active = peak = 0
        for _, step in merged:
            active += step
            peak = max(peak, active)
        peaks[name] = peak
    return dict(sorted(peaks.items(), key=lambda kv: (-kv[1], kv[0])))


def _ms(t: dt.datetime) -> int:
    return round(t.timestamp() * 1000)


def call_stats(
    records: Iterable[CallRecord], *, timezone: str = DEFAULT_TIMEZONE, plan: Any = None
) -> CallStats:
    """Counts, answer rate and talk-time distribution of `records`, in one pass (the peaks in a
    second one over the answered calls); `plan` names the target groups of the peaks.

    Raises:
        InvalidArgumentError: `timezone` is not an IANA time zone.
    """
    zone = _zone(None, timezone)
    records = list(records)
    hours = [0] * 24
    answered_hours = [0] * 24
    days = [0] * 7
    dims: dict[str, Counter[str]] = {
        k: Counter() for k in ("province", "city", "tenant", "number", "rule", "target", "disposition")
    }
    talk: list[int] = []
    calls = 0
    for r in records:
        calls += 1
        local = (r.answered_at or r.ended_at).astimezone(zone)
        hours[local.hour] += 1
        days[local.weekday()] += 1
        dims["province"][r.province or UNKNOWN] += 1
        dims["city"][r.city or UNKNOWN] += 1
        dims["tenant"][r.tenant or UNKNOWN] += 1
        dims["number"][r.called or UNKNOWN] += 1
        dims["rule"][r.rule or UNKNOWN] += 1
        dims["target"][r.target or UNKNOWN] += 1
        dims["disposition"][r.disposition or UNKNOWN] += 1
        if r.answered_at is not None:
            talk.append(r.duration_seconds)
            answered_hours[local.hour] += 1
    by_disposition = dims["disposition"]
    rejected: Counter[str] = Counter()
    for disposition, n in by_disposition.items():
        if disposition == "rejected" or disposition.startswith("rejected:"):
            rejected[disposition.partition(":")[2] or UNKNOWN] += n
    abandoned = by_disposition["abandoned"]
    overflowed = sum(n for d, n in by_disposition.items() if d == "overflow" or d.startswith("overflow:"))
    offered = calls - sum(rejected.values())
    return CallStats(
        calls=calls,
        answered=len(talk),
        answer_rate=len(talk) / offered if offered else None,
        by_hour=dict(enumerate(hours)),
        by_weekday=dict(zip(WEEKDAYS, days, strict=True)),
        by_province=_ranked(dims["province"]),
        by_city=_ranked(dims["city"]),
        by_tenant=_ranked(dims["tenant"]),
        by_number=_ranked(dims["number"]),
        by_rule=_ranked(dims["rule"]),
        by_target=_ranked(dims["target"]),
        by_disposition=_ranked(dims["disposition"]),
        durations=_durations(talk),
        answered_by_hour=dict(enumerate(answered_hours)),
        rejected=_ranked(rejected),
        abandoned=abandoned,
        overflowed=overflowed,
        peak_concurrent=concurrent_peaks(records, plan),
    )


# --- bills -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Overage:
    """Minutes beyond the package and their price, for one target kind."""

    minutes: int = 0
    amount: float = 0.0


@dataclass(slots=True)
class Bill:
    """What one tenant owes for one month (amounts rounded to 4 decimals)."""

    tenant: str
    month: str
    monthly_fee: float
    included_minutes: int
    calls: int = 0
    minutes_used: int = 0
    overage_minutes: int = 0
    overage: dict[str, Overage] = field(default_factory=lambda: {k: Overage() for k in KINDS})
    overage_amount: float = 0.0
    unpriced_minutes: int = 0
    total: float = 0.0
    package_known: bool = True


def _package_rates(plan: Any, tenant: str) -> tuple[float, int, dict[str, float] | None]:
    """(monthly fee, included minutes, rate by kind) of a tenant; rates None when unknown."""
    model = _plan_model(plan)
    t = model.tenants.get(tenant) if model is not None else None
    if t is None:
        return 0.0, 0, None
    table = model.rates.get(t.package.rates or "default")
    rates = {k: float(getattr(table, k)) if table is not None else 0.0 for k in KINDS}
    return float(t.package.monthly_fee), int(t.package.included_minutes), rates


def bills(
    records: Iterable[CallRecord],
    plan: Any = None,
    *,
    timezone: str | None = None,
    months: Iterable[str] = (),
    tenants: Iterable[str] | None = None,
) -> list[Bill]:
    """One bill per tenant and month (by tenant, then month), from the records and the plan's
    packages (`Plan` or `LoadedPlan`; None: no fee, nothing included, record prices only).

    With a plan, every tenant of the plan (of `tenants` when given) gets a bill for each month
    that has records (and each of `months`), calls or not (the fee is due anyway). O(n log n)
    for the time ordering.

    Raises:
        InvalidArgumentError: `timezone` is not an IANA time zone, a month of `months` is not
            exactly `YYYY-MM` (`months[0]: '2026-1' is not YYYY-MM`).
        TypeError: a month of `months` is not a str.
    """
    months = [_check_month(m, f"months[{i}]") for i, m in enumerate(months)]
    zone = _zone(plan, timezone)
    model = _plan_model(plan)
    billable = sorted((r for r in records if r.tenant), key=lambda r: (r.ended_at, r.call_id))
    out: dict[tuple[str, str], Bill] = {}
    left: dict[tuple[str, str], int] = {}
    rates_of: dict[str, dict[str, float] | None] = {}

    def bill(tenant: str, month: str) -> Bill:
        key = (tenant, month)
        if key not in out:
            fee, included, rates = _package_rates(model, tenant)
            rates_of[tenant] = rates
            out[key] = Bill(tenant, month, fee, included, package_known=rates is not None)
            left[key] = included
        return out[key]

    for r in billable:
        month = r.ended_at.astimezone(zone).strftime("%Y-%m")
        b = bill(r.tenant, month)
        key = (r.tenant, month)
        b.calls += 1
        b.minutes_used += r.billed_minutes
        free = min(left[key], r.billed_minutes)
        left[key] -= free
        over = r.billed_minutes - free
        if over == 0:
            continue
        b.overage_minutes += over
        kind = target_kind(r.target) or "landline"
        if r.rate_per_minute is not None:
            # The record's own price: its `cost` when the whole call is beyond the package.
            amount = r.cost if over == r.billed_minutes and r.cost is not None else over * r.rate_per_minute
        elif (rates := rates_of[r.tenant]) is not None:
            amount = over * rates[kind]
        else:
            b.unpriced_minutes += over
            continue
        line = b.overage.setdefault(kind, Overage())
        line.minutes += over
        line.amount += amount
    if model is not None:
        wanted = set(tenants) if tenants is not None else None
        for month in sorted({m for _, m in out} | set(months)):
            for tenant in model.tenants:
                if wanted is None or tenant in wanted:
                    bill(tenant, month)
    for b in out.values():
        for line in b.overage.values():
            line.amount = round(line.amount, 4)
        b.overage_amount = round(sum(line.amount for line in b.overage.values()), 4)
        b.total = round(b.monthly_fee + b.overage_amount, 4)
    return [out[k] for k in sorted(out)]


# --- report and export -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """Statistics and bills over the same records."""

    stats: CallStats
    bills: list[Bill]
    month: str | None
    timezone: str

    def to_dict(self) -> dict[str, Any]:
        stats = asdict(self.stats)
        stats["peak_hours"] = self.stats.peak_hours
        stats["offered"] = self.stats.offered
        stats["abandon_rate"] = self.stats.abandon_rate
        stats["overflow_rate"] = self.stats.overflow_rate
        return {
            "month": self.month,
            "timezone": self.timezone,
            "stats": stats,
            "bills": [asdict(b) for b in self.bills],
        }

    def to_json(self) -> bytes:
        """The report as JSON (UTF-8, indented); hour keys are strings."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def report(
    source: Any,
    plan: Any = None,
    *,
    month: str | None = None,
    tenant: str | None = None,
    timezone: str | None = None,
) -> Report:
    """Statistics and bills of a record store or an iterable of records (see `records_of`).

    Raises:
        InvalidArgumentError: bad `month` or `timezone`.
        RecordStoreError: the store cannot be read.
    """
    zone = _zone(plan, timezone).key
    records = list(records_of(source, month=month, tenant=tenant, timezone=zone))
    return Report(
        call_stats(records, timezone=zone, plan=plan),
        bills(
            records,
            plan,
            timezone=zone,
            months=[month] if month is not None else [],
            tenants=[tenant] if tenant else None,
        ),
        month,
        zone,
    )


BILL_COLUMNS: Final = (
    "tenant",
    "month",
    "calls",
    "monthly_fee",
    "included_minutes",
    "minutes_used",
    "overage_minutes",
    *(f"{k}_{x}" for k in KINDS for x in ("overage_minutes", "overage_amount")),
    "unpriced_minutes",
    "overage_amount",
    "total",
)


def bills_csv(items: Iterable[Bill]) -> str:
    """Bills as CSV with a header row (`BILL_COLUMNS`), one row per tenant and month."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(BILL_COLUMNS)
    for b in items:
        per_kind = []
        for k in KINDS:
            line = b.overage.get(k, Overage())
            per_kind += [line.minutes, line.amount]
        w.writerow(
            [
                b.tenant,
                b.month,
                b.calls,
                b.monthly_fee,
                b.included_minutes,
                b.minutes_used,
                b.overage_minutes,
                *per_kind,
                b.unpriced_minutes,
                b.overage_amount,
                b.total,
            ]
        )
    return buf.getvalue()


def stats_csv(s: CallStats) -> str:
    """Call counts as CSV rows `dimension,key,calls` (hour, weekday, province, city, tenant,
    number, rule, target, disposition)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("dimension", "key", "calls"))
    dimensions: list[tuple[str, Mapping[Any, int]]] = [("hour", s.by_hour), ("weekday", s.by_weekday)]
    for name, counts in dimensions + list(s.by_place_and_party()):
        for key, n in counts.items():
            w.writerow((name, key, n))
    return buf.getvalue()


# --- terminal ----------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def summary_rows(s: CallStats) -> list[tuple[str, str]]:
    """The headline figures as (label, text) rows: terminal and HTML report share them."""
    d = s.durations
    return [
        ("calls", str(s.calls)),
        ("rejected", ", ".join(f"{k} {n}" for k, n in s.rejected.items()) or "0"),
        ("offered", str(s.offered)),
        ("answered", str(s.answered)),
        ("answer rate", _rate(s.answer_rate)),
        ("abandoned", f"{s.abandoned} ({_rate(s.abandon_rate)})"),
        ("overflow", f"{s.overflowed} ({_rate(s.overflow_rate)})"),
        ("talk seconds mean / median / p90", f"{_fmt(d.mean)} / {_fmt(d.median)} / {_fmt(d.p90)}"),
        ("peak hours", " ".join(f"{h:02d}:00" for h in s.peak_hours) or "-"),
        (
            "concurrent-call peak",
            ", ".join(f"{k} {n}" for k, n in list(s.peak_concurrent.items())[:10]) or "-",
        ),
    ]


def charts_of(rep: Report) -> list[Any]:
    """The report's charts (hourly volume, calls by province, answer rate over the day)."""
    from routecore import charts

    s = rep.stats
    hours = [s.by_hour[h] for h in range(24)]
    answered = [s.answered_by_hour.get(h, 0) for h in range(24)]
    return [
        charts.hourly_volume_chart(hours, answered),
        charts.region_chart(s.by_province),
        charts.answer_rate_chart(hours, answered),
    ]


def report_html(rep: Report, drawn: Any = None) -> str:
    """The report as one self-contained HTML page (charts inlined; opens offline)."""
    from routecore import charts

    s = rep.stats
    tables: list[tuple[str, list[str], list[list[Any]]]] = [
        (f"by {name}", [name, "calls"], [[k, n] for k, n in list(counts.items())[:20]])
        for name, counts in s.by_place_and_party()
    ]
    tables.append(
        (
            "concurrent-call peak by target group",
            ["group", "peak"],
            [[k, n] for k, n in s.peak_concurrent.items()],
        )
    )
    tables.append(
        (
            "bills",
            ["tenant", "month", "calls", "fee", "used minutes", "overage", "total"],
            [
                [
                    b.tenant,
                    b.month,
                    b.calls,
                    f"{b.monthly_fee:.2f}",
                    b.minutes_used,
                    f"{b.overage_amount:.2f}",
                    f"{b.total:.2f}",
                ]
                for b in rep.bills
            ],
        )
    )
    return charts.html_report(
        f"routecore calls {rep.month or 'all time'} ({rep.timezone})",
        summary_rows(s),
        drawn if drawn is not None else charts_of(rep),
        tables,
    )


def render_report(rep: Report, console: Any, *, top: int = 10) -> None:
    """Print a report as rich tables (the `top` largest rows of each dimension)."""
    from rich.table import Table

    s = rep.stats
    title = f"calls {rep.month or 'all time'} ({rep.timezone})"
    summary = Table(title=title, show_header=False)
    for key, value in summary_rows(s):
        summary.add_row(key, value)
    console.print(summary)

    when = Table("hour", "calls", "", title="by hour of day")
    top_hour = max(s.by_hour.values(), default=0) or 1
    for h, n in s.by_hour.items():
        when.add_row(f"{h:02d}", str(n), "█" * round(20 * n / top_hour))
    console.print(when)
    days = Table(*s.by_weekday, title="by day of week")
    days.add_row(*(str(n) for n in s.by_weekday.values()))
    console.print(days)

    for name, counts in s.by_place_and_party():
        t = Table(name, "calls", "share", title=f"by {name}")
        for key, n in list(counts.items())[:top]:
            t.add_row(key, str(n), f"{n / s.calls:.1%}")
        console.print(t)

    if rep.bills:
        b_table = Table(
            "tenant",
            "month",
            "calls",
            "fee",
            "included",
            "used",
            "overage min",
            "overage",
            "total",
            title="bills",
        )
        for b in rep.bills:
            over = f"{b.overage_minutes}" + (
                f" ({b.unpriced_minutes} unpriced)" if b.unpriced_minutes else ""
            )
            b_table.add_row(
                b.tenant,
                b.month,
                str(b.calls),
                f"{b.monthly_fee:.2f}",
                str(b.included_minutes),
                str(b.minutes_used),
                over,
                f"{b.overage_amount:.2f}",
                f"{b.total:.2f}",
            )
        console.print(b_table)
