"""The `cn` calendar (python/routecore/calendar.py) against the spec, chinesecalendar and holidays."""

import datetime as dt
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import chinese_calendar  # type: ignore[import-untyped]
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st
from routecore.calendar import (
    chinese_calendar_source,
    cn_special_days,
    day_type,
    holidays_source,
    missing_years,
    official_years,
    rebuild_periods,
)

ROOT = Path(__file__).resolve().parent.parent
D = dt.date


def days_of(*years: int) -> list[dt.date]:
    first, last = D(min(years), 1, 1), D(max(years), 12, 31)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def weekday_type(d: dt.date) -> str:
    return {5: "sat", 6: "sun"}.get(d.weekday(), "workday")


def chinese_calendar_type(d: dt.date) -> str:
    """The day type chinesecalendar implies, by the brief's reading of `get_holiday_detail`."""
    off, name = chinese_calendar.get_holiday_detail(d)
    if name is not None:
        return "holiday" if off else "workday"
    return weekday_type(d)


@pytest.fixture(scope="module")
def cn() -> Mapping[dt.date, str]:
    return cn_special_days(2001, 2030)


def cn_type(d: dt.date) -> str:
    return day_type(d, calendar_special=cn_special_days(d.year, d.year))


# --- the spec's examples -------------------------------------------------------------------------


def test_spring_festival_weekends_are_holidays():
    assert D(2026, 2, 15).weekday() == 6
    assert cn_type(D(2026, 2, 15)) == "holiday"
    assert D(2026, 2, 21).weekday() == 5
    assert cn_type(D(2026, 2, 21)) == "holiday"


def test_make_up_workdays_are_workdays_whatever_their_weekday():
    assert (D(2026, 10, 10).weekday(), D(2026, 9, 20).weekday()) == (5, 6)
    assert cn_type(D(2026, 10, 10)) == "workday"
    assert cn_type(D(2026, 9, 20)) == "workday"
    # ... and without the calendar they are plain weekend days.
    assert day_type(D(2026, 10, 10)) == "sat"
    assert day_type(D(2026, 9, 20)) == "sun"


def test_acceptance_dates():
    # vectors.jsonl: 2026-10-03 closed for the national holiday, 2026-10-08 (Thu) open again.
    assert cn_type(D(2026, 10, 3)) == "holiday"
    assert cn_type(D(2026, 10, 8)) == "workday"


def test_other_days_by_weekday():
    assert [cn_type(D(2026, 3, d)) for d in (9, 13, 14, 15)] == ["workday", "workday", "sat", "sun"]


def test_without_calendar_monday_to_friday_are_workdays():
    assert day_type(D(2026, 10, 1)) == "workday"  # a Thursday of the National Day break
    assert day_type(D(2026, 10, 3)) == "sat"
    assert day_type(D(2026, 10, 4), calendar_special=None) == "sun"


def test_closed_and_open_beat_the_base_and_closed_beats_open(cn):
    holiday, makeup, monday, sunday = D(2026, 10, 3), D(2026, 10, 10), D(2026, 12, 28), D(2026, 12, 27)
    assert day_type(holiday, calendar_special=cn, open_={holiday}) == "workday"
    assert day_type(makeup, calendar_special=cn, closed={makeup}) == "holiday"
    assert day_type(monday, calendar_special=cn, closed={monday}, open_={monday}) == "holiday"
    assert day_type(sunday, calendar_special=cn, open_=[sunday]) == "workday"
    # A calendar with no base still applies its own days.
    assert day_type(D(2026, 12, 31), closed={D(2026, 12, 31)}) == "holiday"
    assert day_type(D(2026, 10, 8), open_={D(2026, 10, 9)}) == "workday"


@given(
    d=st.dates(D(1999, 1, 1), D(2030, 12, 31)),
    with_cn=st.booleans(),
    closed=st.booleans(),
    open_=st.booleans(),
)
def test_precedence_property(d, with_cn, closed, open_):
    special = cn_special_days(d.year, d.year) if with_cn else None
    got = day_type(d, calendar_special=special, closed={d} if closed else (), open_={d} if open_ else ())
    if closed:
        assert got == "holiday"
    elif open_:
        assert got == "workday"
    elif special is not None and d in special:
        assert got == special[d]
    else:
        assert got == weekday_type(d)


