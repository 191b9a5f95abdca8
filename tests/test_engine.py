"""The Python API of the engine (rust/engine/*, rust/bindings/engine.rs, python/routecore/engine.py)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import routecore

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"
AT = "2026-11-11T10:00:00+08:00"


@pytest.fixture(scope="module")
def engine() -> routecore.Engine:
    return routecore.Engine.from_file(SPEC / "plan.yaml")


def test_errors_name_the_field_and_the_reason(engine: routecore.Engine) -> None:
    with pytest.raises(routecore.InvalidNumberError, match=r"called: .*'A' at position 8"):
        engine.route("40012345AB", "13800138000", at=AT)
    with pytest.raises(routecore.InvalidNumberError, match=r"caller: .*'a' at position 3"):
        engine.route("4001234567", "138abc", at=AT)
    with pytest.raises(routecore.InvalidArgumentError, match="called: the called number is empty"):
        engine.route("anonymous", "13800138000", at=AT)
    with pytest.raises(routecore.InvalidArgumentError, match=r"digits: character 'x' at position 1"):
        engine.route("4001234567", "13800138000", digits="1x", at=AT)
    with pytest.raises(routecore.InvalidArgumentError, match='at: "yesterday" is not ISO 8601'):
        engine.route("4001234567", "13800138000", at="yesterday")
    with pytest.raises(routecore.InvalidArgumentError, match="at: expected a datetime"):
        engine.route("4001234567", "13800138000", at=[1])  # type: ignore[arg-type]
    # A call id an event could not report is refused when routing too (as the servers refuse it).
    with pytest.raises(routecore.InvalidArgumentError, match=r"^call_id: longer than 256 characters"):
        engine.route("4001234567", "13800138000", at=AT, call_id="x" * 257)
    with pytest.raises(routecore.InvalidArgumentError, match=r"^call_id: longer than 256 characters"):
        engine.report("x" * 257, "ENDED", at=AT)
    assert engine.route("4001234567", "13800138000", at=AT, call_id="呼" * 256).call_id == "呼" * 256
    unprintable = r"^call_id: U\+000A at position 2 is a control or invisible character"
    with pytest.raises(routecore.InvalidArgumentError, match=unprintable):
        engine.route("4001234567", "13800138000", at=AT, call_id="c1\n")
    with pytest.raises(routecore.InvalidArgumentError, match=unprintable):
        engine.report("c1\n", "ENDED", at=AT)
    with pytest.raises(routecore.InvalidArgumentError, match=r"at: expected a datetime.*got bool"):
        engine.route("4001234567", "13800138000", at=True)
    with pytest.raises(routecore.InvalidArgumentError, match=r"^duration_seconds: 100000000000000000000 is"):
        engine.report("c1", "ENDED", "13800000010", at=AT, duration_seconds=10**20)
    # As ReportCall and Python refuse them: an offset of 24 hours or more, and year 0.
    with pytest.raises(routecore.InvalidArgumentError, match=r"\+99:99\" is not ISO 8601"):
        engine.route("4001234567", "13800138000", at="2026-11-11T02:00:00+99:99")
    with pytest.raises(routecore.InvalidArgumentError, match="not between the years 1 and 9999"):
        engine.route("4001234567", "13800138000", at="0000-01-01T00:00:00")
    # A huge number of seconds is shown short, not digit by digit.
    with pytest.raises(routecore.InvalidArgumentError, match=r"^at: 1e300 seconds since the epoch is not"):
        engine.route("4001234567", "13800138000", at=1e300)
    with pytest.raises(routecore.NotFoundError, match="4009999999 is not served"):
        engine.route("4009999999", "13800138000", at=AT)
    # Both numbers are checked for format before the lookup.
    with pytest.raises(routecore.InvalidNumberError):
        engine.route("4009999999", "1380x", at=AT)


def test_every_time_form_means_the_same_instant(engine: routecore.Engine) -> None:
    aware = dt.datetime(2026, 11, 11, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    forms = [
        AT,
        "2026-11-11T10:00:00",
        "2026-11-11 02:00:00Z",
        aware,
        aware.replace(tzinfo=None),
        aware.timestamp(),
        int(aware.timestamp()),
    ]
    # Anonymous callers are not rate limited, so the seven calls all reach the flow.
    rules = {engine.route("4001234567", "", at=f).rule for f in forms}
    assert rules == {"open"}
    assert engine.route("4001234567", "13800138000", at="2026-11-11T12:30:00").rule == "closed"
    # `instant` is what the record store takes: each form, the same aware UTC instant.
    assert {engine.instant(f) for f in forms} == {aware}
    assert engine.instant(forms[0]).tzinfo == dt.UTC


@pytest.mark.parametrize(
    "given",
    [
        "0001-01-01T00:00:00+08:00",
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-12))),
        -62135596801,
    ],
)
def test_a_time_outside_the_years_1_to_9999_is_refused_in_every_form(
    engine: routecore.Engine, given: object
) -> None:
    """Whatever the form, an instant before the year 1 or after 9999 (UTC) is an
    InvalidArgumentError naming `at`, for a decision and for the record store's `instant` alike."""
    for call in (lambda: engine.route("4001234567", "", at=given), lambda: engine.instant(given)):
        with pytest.raises(
            routecore.InvalidArgumentError, match=r"^at: .* is not between the years 1 and 9999"
        ):
            call()  # type: ignore[no-untyped-call]


