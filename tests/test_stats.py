"""Statistics and bills over a real record store filled from real engine decisions.

Every expected number below is worked out by hand from the calls made here (see the comments),
against the acceptance plan's packages: clinic 100/month with 1000 minutes included on the
`standard` rates (mobile 0.20, landline 0.15), school 800 with 10000 minutes, shop 500 with 5000.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import routecore
from routecore.exceptions import InvalidArgumentError
from routecore.plan import load_plan
from routecore.records import CallEvent, CallRecord, SqliteRecordStore
from routecore.stats import bills, bills_csv, call_stats, month_range, report, stats_csv, target_kind
from typer.testing import CliRunner

PLAN = Path(__file__).resolve().parents[2] / "shared" / "spec" / "acceptance" / "plan.yaml"
if not PLAN.is_file():  # a worktree beside /work/shared
    PLAN = Path("/work/shared/spec/acceptance/plan.yaml")
CST = dt.timezone(dt.timedelta(hours=8))

CLINIC, SCHOOL = "4001234567", "4006666666"
CLINIC_VIP = "075586000001"  # on the clinic_vip list: rule `vip`, forwarded to the desk
BEIJING = "01012345678"  # school, rule `all`: the Beijing branch 01062000001


def at(day: int, h: int, m: int = 0, s: int = 0, month: int = 5) -> dt.datetime:
    return dt.datetime(2026, month, day, h, m, s, tzinfo=CST)


@pytest.fixture(scope="module")
def engine() -> routecore.Engine:
    return routecore.Engine.from_file(PLAN)


@pytest.fixture
def store(tmp_path: Path, engine: routecore.Engine) -> Iterator[SqliteRecordStore]:
    s = SqliteRecordStore(tmp_path / "records.db")

    def call(
        call_id: str,
        called: str,
        caller: str,
        routed: dt.datetime,
        target: str,
        duration: int,
        *,
        answered_after: int | None = None,
        disposition: str = "",
    ) -> None:
        d = engine.route(called=called, caller=caller, at=routed, call_id=call_id)
        assert d.action == "FORWARD", (call_id, d.action)
        s.remember_decision(d, d.called)
        if answered_after is not None:
            answered = routed + dt.timedelta(seconds=answered_after)
            s.append(CallEvent.create(call_id, "ANSWERED", target, answered))
            ended = answered + dt.timedelta(seconds=duration)
        else:
            ended = routed + dt.timedelta(seconds=30 + duration)
        s.append(CallEvent.create(call_id, "ENDED", target, ended, duration, disposition))

    # c1 Tue 12 May: answered 10:00:10, talks 59700 s = 995 min (ends 13 May 02:35:10).
    call("c1", CLINIC, CLINIC_VIP, at(12, 10), "13800000010", 59_700, answered_after=10)
    # c2 Wed 13 May: answered 09:00:05, 361 s = 7 min; 5 left in the package, 2 over at 0.20.
    call("c2", CLINIC, CLINIC_VIP, at(13, 9), "13800000010", 361, answered_after=5)
    # c3 Wed: no ANSWERED, 125 s = 3 min to the landline (office hours: offered at 0.15),
    # ends 09:12:35, so answered 09:10:30.
    call("c3", CLINIC, CLINIC_VIP, at(13, 9, 10), "075586000010", 125)
    # c4 Wed 09:20: nobody answered (ends 09:20:30).
    call("c4", CLINIC, CLINIC_VIP, at(13, 9, 20), "13800000010", 0, disposition="no_answer")
    # c5 Thu 14 May: school, answered 15:00:08, 60 s = 1 min (inside 10000 included).
    call("c5", SCHOOL, BEIJING, at(14, 15), "01062000001", 60, answered_after=8)
    # c6 Mon 1 June: clinic again, 30 s = 1 min, answered 11:00:30 (a new month, a new package).
    call("c6", CLINIC, CLINIC_VIP, at(1, 11, month=6), "13800000010", 30)
    s.flush()
    yield s
    s.close()


def test_counts_answer_rate_and_durations(store: SqliteRecordStore) -> None:
    s = call_stats(store.records())
    assert s.calls == 6
    assert s.answered == 5  # all but c4
    assert s.answer_rate == pytest.approx(5 / 6)
    # local hours: c1 10, c2 9, c3 9, c4 9 (its end), c5 15, c6 11
    assert {h: n for h, n in s.by_hour.items() if n} == {9: 3, 10: 1, 11: 1, 15: 1}
    assert sum(s.by_hour.values()) == 6 and len(s.by_hour) == 24
    assert s.peak_hours == [9]
    assert s.by_weekday == {"Mon": 1, "Tue": 1, "Wed": 3, "Thu": 1, "Fri": 0, "Sat": 0, "Sun": 0}
    assert s.by_tenant == {"clinic": 5, "school": 1}
    assert s.by_number == {CLINIC: 5, SCHOOL: 1}
    assert s.by_rule == {"vip": 5, "all": 1}
    assert s.by_target == {"13800000010": 4, "01062000001": 1, "075586000010": 1}
    assert s.by_disposition == {"answered": 5, "no_answer": 1}
    assert s.by_province == {"广东": 5, "北京": 1}
    assert s.by_city["深圳"] == 5
    # talk time of the answered calls: 30, 60, 125, 361, 59700
    d = s.durations
    assert (d.count, d.total_seconds) == (5, 60_276)
    assert d.mean == pytest.approx(60_276 / 5)
    assert d.median == 125
    # p90 at rank (5 - 1) * 0.9 = 3.6: 361 + 0.6 * (59700 - 361)
    assert d.p90 == pytest.approx(35_964.4)


def test_month_bill_fee_plus_overage(store: SqliteRecordStore) -> None:
    plan = load_plan(PLAN).model
    rep = report(store, plan, month="2026-05")
    assert rep.stats.calls == 5  # c6 ended in June
    by_tenant = {b.tenant: b for b in rep.bills}
    assert set(by_tenant) == {"clinic", "school", "shop"}  # shop had no call: the fee is due
    clinic = by_tenant["clinic"]
    assert (clinic.month, clinic.calls, clinic.monthly_fee, clinic.included_minutes) == (
        "2026-05",
        4,
        100,
        1000,
    )
    assert clinic.minutes_used == 995 + 7 + 3 + 0
    assert clinic.overage_minutes == 2 + 3
    assert (clinic.overage["mobile"].minutes, clinic.overage["mobile"].amount) == (2, pytest.approx(0.40))
    assert (clinic.overage["landline"].minutes, clinic.overage["landline"].amount) == (3, pytest.approx(0.45))
    assert clinic.overage_amount == pytest.approx(0.85)
    assert clinic.total == pytest.approx(100.85)
    school = by_tenant["school"]
    assert (school.calls, school.minutes_used, school.overage_minutes, school.total) == (1, 1, 0, 800)
    assert (by_tenant["shop"].calls, by_tenant["shop"].total) == (0, 500)
    # One tenant's report bills that tenant alone (not the others' fees with no call).
    only = report(store, plan, month="2026-05", tenant="clinic")
    assert [(b.tenant, b.calls, b.total) for b in only.bills] == [("clinic", 4, pytest.approx(100.85))]


def test_bills_per_month_and_without_plan(store: SqliteRecordStore) -> None:
    plan = load_plan(PLAN)
    got = {(b.tenant, b.month): b for b in bills(store.records(), plan)}
    assert len(got) == 6  # three tenants × May and June
    june = got[("clinic", "2026-06")]
    assert (june.calls, june.minutes_used, june.overage_minutes, june.total) == (1, 1, 0, 100)
    # Without a plan: no fee, nothing included, every minute priced at the record's rate:
    # clinic May 995 + 7 at 0.20, 3 at 0.15 = 200.40 + 0.45
    bare = {(b.tenant, b.month): b for b in bills(store.records(tenant="clinic"))}
    assert set(bare) == {("clinic", "2026-05"), ("clinic", "2026-06")}
    may = bare[("clinic", "2026-05")]
    assert not may.package_known
    assert may.overage_minutes == 1005
    assert may.total == pytest.approx(1002 * 0.20 + 3 * 0.15)


def test_iterable_source_and_exports(store: SqliteRecordStore) -> None:
    records = list(store.records())
    rep = report(records, load_plan(PLAN), month="2026-05", tenant="clinic")
    assert rep.stats.calls == 4
    rows = list(csv.DictReader(io.StringIO(bills_csv(rep.bills))))
    clinic = next(r for r in rows if r["tenant"] == "clinic")
    assert (clinic["minutes_used"], clinic["mobile_overage_minutes"], clinic["total"]) == (
        "1005",
        "2",
        "100.85",
    )
    counts = list(csv.reader(io.StringIO(stats_csv(rep.stats))))
    assert ["weekday", "Wed", "3"] in counts and ["rule", "vip", "4"] in counts
    data = orjson.loads(rep.to_json())
    assert data["stats"]["by_hour"]["9"] == 3
    assert data["stats"]["peak_hours"] == [9]
    assert next(b for b in data["bills"] if b["tenant"] == "clinic")["total"] == pytest.approx(100.85)


def test_empty_and_bad_inputs() -> None:
    s = call_stats([])
    assert (s.calls, s.answer_rate, s.durations.median, s.peak_hours) == (0, None, None, [])
    assert bills([]) == []
    with pytest.raises(InvalidArgumentError, match="month"):
        month_range("2026-13")
    lo, hi = month_range("2026-12")
    assert (lo.isoformat(), hi.isoformat()) == ("2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    assert [target_kind(t) for t in ("13800000010", "075586000010", "sip:a@b", "4001234567", "")] == [
        "mobile",
        "landline",
        "sip",
        "landline",
        "",
    ]


def test_cli_stats(store: SqliteRecordStore, tmp_path: Path) -> None:
    from routecore.cli import app

    runner = CliRunner()
    out = tmp_path / "bills.csv"
    args = ["stats", "--cdr", str(store.path), "--plan", str(PLAN), "--month", "2026-05"]
    res = runner.invoke(app, [*args, "--json", "--csv", str(out)])
    assert res.exit_code == 0, res.output
    data = orjson.loads(res.stdout)
    assert data["stats"]["calls"] == 5
    assert "100.85" in out.read_text()
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "100.85" in res.stdout and "answer rate" in res.stdout
    res = runner.invoke(app, ["stats", "--cdr", str(tmp_path / "missing.db")])
    assert res.exit_code == 1


def test_rejects_abandons_overflow_and_group_peaks(tmp_path: Path, engine: routecore.Engine) -> None:
    s = SqliteRecordStore(tmp_path / "more.db")
    try:

        def answered(cid: str, target: str, start: dt.datetime, seconds: int) -> None:
            d = engine.route(called=CLINIC, caller=CLINIC_VIP, at=start, call_id=cid)
            s.remember_decision(d, d.called)
            s.append(CallEvent.create(cid, "ANSWERED", target, start))
            s.append(CallEvent.create(cid, "ENDED", target, start + dt.timedelta(seconds=seconds), seconds))

        # The desk (13800000010, 13800000011, 075586000010) holds a1 and a2 at once from 10:05;
        # a3 is answered at the instant both end (10:10): no overlap, the peak stays 2.
        answered("a1", "13800000010", at(12, 10), 600)
        answered("a2", "13800000011", at(12, 10, 5), 300)
        answered("a3", "13800000010", at(12, 10, 10), 60)
        # What the switch reports for calls the record cannot explain by itself (docs/decisions.md).
        for cid, disposition in [
            ("r1", "rejected:blocked"),
            ("r2", "rejected:blocked"),
            ("r3", "rejected:rate_limited"),
            ("r4", "rejected"),
            ("b1", "abandoned"),
            ("o1", "overflow"),
            ("o2", "overflow:no_answer"),  # the reference Kamailio's: the last target's failure
            ("x1", "overflowing"),  # no disposition stats reads: offered, nothing more
        ]:
            s.append(CallEvent.create(cid, "ENDED", "", at(12, 11), 0, disposition))
        s.flush()
        rep = report(s, load_plan(PLAN))
        records = list(s.records())
    finally:
        s.close()
    st = rep.stats
    assert st.calls == 11
    assert st.rejected == {"blocked": 2, "(unknown)": 1, "rate_limited": 1}
    assert st.offered == 7
    assert st.answered == 3
    assert st.answer_rate == pytest.approx(3 / 7)
    assert (st.abandoned, st.abandon_rate) == (1, pytest.approx(1 / 7))
    assert (st.overflowed, st.overflow_rate) == (2, pytest.approx(2 / 7))
    assert st.peak_concurrent["clinic/desk"] == 2
    assert st.peak_concurrent["clinic/doctors"] == 0
    assert {h: n for h, n in st.answered_by_hour.items() if n} == {10: 3}
    data = orjson.loads(rep.to_json())
    assert data["stats"]["abandon_rate"] == pytest.approx(1 / 7)
    # Without a plan the peaks are per target: 13800000010 never held two calls.
    assert call_stats(records).peak_concurrent == {"13800000010": 1, "13800000011": 1}


def test_cli_stats_html_and_png(store: SqliteRecordStore, tmp_path: Path) -> None:
    from routecore.cli import app

    html, pngs = tmp_path / "stats.html", tmp_path / "png"
    res = CliRunner().invoke(
        app,
        ["stats", "--cdr", str(store.path), "--plan", str(PLAN), "--html", str(html), "--png-dir", str(pngs)],
    )
    assert res.exit_code == 0, res.output
    text = html.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "clinic/desk" in text and "100.85" in text  # the peaks table and the May bill
    assert sorted(p.name for p in pngs.iterdir()) == ["answer_rate.png", "hourly_volume.png", "regions.png"]


def test_concurrent_peaks_keep_groups_whose_names_join_alike_apart() -> None:
    """Tenant `a` group `b/c` and tenant `a/b` group `c` are two groups (labels escaped as the
    engine's group keys are), and a target reported as `sip:NUMBER@GATEWAY` counts as NUMBER."""
    from routecore.records import build_record
    from routecore.stats import concurrent_peaks

    def group(number: str, called: str) -> dict:
        return {
            "groups": {"g": {"targets": [{"number": number}]}},
            "numbers": {called: {"flow": [{"forward": "g"}]}},
        }

    plan = {
        "version": 1,
        "tenants": {"a": group("13800000001", "4001111111"), "a/b": group("13800000002", "4002222222")},
    }
    plan["tenants"]["a"]["groups"] = {"b/c": plan["tenants"]["a"]["groups"]["g"]}
    plan["tenants"]["a"]["numbers"]["4001111111"]["flow"] = [{"forward": "b/c"}]
    plan["tenants"]["a/b"]["groups"] = {"c": plan["tenants"]["a/b"]["groups"]["g"]}
    plan["tenants"]["a/b"]["numbers"]["4002222222"]["flow"] = [{"forward": "c"}]
    records = [
        build_record(
            CallEvent.create(
                f"c{i}", "ENDED", target, at=f"2026-11-11T10:0{i}:30+08:00", duration_seconds=600
            ),
            None,
            None,
        )
        for i, target in enumerate(["13800000001", "sip:13800000001@gw", "13800000002"])
    ]
    peaks = concurrent_peaks(records, routecore.Engine.from_dict(plan).loaded)
    assert peaks == {"a/b%2Fc": 2, "a%2Fb/c": 1}


def test_concurrent_peaks_count_a_target_once_and_skip_answers_after_the_end() -> None:
    """A target listed twice in a group (two spellings of one number) is one target; a record
    whose answer is stamped after its end (clocks that disagree) adds no call in progress and
    takes none away from the calls that overlap."""
    from routecore.records import build_record
    from routecore.stats import concurrent_peaks

    plan = {
        "version": 1,
        "tenants": {
            "t": {
                "groups": {"h": {"targets": [{"number": "13800000010"}, {"number": "138 0000 0010"}]}},
                "numbers": {"4001111111": {"flow": [{"forward": "h"}]}},
            }
        },
    }

    def record(call_id: str, answered: int, ended: int) -> CallRecord:
        at = dt.datetime(2026, 11, 11, 2, 0, tzinfo=dt.UTC).timestamp()
        return build_record(
            CallEvent.create(call_id, "ENDED", "13800000010", at + ended),
            CallEvent.create(call_id, "ANSWERED", "13800000010", at + answered),
            None,
        )

    loaded = routecore.Engine.from_dict(plan).loaded
    assert concurrent_peaks([record("x", 0, 100)], loaded) == {"t/h": 1}
    overlapping = [record("x", 0, 100), record("y", 50, 150), record("z", 120, 40)]
    assert concurrent_peaks(overlapping, loaded) == {"t/h": 2}


@pytest.mark.parametrize(
    "month", ["2026-1", "2026-13", "2026-00", "26-11", "2026-011", " 2026-11", "2026/11", ""]
)
def test_a_month_is_exactly_yyyy_mm(month: str) -> None:
    # '2026-1' was read as January and billed as a phantom month '2026-1' beside '2026-01'.
    with pytest.raises(InvalidArgumentError, match=r"^month: .* is not YYYY-MM$"):
        month_range(month)
    with pytest.raises(InvalidArgumentError, match=r"^month: "):
        report([], month=month)
    with pytest.raises(InvalidArgumentError, match=r"^months\[0\]: "):
        bills([], months=[month])
    with pytest.raises(TypeError, match=r"^month: expected a str"):
        month_range(202611)  # type: ignore[arg-type]