def test_day_type_refuses_a_datetime_and_a_bad_special_value():
    with pytest.raises(TypeError, match="datetime"):
        day_type(dt.datetime(2026, 10, 1, 9, 0))
    with pytest.raises(ValueError, match="calendar_special"):
        day_type(D(2026, 10, 1), calendar_special={D(2026, 10, 1): "sat"})


# --- cn_special_days ------------------------------------------------------------------------------


def test_special_days_are_only_the_days_that_differ_from_the_weekday(cn):
    assert cn
    for d, kind in cn.items():
        assert kind in ("holiday", "workday")
        assert kind != weekday_type(d), d


def test_special_days_filter_by_year_and_are_fresh_dicts(cn):
    y2026 = cn_special_days(2026, 2026)
    assert y2026 == {d: k for d, k in cn.items() if d.year == 2026}
    y2026.clear()
    assert cn_special_days(2026, 2026)
    with pytest.raises(ValueError, match="last_year"):
        cn_special_days(2026, 2025)


# --- agreement with chinesecalendar ---------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_agrees_with_chinese_calendar(year):
    special = cn_special_days(year, year)
    wrong = [
        (d, day_type(d, calendar_special=special), chinese_calendar_type(d))
        for d in days_of(year)
        if day_type(d, calendar_special=special) != chinese_calendar_type(d)
    ]
    assert wrong == []


# The days where `cn` departs from chinesecalendar 1.11 (module docstring), each confirmed by the
# State Council notice of its year.
KNOWN_CHINESE_CALENDAR_GAPS = {
    D(2005, 12, 31): "workday",  # 2006 notice: 12月31日（星期六）上班
    D(2011, 6, 5): "holiday",  # 端午 6月4日至6日放假
    D(2012, 6, 23): "holiday",  # 端午 6月22日至24日放假; the festival itself
    D(2015, 6, 21): "holiday",  # 端午 6月20日放假, 6月22日补休
    D(2015, 9, 5): "holiday",  # 9月3日至5日调休放假
    # Weekends joined to a holiday named by its day alone; chinesecalendar leaves them out.
    D(2014, 5, 31): "holiday",  # 端午 6月2日放假，与周末连休
    D(2014, 6, 1): "holiday",
    D(2014, 9, 6): "holiday",  # 中秋 9月8日放假，与周末连休
    D(2014, 9, 7): "holiday",
    D(2015, 4, 4): "holiday",  # 清明 4月5日（星期日）放假，4月6日补休
    D(2015, 5, 2): "holiday",  # 劳动节 5月1日放假，与周末连休
    D(2015, 5, 3): "holiday",
    D(2016, 1, 2): "holiday",  # 元旦 1月1日放假，与周末连休
    D(2016, 1, 3): "holiday",
    D(2016, 4, 2): "holiday",  # 清明 4月4日放假，与周末连休
    D(2016, 4, 3): "holiday",
    D(2016, 4, 30): "holiday",  # 劳动节 5月1日（星期日）放假，5月2日补休
    D(2016, 12, 31): "holiday",  # 2017 元旦 1月1日（星期日）放假，1月2日补休
    D(2017, 4, 29): "holiday",  # 劳动节 5月1日放假，与周末连休
    D(2017, 4, 30): "holiday",
    D(2017, 12, 30): "holiday",  # 2018 元旦 1月1日放假，与周末连休
    D(2017, 12, 31): "holiday",
    D(2018, 6, 16): "holiday",  # 端午 6月18日放假，与周末连休
    D(2018, 6, 17): "holiday",
    D(2018, 9, 22): "holiday",  # 中秋 9月24日放假，与周末连休
    D(2018, 9, 23): "holiday",
    D(2024, 6, 8): "holiday",  # 端午 6月10日放假，与周末连休
    D(2024, 6, 9): "holiday",
}