def test_explain_names_every_rule_considered(engine: routecore.Engine) -> None:
    d = engine.route("4001234567", "13800138000", at="2026-11-11T12:30:00+08:00", explain=True)
    text = "\n".join(d.trace)
    assert "rule vip: caller_list clinic_vip does not hold" in text
    assert "rule open: schedule office" in text and "does not hold" in text
    assert "rule closed holds" in text
    assert engine.route("4001234567", "13800138000", at=AT).trace == []


def test_route_many_columns_dicts_and_errors(engine: routecore.Engine) -> None:
    out = engine.route_many(called=["4001234567", "4009999999", "x"], caller=["13800138000"] * 3, at=[AT] * 3)
    assert [d.action for d in out] == ["MENU", "", ""]
    assert out[0].error is None
    assert out[1].error is not None and out[1].error.code == "NOT_FOUND"
    assert out[2].error is not None and out[2].error.code == "INVALID_ARGUMENT"
    fields = "fields: called, caller, digits, at, time, call_id, explain"
    with pytest.raises(routecore.InvalidArgumentError) as refused:
        engine.route_many([{"called": "4001234567"}, {"called": "4001234567", "calller": "13800138000"}])
    assert str(refused.value) == (
        f"requests[1]: 'calller': not a field of a route request (did you mean 'caller'? {fields})"
    )
    # Nothing near, or a key that is no str: the fields alone.
    for key, shown in [("zzz", "'zzz'"), (5, "5")]:
        with pytest.raises(routecore.InvalidArgumentError) as refused:
            engine.route_many([{"called": "4001234567", key: "x"}])  # type: ignore[dict-item]
        assert str(refused.value) == f"requests[0]: {shown}: not a field of a route request ({fields})"
    dicts = engine.route_many([{"called": "4001234567", "caller": "13800138000", "time": AT, "digits": "1"}])
    assert dicts[0].action == "FORWARD"
    with pytest.raises(ValueError, match="column `caller` has 1 items"):
        engine.route_many(called=["4001234567", "4001234567"], caller=["1"])
    with pytest.raises(TypeError, match="caller: expected a sequence of str, got int"):
        engine.route_many(called=["4001234567"], caller=5)  # type: ignore[arg-type]


