"""Print, per year, how `chinesecalendar` and `holidays.China` agree on the official calendar.

Run: python tools/calendar_agreement.py [FIRST_YEAR LAST_YEAR]

Columns (counts of days; "-" where a package has no official data for the year):
  cc off / hol off     days off as each package lists them (holidays: without period weekends)
  hol off not cc       official days of `holidays` that chinesecalendar does not list as days off
  cc mk / hol mk       make-up workdays (调休上班); "mk diff" the days only one of them names
  rebuilt              holidays' days off plus the weekends adjacent to or enclosed by them
  +rebuilt / -rebuilt  days the rebuild adds to / misses from chinesecalendar's periods
  cn != cc             days the `cn` calendar classifies differently from chinesecalendar
and, below the table, the days behind every non-zero difference.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable

from routecore.calendar import (
    chinese_calendar_source,
    cn_special_days,
    holidays_source,
    rebuild_periods,
)

HEADER = (
    "year",
    "cc off",
    "hol off",
    "hol off not cc",
    "cc mk",
    "hol mk",
    "mk diff",
    "rebuilt",
    "+rebuilt",
    "-rebuilt",
    "cn != cc",
)


def _in(days: Iterable[dt.date], year: int) -> set[dt.date]:
    return {d for d in days if d.year == year}


def _fmt(days: Iterable[dt.date]) -> str:
    return " ".join(f"{d:%m-%d}{d:%a}" for d in sorted(days))


def _cc_kind(d: dt.date, off: set[dt.date], mk: set[dt.date]) -> str | None:
    if d in off:
        return "holiday"
    if d in mk and d.weekday() >= 5:
        return "workday"
    return None


def rows(first: int, last: int) -> tuple[list[tuple[str, ...]], list[str]]:
    """The table rows and the detail lines for `first`..`last`."""
    cc, hol = chinese_calendar_source(), holidays_source()
    rebuilt_all = rebuild_periods(hol)
    special = cn_special_days(first, last)
    table: list[tuple[str, ...]] = []
    notes: list[str] = []
    for year in range(first, last + 1):
        has_cc, has_hol = year in cc.years, year in hol.years
        cc_off, cc_mk = _in(cc.days_off, year), _in(cc.workdays, year)
        hol_off, hol_mk = _in(hol.days_off, year), _in(hol.workdays, year)
        rebuilt = _in(rebuilt_all, year)
        both = has_cc and has_hol
        hol_not_cc = hol_off - cc_off if both else set()
        mk_diff = cc_mk ^ hol_mk if both else set()
        plus, minus = (rebuilt - cc_off, cc_off - rebuilt) if both else (set(), set())
        cn_year = {d: k for d, k in special.items() if d.year == year}
        cn_diff: set[dt.date] = set()
        if has_cc:
            days = set(cn_year) | cc_off | cc_mk
            cn_diff = {d for d in days if cn_year.get(d) != _cc_kind(d, cc_off, cc_mk)}

        def n(days: set[dt.date], present: bool) -> str:
            return str(len(days)) if present else "-"

        table.append(
            (
                str(year),
                n(cc_off, has_cc),
                n(hol_off, has_hol),
                n(hol_not_cc, both),
                n(cc_mk, has_cc),
                n(hol_mk, has_hol),
                n(mk_diff, both),
                n(rebuilt, has_hol),
                n(plus, both),
                n(minus, both),
                n(cn_diff, has_cc),
            )
        )
        for label, days in (
            ("holidays official day, not a chinesecalendar day off", hol_not_cc),
            ("make-up workday named by one package only", mk_diff),
            ("rebuild adds (chinesecalendar keeps out)", plus),
            ("rebuild misses (chinesecalendar has)", minus),
            ("cn differs from chinesecalendar", cn_diff),
        ):
            if days:
                notes.append(f"{year} {label}: {_fmt(days)}")
        if not has_cc and not has_hol:
            notes.append(f"{year}: no official data; `cn` treats it by weekday")
        elif not has_cc:
            notes.append(f"{year}: chinesecalendar lacks it; `cn` uses the holidays rebuild")
    return table, notes


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if args:
        first, last = int(args[0]), int(args[1])
    else:
        years = chinese_calendar_source().years | holidays_source().years
        first, last = min(years), max(years) + 1
    table, notes = rows(first, last)
    widths = [max(len(r[i]) for r in (HEADER, *table)) for i in range(len(HEADER))]
    for r in (HEADER, *table):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print()
    for line in notes:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