def test_differences_from_chinese_calendar_are_the_documented_gaps():
    years = sorted(chinese_calendar_source().years)
    assert years == list(range(years[0], years[-1] + 1))
    special = cn_special_days(years[0], years[-1])
    diff = {
        d: day_type(d, calendar_special=special)
        for d in days_of(years[0], years[-1])
        if day_type(d, calendar_special=special) != chinese_calendar_type(d)
    }
    assert diff == {d: k for d, k in KNOWN_CHINESE_CALENDAR_GAPS.items() if d.year in years}


# Notices checked day by day: (first day, types of the days from it on).
NOTICES = [
    # 2024 端午: 6月10日放假，与周末连休 (the weekend before is in the break, the next one is not)
    (D(2024, 6, 7), ["workday", "holiday", "holiday", "holiday", "workday"]),
    (D(2024, 6, 15), ["sat", "sun"]),
    # 2018 端午: 6月18日放假，与周末连休
    (D(2018, 6, 15), ["workday", "holiday", "holiday", "holiday", "workday"]),
    # 2024 元旦 (2023 notice words it like 2024's 端午): 12月30日至1月1日
    (D(2023, 12, 29), ["workday", "holiday", "holiday", "holiday", "workday"]),
    # 2024 清明: 4月4日至6日放假调休，4月7日（星期日）上班
    (D(2024, 4, 3), ["workday", "holiday", "holiday", "holiday", "workday", "workday"]),
    # 2024 中秋: 9月14日（星期六）上班，9月15日至17日放假调休
    (D(2024, 9, 13), ["workday", "workday", "holiday", "holiday", "holiday", "workday"]),
    # 2025 元旦: 1月1日（周三）放假1天，不调休; the weekends around it stay plain
    (D(2024, 12, 28), ["sat", "sun", "workday", "workday", "holiday", "workday", "workday", "sat", "sun"]),
    # 2026 春节: 2月15日至23日放假调休，2月14日（星期六）、2月28日（星期六）上班
    (D(2026, 2, 14), ["workday", *["holiday"] * 9, "workday"]),
    (D(2026, 2, 28), ["workday", "sun"]),
]


@pytest.mark.parametrize(("first", "types"), NOTICES, ids=[str(n[0]) for n in NOTICES])
def test_weekends_joined_to_a_holiday_are_holidays(first, types):
    got = [cn_type(first + dt.timedelta(days=i)) for i in range(len(types))]
    assert got == types


def test_every_free_weekend_beside_a_holiday_is_a_holiday_and_no_other(cn):
    """The rule, over every year of data: a weekend day that is not a make-up workday is
    `holiday` exactly when a package lists it as a day off, or its run of days off and free
    weekend days holds a weekday day off. A holiday on a weekend alone does not reach out:
    2015-09-26 stays a Saturday beside 中秋 9月27日（星期日）."""
    stated = chinese_calendar_source().days_off | holidays_source().days_off
    one = dt.timedelta(days=1)

    def off_or_free(d: dt.date) -> bool:
        return cn.get(d) == "holiday" or (d.weekday() >= 5 and cn.get(d) != "workday")

    for d in days_of(min(official_years()), max(official_years())):
        if d.weekday() < 5 or cn.get(d) == "workday" or d.year not in official_years():
            continue
        run = [d]
        for step in (one, -one):
            e = d + step
            while off_or_free(e):
                run.append(e)
                e += step
        weekday_off = any(e.weekday() < 5 and cn.get(e) == "holiday" for e in run)
        assert (cn.get(d) == "holiday") == (d in stated or weekday_off), d
    assert cn.get(D(2015, 9, 26)) is None and cn.get(D(2024, 6, 8)) == "holiday"


def test_chinese_calendar_source_reads_the_package():
    cc = chinese_calendar_source()
    for d in days_of(2024, 2026):
        off, name = chinese_calendar.get_holiday_detail(d)
        assert (d in cc.days_off) == (off and name is not None), d
        assert (d in cc.workdays) == (not off and name is not None), d
    assert all(d.weekday() >= 5 for d in cc.workdays)


# --- holidays against chinesecalendar, and the fallback -------------------------------------------