def test_route_many_takes_numpy_columns(engine: routecore.Engine) -> None:
    # A simulation's columns often come from numpy or pandas: str_ items, datetime64 (naive, so
    # in the plan's zone, as a naive datetime is) and integer or float seconds.
    import numpy as np

    called = np.array(["4001234567"] * 3)
    caller = np.array(["13800138000"] * 3)
    local = ["2026-11-11T10:00:00", "2026-11-11T12:30:00", "2026-11-11T16:00:00"]
    expected = [engine.route("4001234567", "", at=t).rule for t in local]
    assert expected == ["open", "closed", "open"]
    stamps = np.array(local, dtype="datetime64[s]")
    shanghai = ZoneInfo("Asia/Shanghai")
    seconds = [int(dt.datetime.fromisoformat(t).replace(tzinfo=shanghai).timestamp()) for t in local]
    ints, floats = np.array(seconds, dtype=np.int64), np.array(seconds, dtype=np.float32) + 0.25
    for at in (stamps, stamps.astype("datetime64[ns]"), ints, ints.astype(np.int32), floats):
        out = engine.route_many(called=called, caller=np.array([""] * 3), at=at)
        assert [d.rule for d in out] == expected, at.dtype
    gaps = np.array(["NaT", local[0], "NaT"], dtype="datetime64[s]")
    out = engine.route_many(called=called, caller=caller, at=gaps)
    assert [d.error.message if d.error else None for d in out] == [
        "InvalidArgumentError: at: NaT (not a time)",
        None,
        "InvalidArgumentError: at: NaT (not a time)",
    ]
    with pytest.raises(routecore.InvalidArgumentError, match="got bool"):
        engine.route("4001234567", "13800138000", at=np.True_)  # numpy's bool has __float__
    with pytest.raises(TypeError, match=r"caller\[0\]: expected a str, got int64"):
        engine.route_many(called=called, caller=np.array([13800138000] * 3), at=stamps)


def test_report_validates_events(engine: routecore.Engine) -> None:
    with pytest.raises(routecore.InvalidArgumentError, match='type: "RINGING" is not an event type'):
        engine.report("c1", "RINGING", "13500000011", at=AT)
    with pytest.raises(routecore.InvalidArgumentError, match="call_id"):
        engine.report("", "ANSWERED", "13500000011", at=AT)
    with pytest.raises(routecore.InvalidNumberError, match="target"):
        engine.report("c1", "ANSWERED", "13x", at=AT)
    engine.report("c1", "ENDED", "13500000011", at=AT)  # unknown call: changes nothing, no error


def test_reload_keeps_state_and_a_bad_plan_keeps_the_old_one(tmp_path: Path) -> None:
    engine = routecore.Engine.from_file(SPEC / "plan.yaml")
    first = [engine.route("4001234567", "13800138000", digits="2", at=AT).targets[0].number for _ in range(2)]
    old = engine.version
    text = (SPEC / "plan.yaml").read_text(encoding="utf-8").replace("clinic_closed", "clinic_shut")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "fraud.txt").write_bytes((SPEC / "lists" / "fraud.txt").read_bytes())
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    new = engine.reload(tmp_path / "plan.yaml")
    assert new != old and engine.version == new
    # Round-robin positions survive the reload: the third call continues the rotation.
    third = engine.route("4001234567", "13800138000", digits="2", at=AT).targets[0].number
    assert [*first, third] == ["13800000020", "13800000021", "13800000022"]
    assert engine.route("4001234567", "13800138000", at="2026-11-11T12:30:00").prompt == "clinic_shut"
    (tmp_path / "plan.yaml").write_text(
        text.replace("strategy: weighted", "strategy: fastest"), encoding="utf-8"
    )
    with pytest.raises(routecore.PlanError, match="strategy"):
        engine.reload(tmp_path / "plan.yaml")
    assert engine.version == new


