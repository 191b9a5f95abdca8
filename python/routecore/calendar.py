"""The built-in `cn` calendar: official holiday periods (放假) and make-up workdays (调休).

A schedule with a calendar classifies each date (plan-format.md, "Schedules and
calendars"): every day off of an official holiday period is `holiday`, the
weekends inside the period included (2026-02-15, a Sunday inside the Spring
Festival break); a make-up workday is `workday` whatever its weekday; other
days are `workday` (Mon–Fri), `sat` or `sun`. A plan calendar's `closed` days
are `holiday` and its `open` days `workday`; `closed` beats `open`, both beat
the base. Years without official data are treated by weekday, and the checker
warns about them (`missing_years`).

Sources. Two maintained packages transcribe the State Council's yearly notices:

* `chinesecalendar` (`chinese_calendar`, 2004 onwards) lists each period whole,
  weekends included, and the make-up workdays. It is preferred where it has
  the year.
* `holidays` (`holidays.China`, official from 2001; later years are rule-based
  estimates without any 调休, so a year counts as official only when it names
  at least one "Day off (substituted from MM/DD/YYYY)") lists the statutory,
  observed and substituted days off, and names the make-up workdays in those
  labels, but not the weekends of a period. It alone has 2001–2003 today;
  the weekend rule below rebuilds their periods.

The calendar is their union, with one rule for the weekends: every day off
that either package states is `holiday`, and so is every weekend day that is
not a make-up workday and is joined to a weekday day off, directly or through
other days off (the spec's "weekends inside the period included"). A notice
that names only the holiday ("6月10日放假，与周末连休", "4月5日放假，4月6日补休")
gives a break that runs over the weekend beside it. A holiday that falls on a
weekend with no weekday off does not reach out ("9月27日（星期日）放假" alone
leaves 9/26 `sat`). A notice that gives a date range
leaves no free weekend day beside it (a weekend day beside a range is a make-up
workday: 2024 清明 4月4日至6日, 4月7日上班; 2024 中秋 9月15日至17日, 9月14日
上班), so the rule reads every notice alike; an ordinary weekend not touching a
day off stays `sat`/`sun` (2025 元旦, 1月1日 only). A make-up workday is
`workday`. This departs from chinesecalendar 1.11 on these days, each
confirmed by its notice (listed in `tests/test_calendar.py`):

* 2005-12-31 (Sat) is a make-up workday for 2006-01-03 (2006 notice: 元旦
  1月1日至3日放假, 12月31日上班); only `holidays` has it.
* 2011-06-05 (Sun) lies inside 端午 6月4日至6日 (2011 notice); chinesecalendar
  lists the 4th and the 6th only.
* 2012-06-23 (Sat), the Dragon Boat Festival itself, inside 端午 6月22日至24日;
  chinesecalendar lists the 22nd and the 24th only.
* 2015-06-21 (Sun) lies between 端午 6月20日 and its 补休 6月22日 (2015 notice:
  6月20日放假，6月22日补休); chinesecalendar lists the 20th and the 22nd only.
* 2015-09-05 (Sat) is inside the 70th-anniversary break 9月3日至5日 (9月4日调休,
  9月6日上班); chinesecalendar lists the 3rd and the 4th only.
* The weekends joined to a holiday its notice names by the day alone, which
  chinesecalendar leaves out of the period: 2014–2018 (e.g. 2018 端午 6月18日
  放假，与周末连休: 6月16日–17日) and 2024's 端午 (6月10日放假，与周末连休:
  6月8日–9日), while it has the same wording's 2023-12-30/31 (2024 元旦).

`rebuild_periods` applies the weekend rule to one package (`holidays` lists
no period weekends); `tools/calendar_agreement.py` shows per year how the
packages and `cn` differ.

The checks of the two packages against each other live in
`tests/test_calendar.py`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "DayType",
    "Source",
    "SpecialDay",
    "chinese_calendar_source",
    "cn_special_days",
    "day_type",
    "holidays_source",
    "missing_years",
    "official_years",
    "rebuild_periods",
]

DayType = Literal["workday", "sat", "sun", "holiday"]
SpecialDay = Literal["holiday", "workday"]

_ONE_DAY = dt.timedelta(days=1)
_SPECIAL_VALUES: frozenset[str] = frozenset(("holiday", "workday"))
# `holidays` renders a substituted day off as "Day off (substituted from 01/04/2026)" in en_US.
_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@dataclass(frozen=True, slots=True)
class Source:
    """What one package states about the official calendar.

    Attributes:
        name: the package's distribution name.
        years: the years it has official data for.
        days_off: the official days off it lists (for `holidays`, without the
            weekends inside a period).
        workdays: the make-up workdays (调休上班), all on weekends.
        in_lieu: the weekdays off given in exchange for make-up workdays
            (the packages split a period's days between statutory and in-lieu
            differently; only their union is used).
    """

    name: str
    years: frozenset[int]
    days_off: frozenset[dt.date]
    workdays: frozenset[dt.date]
    in_lieu: frozenset[dt.date]


def _is_weekend(d: dt.date) -> bool:
    return d.weekday() >= 5


@functools.cache
def chinese_calendar_source() -> Source:
    """The periods (weekends included) and make-up workdays of `chinesecalendar`."""
    from chinese_calendar import constants  # type: ignore[import-untyped]

    days_off = frozenset(constants.holidays)
    workdays = frozenset(constants.workdays)
    return Source(
        name="chinesecalendar",
        years=frozenset(d.year for d in days_off | workdays),
        days_off=days_off,
        workdays=workdays,
        in_lieu=frozenset(constants.in_lieu_days),
    )


@functools.cache
def holidays_source() -> Source:
    """The official days off and the make-up workdays named by `holidays.China`.

    Only years with at least one substituted day off count: later years of
    `holidays.China` are estimated from the statutory rules and carry no 调休.
    """
    import holidays

    cn = holidays.China(years=range(holidays.China.start_year, holidays.China.end_year + 1), language="en_US")
    workdays: set[dt.date] = set()
    in_lieu: set[dt.date] = set()
    years: set[int] = set()
    for day, label in cn.items():
        for m in _SUBSTITUTED.finditer(label):
            workdays.add(dt.date(int(m[3]), int(m[1]), int(m[2])))
            in_lieu.add(day)
            years.add(day.year)
    return Source(
        name="holidays",
        years=frozenset(years),
        days_off=frozenset(d for d in cn if d.year in years),
        workdays=frozenset(d for d in workdays if d.year in years),
        in_lieu=frozenset(in_lieu),
    )


def rebuild_periods(src: Source) -> frozenset[dt.date]:
    """The days off of `src` plus every free weekend day joined to a weekday day off of them,
    directly or through other days off and free weekend days.

    This is how the periods of a year that only `holidays` covers are rebuilt
    (a weekend day that is a make-up workday stays out). Linear in the number
    of days off.
    """
    joined: set[dt.date] = set()
    for start in src.days_off:
        if _is_weekend(start):
            continue  # a holiday on a weekend does not reach out by itself
        for step in (_ONE_DAY, -_ONE_DAY):
            d = start + step
            while d in src.days_off or (_is_weekend(d) and d not in src.workdays):
                if d not in src.days_off:
                    joined.add(d)
                d += step
    return src.days_off | joined


@functools.cache
def _table() -> tuple[frozenset[int], Mapping[dt.date, SpecialDay]]:
    cc, hol = chinese_calendar_source(), holidays_source()
    years = cc.years | hol.years
    workdays = cc.workdays | hol.workdays
    # Every day off either package states, and every free weekend day joined to a weekday one
    # (spec: "weekends inside the period included"); one rule for every
    # year, whichever package has it and however its notice words the period (module docstring).
    both = Source(
        name="cn",
        years=years,
        days_off=cc.days_off | hol.days_off,
        workdays=workdays,
        in_lieu=cc.in_lieu | hol.in_lieu,
    )
    days_off = rebuild_periods(both)
    table: dict[dt.date, SpecialDay] = {}
    for d in sorted(days_off | workdays):
        if d.year not in years:
            continue
        if d in days_off and d in workdays:
            # The packages contradict each other: the one covering the year wins.
            src = cc if d.year in cc.years else hol
            kind: SpecialDay = "holiday" if d in src.days_off else "workday"
        else:
            kind = "holiday" if d in days_off else "workday"
        if kind == "holiday" or _is_weekend(d):
            table[d] = kind
    return frozenset(years), MappingProxyType(table)


def official_years() -> frozenset[int]:
    """The years with official data (either package)."""
    return _table()[0]


def missing_years(years: Iterable[int]) -> list[int]:
    """The given years that have no official data, sorted, each once: the checker warns about them."""
    known = official_years()
    return sorted({y for y in years if y not in known})


def cn_special_days(first_year: int, last_year: int) -> dict[dt.date, SpecialDay]:
    """The days of `first_year`..`last_year` whose `cn` type differs from the weekday default.

    These are the days off of official periods (any weekday) and the make-up
    workdays (weekends). Years without official data contribute nothing. The
    table is built once per process; a call filters it (a few hundred days
    a year of data) and returns a new dict.

    Raises:
        ValueError: `last_year` is before `first_year`.
    """
    if last_year < first_year:
        raise ValueError(f"last_year ({last_year}) must not be before first_year ({first_year})")
    return {d: kind for d, kind in _table()[1].items() if first_year <= d.year <= last_year}


def day_type(
    d: dt.date,
    *,
    calendar_special: Mapping[dt.date, str] | None = None,
    closed: Container[dt.date] = (),
    open_: Container[dt.date] = (),
) -> DayType:
    """Classify a date by the plan-format rules.

    Args:
        d: the local date, in the schedule's timezone.
        calendar_special: the base calendar's special days (`cn_special_days`
            for `cn`); None means no calendar, so Mon–Fri are workdays.
        closed: extra days off (`holiday`); they beat `open_`.
        open_: extra working days (`workday`).

    Raises:
        TypeError: `d` is a datetime (convert it to the schedule's local date first).
        ValueError: `calendar_special` maps `d` to something other than `holiday` or `workday`.
    """
    if isinstance(d, dt.datetime):
        raise TypeError("d must be a date, not a datetime: take .date() in the schedule's timezone")
    if d in closed:
        return "holiday"
    if d in open_:
        return "workday"
    if calendar_special is not None:
        kind = calendar_special.get(d)
        if kind is not None:
            if kind not in _SPECIAL_VALUES:
                raise ValueError(f"calendar_special[{d}] must be 'holiday' or 'workday', not {kind!r}")
            return "holiday" if kind == "holiday" else "workday"
    weekday = d.weekday()
    if weekday == 5:
        return "sat"
    if weekday == 6:
        return "sun"
    return "workday"