def test_holidays_official_years_are_the_noticed_ones():
    hol = holidays_source()
    # Every year chinesecalendar covers has a notice, so holidays must count it as official too...
    assert chinese_calendar_source().years <= hol.years
    # ... and its rule-based later years (no 调休, no notice) are not official.
    estimated = max(hol.years) + 1
    assert not any("substituted" in n for n in holidays.China(years=estimated, language="en_US").values())
    assert estimated not in official_years()


def test_holidays_official_days_are_holidays_here(cn):
    hol = holidays_source()
    assert hol.days_off
    assert [d for d in hol.days_off if cn.get(d) != "holiday"] == []


def test_holidays_make_up_workdays_are_workdays_here(cn):
    hol = holidays_source()
    assert hol.workdays
    assert all(d.weekday() >= 5 for d in hol.workdays)
    assert [d for d in hol.workdays if cn.get(d) != "workday"] == []


def test_no_day_is_both_off_and_a_make_up_workday():
    cc, hol = chinese_calendar_source(), holidays_source()
    assert (cc.days_off | hol.days_off) & (cc.workdays | hol.workdays) == set()


def test_holidays_agrees_with_chinese_calendar_where_both_have_the_year():
    cc, hol = chinese_calendar_source(), holidays_source()
    both = cc.years & hol.years
    assert len(both) >= 20

    def within(days):
        return {d for d in days if d.year in both}

    # Every official date of holidays is in a chinesecalendar period, but for its one gap.
    assert within(hol.days_off) - cc.days_off == {D(2012, 6, 23)}
    # They name the same make-up workdays, but for the one chinesecalendar lacks.
    assert within(hol.workdays) ^ within(cc.workdays) == {D(2005, 12, 31)}
    # The weekend rebuild never loses a day of a chinesecalendar period ...
    rebuilt = rebuild_periods(hol)
    assert within(cc.days_off) - rebuilt == set()
    # ... and is exact once the notices give every period as a date range (2019 on), except for
    # 2024's 端午 "6月10日放假，与周末连休", which chinesecalendar keeps apart from the weekend.
    for year in sorted(y for y in both if y >= 2019):
        extra = {d for d in rebuilt if d.year == year} - cc.days_off
        assert extra == ({D(2024, 6, 8), D(2024, 6, 9)} if year == 2024 else set()), year


def test_years_chinese_calendar_lacks_fall_back_to_holidays():
    cc, hol = chinese_calendar_source(), holidays_source()
    fallback = sorted(hol.years - cc.years)
    assert 2003 in fallback
    # 2003 notice: 春节 2月1日至7日放假, 2月8日、9日上班; 国庆 10月1日至7日放假, 9月27日、28日上班.
    special = cn_special_days(2003, 2003)
    for d in [D(2003, 2, 1) + dt.timedelta(days=i) for i in range(7)]:
        assert day_type(d, calendar_special=special) == "holiday", d
    for d in [D(2003, 10, 1) + dt.timedelta(days=i) for i in range(7)]:
        assert day_type(d, calendar_special=special) == "holiday", d
    for d in (D(2003, 2, 8), D(2003, 2, 9), D(2003, 9, 27), D(2003, 9, 28)):
        assert day_type(d, calendar_special=special) == "workday", d
    assert day_type(D(2003, 1, 4), calendar_special=special) == "sat"


def test_a_year_without_data_falls_back_to_weekdays():
    years = official_years()
    future, past = max(years) + 1, min(years) - 1
    assert missing_years([future, 2026, past, future]) == [past, future]
    assert missing_years(range(2004, 2027)) == []
    assert cn_special_days(future, future + 3) == {}
    assert cn_special_days(past - 10, past) == {}
    oct1 = D(future, 10, 1)
    assert cn_type(oct1) == weekday_type(oct1)
    for d in days_of(future):
        assert cn_type(d) == weekday_type(d)


def test_agreement_tool_prints_every_year():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "calendar_agreement.py"), "2025", "2027"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cells = [line.split() for line in out.splitlines()]
    rows = {c[0]: c for c in cells if c and c[0].isdigit()}
    assert set(rows) == {"2025", "2026", "2027"}
    assert rows["2026"][-1] == "0"  # cn != chinesecalendar
    assert "2027: no official data" in out