def test_routing_during_continuous_reloads_sees_exactly_one_plan(tmp_path: Path) -> None:
    base = (SPEC / "plan.yaml").read_text(encoding="utf-8")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "fraud.txt").write_bytes((SPEC / "lists" / "fraud.txt").read_bytes())
    plans = {}
    for prompt in ("closed_a", "closed_b"):
        path = tmp_path / f"{prompt}.yaml"
        path.write_text(base.replace("clinic_closed", prompt), encoding="utf-8")
        plans[prompt] = path
    engine = routecore.Engine.from_file(plans["closed_a"])
    versions = {routecore.Engine.from_file(p).version: prompt for prompt, p in plans.items()}
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for d in engine.route_many(
                called=["4001234567"] * 200, caller=[""] * 200, at=["2026-11-11T12:30:00"] * 200
            ):
                if d.error is not None or versions.get(d.plan_version) != d.prompt:
                    failures.append(f"{d.plan_version} answered {d.prompt}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(20):
        engine.reload(plans["closed_b" if i % 2 == 0 else "closed_a"])
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures[:5]


def test_demo_plan_routes() -> None:
    engine = routecore.Engine.demo()
    d = engine.route("4006666666", "15907550000", at=AT)
    assert d.action == "FORWARD" and d.targets[0].number == "075586000100"
    assert engine.route("4001234567", "13700000000", at=AT).reject.reason == "诈骗"  # type: ignore[union-attr]


def _menu_plan(overflow: bool = False) -> dict[str, Any]:
    """One menu `a` (1 → voicemail, 2 → announce, no timeout/invalid: both replay), reached
    straight from the flow or through the overflow of a group whose only target is off shift."""
    action = {"forward": "g"} if overflow else {"menu": "a"}
    return {
        "version": 1,
        "schedules": {"never": {"hours": {"all": ["00:00-00:01"]}}},
        "tenants": {
            "t": {
                "groups": {
                    "g": {
                        "targets": [{"number": "13800000010", "schedule": "never"}],
                        "overflow": {"menu": "a"},
                    }
                },
                "menus": {
                    "a": {"prompt": "pa", "options": {"1": {"voicemail": "box"}, "2": {"announce": "bye"}}}
                },
                "numbers": {"4001234567": {"flow": [action]}},
            }
        },
    }


def _outcome(d: routecore.Decision) -> tuple[str, str]:
    return d.action, d.menu.id if d.menu else d.voicemail_box or d.prompt


@pytest.mark.parametrize("overflow", [False, True], ids=["flow", "overflow"])
@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("", ("MENU", "a")),
        ("1", ("VOICEMAIL", "box")),
        ("2", ("ANNOUNCE", "bye")),
        ("T", ("MENU", "a")),
        ("9", ("MENU", "a")),
        # The replayed menu takes the next key as if it were the first.
        ("T1", ("VOICEMAIL", "box")),
        ("91", ("VOICEMAIL", "box")),
        ("9T#2", ("ANNOUNCE", "bye")),
        ("T" * 40 + "1", ("VOICEMAIL", "box")),
        ("21", ("ANNOUNCE", "bye")),  # keys after an action that is not a menu are ignored
    ],
)
def test_menus_replay_and_take_the_next_key_also_after_an_overflow(
    overflow: bool, digits: str, expected: tuple[str, str]
) -> None:
    engine = routecore.Engine.from_dict(_menu_plan(overflow))
    assert _outcome(engine.route("4001234567", "13900000000", digits=digits, at=AT)) == expected


def _capped_plan(target: dict[str, Any]) -> dict[str, Any]:
    spare = {"number": "13800000020"}
    return {
        "version": 1,
        "tenants": {
            "t": {
                "groups": {"g": {"targets": [{**target, "max_calls": 1}, spare]}},
                "numbers": {"4001234567": {"flow": [{"forward": "g"}]}},
            }
        },
    }


@pytest.mark.parametrize(
    ("target", "reported"),
    [
        ({"uri": "sip:13800000009@gw"}, "sip:13800000009@gw"),
        ({"uri": "sip:13800000009@gw"}, "13800000009"),
        ({"number": "13800000009"}, "sip:13800000009@10.0.0.1"),
        ({"uri": "sip:desk@pbx.example"}, "sip:desk@pbx.example"),
        ({"uri": "sip:8001@pbx-a"}, "sip:8001@pbx-a"),
        ({"number": "4008888888"}, "sip:4008888888@127.0.0.1:5070"),  # the HTTP answer's `uri`
    ],
)
def test_a_slot_belongs_to_the_normalised_target_however_it_is_spelled(
    target: dict[str, Any], reported: str
) -> None:
    engine = routecore.Engine.from_dict(_capped_plan(target))

    def offered() -> list[str]:
        d = engine.route("4001234567", "13900000000", at=AT, call_id="next")
        return [t.number or t.uri for t in d.targets]

    assert len(offered()) == 2
    engine.report("c1", "ANSWERED", reported, at=AT)
    assert offered() == ["13800000020"]
    engine.report("c1", "ENDED", reported, at=AT, duration_seconds=30)
    assert len(offered()) == 2


