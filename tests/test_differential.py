"""Differential test: the Rust engine against the pure-Python reference model.

Hypothesis generates plans (tenants, groups of every strategy, schedules, menus, lists,
limits, display tags) and sequences of calls and events; both must agree on every field of
every decision (the `random` strategy's order is compared as a set).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import routecore
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from reference.model import ReferenceError, ReferenceModel
from routecore.cli import decision_dict

MOBILES = [
    "13800138000",
    "13912345678",
    "15907550000",
    "18912340000",
    "13712340000",
    "17101230000",
    "15502100000",
    "13552000001",
    "14000000000",
]
LANDLINES = ["01062345678", "075586000001", "02887654321", "02100000000"]
OTHER_CALLERS = ["", "anonymous", "+1 415 555 0100", "12", "95588", "+86 138 0013 8000"]
TARGETS = ["13800000010", "13800000011", "13800000012", "075586000010", "01062000000", "02086000100"]
REGIONS = ["北京", "广东", "广东/深圳", "上海", "四川/成都", "江苏", "福建/厦门"]
KINDS = ["mobile", "landline", "service", "international", "anonymous", "unknown"]
CARRIERS = ["移动", "联通", "电信", "广电"]
STRATEGIES = ["sequential", "round_robin", "weighted", "random", "least_busy", "ring_all", "region"]
SERVED = ["4001234567", "4008888888", "8001689527", "01012345678"]


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def hours(draw: st.DrawFn) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(0, 48), min_size=0, max_size=4)))
    cuts = cuts[: len(cuts) // 2 * 2]
    return [f"{hhmm(a * 30)}-{hhmm(b * 30)}" for a, b in zip(cuts[::2], cuts[1::2], strict=True) if b > a]


@st.composite
def schedule(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"hours": {}}
    for key in draw(st.sets(st.sampled_from(["workday", "sat", "sun", "holiday", "all"]), min_size=1)):
        out["hours"][key] = draw(hours())
    if draw(st.booleans()):
        out["calendar"] = "cn"
    return out


@st.composite
def action(draw: st.DrawFn, groups: list[str], menus: list[str]) -> dict[str, Any]:
    kinds = (
        ["announce", "voicemail", "reject"]
        + (["forward"] * 3 if groups else [])
        + (["menu"] if menus else [])
    )
    k = draw(st.sampled_from(kinds))
    if k == "forward":
        return {"forward": draw(st.sampled_from(groups))}
    if k == "menu":
        return {"menu": draw(st.sampled_from(menus))}
    if k == "reject":
        return {"reject": {"code": draw(st.sampled_from([480, 486, 603])), "reason": "closed"}}
    return {k: draw(st.sampled_from(["p1", "p2"]))}


@st.composite
def when(draw: st.DrawFn, schedules: list[str], lists: list[str]) -> dict[str, Any]:
    w: dict[str, Any] = {}
    for cond in draw(
        st.sets(
            st.sampled_from(
                [
                    "schedule",
                    "not_schedule",
                    "caller_region",
                    "caller_pattern",
                    "caller_list",
                    "caller_kind",
                    "carrier",
                    "dates",
                ]
            ),
            min_size=1,
            max_size=2,
        )
    ):
        if cond in ("schedule", "not_schedule"):
            w[cond] = draw(st.sampled_from(schedules))
        elif cond == "caller_region":
            w[cond] = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True))
        elif cond == "caller_pattern":
            w[cond] = draw(
                st.lists(
                    st.sampled_from(["_1380013XXXX", "0755", "_1[35]X.", "_0!", "139"]),
                    min_size=1,
                    max_size=2,
                    unique=True,
                )
            )
        elif cond == "caller_list":
            w[cond] = draw(st.sampled_from(lists))
        elif cond == "caller_kind":
            w[cond] = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
        elif cond == "carrier":
            w[cond] = draw(st.lists(st.sampled_from(CARRIERS), min_size=1, max_size=2, unique=True))
        else:
            start = dt.date(2026, 11, 1) + dt.timedelta(days=draw(st.integers(0, 20)))
            w[cond] = {
                "from": start.isoformat(),
                "until": (start + dt.timedelta(days=draw(st.integers(0, 10)))).isoformat(),
            }
    return w


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    schedules = {f"s{i}": draw(schedule()) for i in range(draw(st.integers(1, 3)))}
    lists = {
        "vip": {
            "numbers": draw(st.lists(st.sampled_from(MOBILES + LANDLINES), max_size=3, unique=True))
            or ["13800000001"]
        },
        "bad": {
            "numbers": draw(st.lists(st.sampled_from(MOBILES), min_size=1, max_size=2, unique=True)),
            "reason": "诈骗",
        },
        "virt": {"patterns": ["_170XXXXXXXX", "_171XXXXXXXX"]},
    }
    plan: dict[str, Any] = {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "schedules": schedules,
        "lists": lists,
        "blocklists": draw(st.lists(st.sampled_from(["bad"]), max_size=1)),
        "rates": {"default": {"mobile": 0.2, "landline": 0.15, "sip": 0.05}, "cheap": {"mobile": 0.1}},
        "tenants": {},
    }
    served = draw(st.lists(st.sampled_from(SERVED), min_size=1, max_size=3, unique=True))
    n_tenants = draw(st.integers(1, 2))
    for ti in range(n_tenants):
        group_names = [f"g{i}" for i in range(draw(st.integers(1, 3)))]
        menu_names = [f"m{i}" for i in range(draw(st.integers(0, 2)))]
        groups: dict[str, Any] = {}
        for gi, g in enumerate(group_names):
            targets = []
            for number in draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=4, unique=True)):
                t: dict[str, Any] = {"number": number}
                if draw(st.booleans()):
                    t["ring_seconds"] = draw(st.integers(5, 40))
                if draw(st.integers(0, 3)) == 0:
                    t["weight"] = draw(st.integers(0, 4))
                if draw(st.integers(0, 3)) == 0:
                    t["max_calls"] = draw(st.integers(1, 2))
                if draw(st.integers(0, 4)) == 0:
                    t["schedule"] = draw(st.sampled_from(sorted(schedules)))
                if draw(st.booleans()):
                    t["regions"] = draw(
                        st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True)
                    )
                targets.append(t)
            if draw(st.integers(0, 5)) == 0:
                targets.append({"uri": "sip:desk@127.0.0.1:5080"})
            group: dict[str, Any] = {"strategy": draw(st.sampled_from(STRATEGIES)), "targets": targets}
            later = group_names[gi + 1 :]
            if draw(st.booleans()):
                group["overflow"] = draw(action(later, []))
            # A random order truncated cannot be compared as a set: no max_targets on random groups.
            if group["strategy"] != "random" and draw(st.integers(0, 4)) == 0:
                group["max_targets"] = draw(st.integers(1, 3))
            groups[g] = group
        menus: dict[str, Any] = {}
        for mi, m in enumerate(menu_names):
            deeper = menu_names[mi + 1 :]
            options = {
                k: draw(action(group_names, deeper))
                for k in draw(st.sets(st.sampled_from("0123#"), min_size=1, max_size=3))
            }
            menu: dict[str, Any] = {"prompt": f"prompt_{m}", "options": options}
            if draw(st.booleans()):
                menu["invalid"] = draw(action(group_names, deeper))
            if draw(st.booleans()):
                menu["timeout"] = draw(action(group_names, deeper))
            menus[m] = menu
        tenant: dict[str, Any] = {
            "name": f"tenant {ti}",
            "display": {"name": f"T{ti}", "tag": "热线"},
            "groups": groups,
            "menus": menus,
            "numbers": {},
        }
        if draw(st.booleans()):
            tenant["display"]["certified_until"] = draw(st.sampled_from(["2026-11-10", "2026-12-31"]))
        if draw(st.booleans()):
            tenant["tags"] = [{"tag": "活动", "from": "2026-11-05", "until": "2026-11-12"}]
        if draw(st.booleans()):
            tenant["blocklists"] = ["virt"]
        if draw(st.booleans()):
            tenant["allowlists"] = ["vip"]
        if draw(st.booleans()):
            tenant["limits"] = {"per_caller": {"calls": draw(st.integers(1, 3)), "window_seconds": 60}}
        if draw(st.booleans()):
            tenant["package"] = {"rates": draw(st.sampled_from(["default", "cheap"]))}
        for number in served[ti::n_tenants]:
            flow = []
            for ri in range(draw(st.integers(0, 3))):
                rule = {"id": f"rule{ri}", "when": draw(when(sorted(schedules), sorted(lists)))}
                rule.update(draw(action(group_names, menu_names)))
                flow.append(rule)
            last: dict[str, Any] = draw(action(group_names, menu_names))
            flow.append(last)
            tenant["numbers"][number] = {"flow": flow}
        plan["tenants"][f"t{ti}"] = tenant
    return plan


@st.composite
def traffic(draw: st.DrawFn, plan: dict[str, Any]) -> list[dict[str, Any]]:
    served = [n for t in plan["tenants"].values() for n in t["numbers"]]
    start = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    t = start + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 25)))
    steps: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 8))):
        t += dt.timedelta(seconds=draw(st.sampled_from([0, 5, 30, 600, 3600 * 5])))
        if steps and draw(st.integers(0, 3)) == 0:
            steps.append(
                {
                    "event": {
                        "call_id": f"c{draw(st.integers(0, i))}",
                        "type": draw(st.sampled_from(["ANSWERED", "ENDED"])),
                        "target": draw(st.sampled_from(TARGETS)),
                        "time": t.isoformat(),
                    }
                }
            )
            continue
        steps.append(
            {
                "request": {
                    "call_id": f"c{i}",
                    "called": draw(st.sampled_from(served)),
                    "caller": draw(st.sampled_from(MOBILES + LANDLINES + OTHER_CALLERS)),
                    "digits": draw(st.sampled_from(["", "", "1", "2", "0", "#", "T", "12", "1T", "3", "21"])),
                    "time": t.isoformat(),
                }
            }
        )
    return steps


def _comparable(d: dict[str, Any], random_groups: bool) -> dict[str, Any]:
    keep = ["action", "parallel", "prompt", "voicemail_box", "tenant", "rule"]
    out = {k: d.get(k) for k in keep}
    targets = [
        (t.get("number") or "", t.get("uri") or "", t["ring_seconds"], round(t["rate_per_minute"], 9))
        for t in d.get("targets") or []
    ]
    out["targets"] = sorted(targets) if random_groups else targets
    # An absent message and an empty one are the same on the wire.
    menu = d.get("menu") or None
    out["menu"] = (menu["id"], menu["prompt"], sorted(menu["keys"])) if menu and menu["id"] else None
    rej = d.get("reject") or None
    out["reject"] = (rej["sip_code"], rej["reason"]) if rej and rej["sip_code"] else None
    out["display"] = d.get("display")
    out["caller"] = d.get("caller")
    cc = d.get("called_class") or {}
    out["called_class"] = (cc.get("class", ""), sorted(cc.get("tags", [])))
    return out


@settings(max_examples=150)
@given(data=st.data())
def test_engine_agrees_with_reference_model(data: st.DataObject) -> None:
    plan = data.draw(plans(), label="plan")
    steps = data.draw(traffic(plan), label="steps")
    try:
        engine = routecore.Engine.from_dict(plan)
    except routecore.PlanError as e:
        # The generator aims at valid plans; the few the checker refuses (e.g. a schedule
        # whose every day type is closed) are not decisions to compare.
        reject()
        raise AssertionError("unreachable") from e
    model = ReferenceModel(plan)
    has_random = any(
        g["strategy"] == "random" for t in plan["tenants"].values() for g in t["groups"].values()
    )
    for step in steps:
        if "event" in step:
            ev = step["event"]
            engine.report(ev["call_id"], ev["type"], ev["target"], at=ev["time"])
            model.report(ev["call_id"], ev["type"], ev["target"], at=ev["time"])
            continue
        r = step["request"]
        try:
            want: Any = _comparable(
                model.route(r["called"], r["caller"], r["digits"], r["time"], r["call_id"]), has_random
            )
        except ReferenceError as e:
            want = e.code
        try:
            got: Any = _comparable(
                decision_dict(engine.route(r["called"], r["caller"], r["digits"], r["time"], r["call_id"])),
                has_random,
            )
        except routecore.NotFoundError:
            got = "NOT_FOUND"
        except (routecore.InvalidNumberError, routecore.InvalidArgumentError):
            got = "INVALID_ARGUMENT"
        assert got == want, f"request {r}"