def test_an_extension_is_its_pbxs_alone() -> None:
    """`sip:8001@pbx-a` and `sip:8001@pbx-b` are two phones: 8001 is no mobile, landline or
    international number, so each URI holds its own slots."""
    plan = _capped_plan({"uri": "sip:8001@pbx-a"})
    plan["tenants"]["t"]["groups"]["g"]["targets"][1] = {"uri": "sip:8001@pbx-b", "max_calls": 1}
    engine = routecore.Engine.from_dict(plan)
    engine.report("c1", "ANSWERED", "sip:8001@pbx-a", at=AT)
    d = engine.route("4001234567", "13900000000", at=AT, call_id="next")
    assert [t.uri for t in d.targets] == ["sip:8001@pbx-b"]


def test_an_unanswered_call_ends_without_a_target(engine: routecore.Engine) -> None:
    engine.report("c9", "ENDED", "", at=AT)  # rejected or nobody answered: no slot, no error
    engine.report(call_id="c8", type="ENDED", at=AT, duration_seconds=0)  # the target may be left out
    with pytest.raises(routecore.InvalidArgumentError, match="ANSWERED event needs the answering target"):
        engine.report("c9", "ANSWERED", "", at=AT)


def test_an_ended_without_target_frees_what_the_call_answered() -> None:
    """A switch that reports ENDED without the target still frees the slot its call took: the
    engine kept the call's decision, and ends the call on each of its targets."""
    engine = routecore.Engine.from_dict(_capped_plan({"number": "13800000009"}))
    first = engine.route("4001234567", "13900000000", at=AT, call_id="c1")
    assert [t.number for t in first.targets] == ["13800000009", "13800000020"]
    engine.report("c1", "ANSWERED", "13800000009", at=AT)
    assert len(engine.route("4001234567", "13900000000", at=AT, call_id="c2").targets) == 1
    engine.report("c1", "ENDED", "", at=AT, duration_seconds=60)
    assert len(engine.route("4001234567", "13900000000", at=AT, call_id="c3").targets) == 2

    # The same when the engine no longer keeps (or never had) the call's decision: the switch
    # reports a call this node did not route; its ENDED frees the slot by the call id.
    other = routecore.Engine.from_dict(_capped_plan({"number": "13800000009"}))
    other.report("c9", "ANSWERED", "13800000009", at=AT)
    assert other.recall("c9") is None
    assert len(other.route("4001234567", "13900000000", at=AT).targets) == 1
    other.report("c9", "ENDED", "", at=AT, duration_seconds=60)
    assert len(other.route("4001234567", "13900000000", at=AT).targets) == 2
    # ENDED without a target overtaking its ANSWERED (the switch's two paths racing): the late
    # ANSWERED takes no slot.
    other.route("4001234567", "13900000000", at=AT, call_id="c10")
    other.report("c10", "ENDED", "", at=AT)
    other.report("c10", "ANSWERED", "13800000009", at=AT)
    assert len(other.route("4001234567", "13900000000", at=AT).targets) == 2


def test_groups_whose_names_join_alike_keep_their_own_rotation() -> None:
    def tenant(group: str, numbers: list[str], called: str) -> dict[str, Any]:
        targets = [{"number": n} for n in numbers]
        return {
            "groups": {group: {"strategy": "round_robin", "targets": targets}},
            "numbers": {called: {"flow": [{"forward": group}]}},
        }

    plan = {
        "version": 1,
        "tenants": {
            "a": tenant("b/c", ["13800000001", "13800000002"], "4001111111"),
            "a/b": tenant("c", ["13800000003", "13800000004"], "4002222222"),
        },
    }
    engine = routecore.Engine.from_dict(plan)
    firsts = [
        engine.route(called, "13900000000", at=AT).targets[0].number
        for called in ["4001111111", "4002222222"] * 2
    ]
    assert firsts == ["13800000001", "13800000003", "13800000002", "13800000004"]


def test_a_long_overflow_chain_reaches_its_end() -> None:
    """`check` refuses overflow cycles, not long chains: 20 groups whose targets are off shift,
    each overflowing to the next, end on the last one's target."""
    groups: dict[str, Any] = {
        f"g{i}": {
            "targets": [{"number": f"138000000{i:02d}", "schedule": "never"}],
            "overflow": {"forward": f"g{i + 1}"},
        }
        for i in range(20)
    }
    groups["g20"] = {"targets": [{"number": "13900000020"}]}
    plan = {
        "version": 1,
        "schedules": {"never": {"hours": {"all": ["00:00-00:01"]}}},
        "tenants": {"t": {"groups": groups, "numbers": {"4001234567": {"flow": [{"forward": "g0"}]}}}},
    }
    d = routecore.Engine.from_dict(plan).route("4001234567", "13900000000", at=AT)
    assert (d.action, [t.number for t in d.targets]) == ("FORWARD", ["13900000020"])


LIMITED_PLAN = """
version: 1
timezone: Asia/Shanghai
schedules:
  day: {hours: {all: ["09:00-18:00"]}}
tenants:
  t:
    limits: {per_caller: {calls: 1, window_seconds: 60}}
    groups:
      desk:
        strategy: sequential
        targets: [{number: "13800000010", max_calls: 1}]
    numbers:
      "4001234567":
        flow:
          - {id: open, when: {schedule: day}, forward: desk}
          - {id: closed, reject: {code: 480, reason: closed}}
"""


def test_a_rejected_attempt_does_not_count_toward_the_per_caller_limit() -> None:
    """plan-format.md: "a rejected attempt does not count": a call the flow rejects (closed,
    or no target free) leaves the caller's window as it was; one that forwards counts."""
    engine = routecore.Engine.from_text(LIMITED_PLAN)

    def call(t: str, caller: str = "13900000001", call_id: str = "") -> Any:
        return engine.route("4001234567", caller, at=f"2026-11-11T{t}+08:00", call_id=call_id)

    assert call("08:59:40").reject.reason == "closed"
    assert call("08:59:50").reject.reason == "closed"
    assert call("09:00:00", call_id="c1").action == "FORWARD"  # the two closed calls did not count
    assert call("09:00:30").reject.reason == "rate_limited"
    # Another caller finds the only target busy (480 no_target): that attempt does not count either.
    engine.report("c1", "ANSWERED", target="13800000010", at="2026-11-11T09:00:05+08:00")
    assert call("09:00:40", caller="13900000002").reject.reason == "no_target"
    engine.report("c1", "ENDED", target="13800000010", at="2026-11-11T09:00:50+08:00")
    assert call("09:00:55", caller="13900000002").action == "FORWARD"
    trace = engine.route("4001234567", "13900000003", at="2026-11-11T08:00:00+08:00", explain=True).trace
    assert "per-caller limit: the call is rejected, so it does not count" in trace


def test_a_reject_reached_by_menu_keys_does_not_take_the_call_back() -> None:
    """The call was counted when it arrived (MENU); the keys continue it, so a REJECT they reach
    leaves it counted."""
    plan = LIMITED_PLAN.replace(
        "          - {id: open, when: {schedule: day}, forward: desk}\n",
        "          - {id: open, when: {schedule: day}, menu: m}\n",
    ).replace(
        "    numbers:\n",
        "    menus:\n      m: {prompt: p, options: {'1': {reject: {code: 486, reason: busy}}}}\n"
        "    numbers:\n",
    )
    engine = routecore.Engine.from_text(plan)
    at = "2026-11-11T10:00:00+08:00"
    assert engine.route("4001234567", "13900000001", at=at).action == "MENU"
    assert engine.route("4001234567", "13900000001", digits="1", at=at).reject.reason == "busy"
    again = engine.route("4001234567", "13900000001", at="2026-11-11T10:00:30+08:00")
    assert again.reject.reason == "rate_limited"
