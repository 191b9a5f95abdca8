"""The pure-Python reference model: every acceptance vector, plus semantics the vectors leave out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from reference import ReferenceError, ReferenceModel, ReferencePlanError, check_expect, run_case
from reference.numbers import classify, normalize, normalize_caller, region
from reference.patterns import matches
from reference.vectors import load_vectors

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec"
ACCEPTANCE = SPEC / "acceptance"
VECTORS = load_vectors(ACCEPTANCE / "vectors.jsonl") if ACCEPTANCE.is_dir() else []


def _route(model: ReferenceModel, request: Mapping[str, Any]) -> dict[str, Any]:
    return model.route(
        called=request["called"],
        caller=request["caller"],
        digits=request.get("digits", ""),
        at=request.get("time"),
        call_id=request.get("call_id", ""),
    )


def _report(model: ReferenceModel, event: Mapping[str, Any]) -> None:
    model.report(
        call_id=event["call_id"],
        type=event["type"],
        target=event["target"],
        at=event.get("time"),
        duration_seconds=event.get("duration_seconds", 0),
    )


def test_vectors_are_present() -> None:
    assert len(VECTORS) == 54


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_acceptance_vector(case: dict[str, Any]) -> None:
    model = ReferenceModel.from_file(ACCEPTANCE / "plan.yaml")
    problems = run_case(
        case,
        lambda r: _route(model, r),
        lambda e: _report(model, e),
        errors=(ReferenceError,),
    )
    assert problems == []


# ---------------------------------------------------------------------------------------------
# The checker itself must catch mismatches (it is reused by the engine's acceptance test).


def test_check_expect_reports_mismatches() -> None:
    decision = {
        "action": "FORWARD",
        "targets": [
            {"number": "13800000010", "uri": "", "ring_seconds": 20, "rate_per_minute": 0.2},
            {"number": "", "uri": "sip:a@b", "ring_seconds": 15, "rate_per_minute": 0.05},
        ],
        "menu": {"id": "", "prompt": "", "keys": []},
        "called_class": {"class": "top", "tags": ["repeat-7"]},
        "caller": {"kind": "mobile"},
    }
    assert check_expect(decision, {"targets": ["13800000010", "sip:a@b"], "rates": [0.2, 0.05]}) == []
    assert check_expect(decision, {"targets_set": ["sip:a@b", "13800000010"]}) == []
    assert check_expect(decision, {"targets": ["sip:a@b", "13800000010"]})
    assert check_expect(decision, {"rates": [0.2, 0.0500001]})
    assert check_expect(decision, {"ring_seconds": [20, 20]})
    assert check_expect(decision, {"called_class": {"class": "top", "tags_include": ["ABAB"]}})
    assert check_expect(decision, {"caller": {"kind": "landline"}})
    assert check_expect(decision, {"error": "NOT_FOUND"})
    assert check_expect(decision, {"bogus": 1})
    assert check_expect(ReferenceError("NOT_FOUND", "x"), {"error": "NOT_FOUND"}) == []
    assert check_expect(ReferenceError("NOT_FOUND", "x"), {"error": "INVALID_ARGUMENT"})
    assert check_expect(ReferenceError("NOT_FOUND", "x"), {"action": "MENU"})


# ---------------------------------------------------------------------------------------------
# Focused semantics the vectors do not cover.

AT = "2026-11-11T10:00:00+08:00"  # a Wednesday


def _plan(groups: dict[str, Any], flow: list[dict[str, Any]], **tenant: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "schedules": {"morning": {"hours": {"all": ["08:00-12:00"]}}},
        "rates": {"default": {"mobile": 0.1, "landline": 0.2, "sip": 0.3}, "gold": {"mobile": 0.5}},
        "tenants": {"t": {"groups": groups, "numbers": {"4001234567": {"flow": flow}}, **tenant}},
    }


def _targets(decision: dict[str, Any]) -> list[str]:
    return [t["number"] or t["uri"] for t in decision["targets"]]


def test_weighted_swrr_sequence() -> None:
    groups = {
        "g": {
            "strategy": "weighted",
            "targets": [{"number": "13500000001", "weight": 3}, {"number": "13500000002", "weight": 1}],
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    firsts = [_targets(model.route("4001234567", "13800138000", at=AT))[0][-1] for _ in range(8)]
    assert "".join(firsts).replace("1", "A").replace("2", "B") == "AABAAABA"


def test_weighted_zero_weight_last_and_never_first() -> None:
    groups = {
        "g": {
            "strategy": "weighted",
            "targets": [
                {"number": "13500000001", "weight": 0},
                {"number": "13500000002", "weight": 1},
                {"number": "13500000003", "weight": 2},
            ],
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    orders = [_targets(model.route("4001234567", "13800138000", at=AT)) for _ in range(3)]
    assert orders == [
        ["13500000003", "13500000002", "13500000001"],
        ["13500000002", "13500000003", "13500000001"],
        ["13500000003", "13500000002", "13500000001"],
    ]


def test_round_robin_skips_ineligible_but_still_rotates() -> None:
    groups = {
        "g": {
            "strategy": "round_robin",
            "targets": [
                {"number": "13500000001"},
                {"number": "13500000002", "schedule": "morning"},
                {"number": "13500000003"},
            ],
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    evening = "2026-11-11T20:00:00+08:00"
    got = [_targets(model.route("4001234567", "13800138000", at=evening)) for _ in range(4)]
    assert got == [
        ["13500000001", "13500000003"],
        ["13500000003", "13500000001"],  # start at index 1 (off shift), so 3 then 1
        ["13500000003", "13500000001"],
        ["13500000001", "13500000003"],
    ]
    assert _targets(model.route("4001234567", "13800138000", at=AT)) == [
        "13500000002",
        "13500000003",
        "13500000001",
    ]


def test_round_robin_does_not_advance_on_overflow() -> None:
    groups = {
        "g": {
            "strategy": "round_robin",
            "targets": [
                {"number": "13500000001", "schedule": "morning"},
                {"number": "13500000002", "schedule": "morning"},
            ],
            "overflow": {"voicemail": "box"},
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    assert model.route("4001234567", "13800138000", at="2026-11-11T20:00:00+08:00")["voicemail_box"] == "box"
    assert _targets(model.route("4001234567", "13800138000", at=AT)) == ["13500000001", "13500000002"]
    assert _targets(model.route("4001234567", "13800138000", at=AT)) == ["13500000002", "13500000001"]


MENU_GROUPS = {"g": {"targets": [{"number": "13500000001"}]}}
MENUS = {
    "main": {
        "prompt": "p_main",
        "options": {"1": {"forward": "g"}, "2": {"menu": "sub"}, "3": {"announce": "a3"}},
    },
    "sub": {
        "prompt": "p_sub",
        "options": {"1": {"announce": "sub1"}, "2": {"menu": "deep"}},
        "invalid": {"menu": "main"},
        "timeout": {"voicemail": "vm"},
    },
    "deep": {"prompt": "p_deep", "options": {"9": {"announce": "deep9"}}},
}


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("", ("MENU", "main")),
        ("3", ("ANNOUNCE", "a3")),
        ("31", ("ANNOUNCE", "a3")),  # keys after a non-menu action are ignored
        ("7", ("MENU", "main")),  # no `invalid`: replay the menu
        ("T", ("MENU", "main")),  # no `timeout`: replay
        ("73", ("ANNOUNCE", "a3")),  # the replayed menu takes the next key
        ("T73", ("ANNOUNCE", "a3")),
        ("2", ("MENU", "sub")),
        ("21", ("ANNOUNCE", "sub1")),
        ("2T", ("VOICEMAIL", "vm")),
        ("25", ("MENU", "main")),  # `invalid` leads to a menu: descend ...
        ("253", ("ANNOUNCE", "a3")),  # ... and keep walking with the next key
        ("25229", ("ANNOUNCE", "deep9")),
        ("22#", ("MENU", "deep")),
    ],
)
def test_menu_walk(digits: str, expected: tuple[str, str]) -> None:
    model = ReferenceModel(_plan(MENU_GROUPS, [{"menu": "main"}], menus=MENUS))
    d = model.route("4001234567", "13800138000", digits=digits, at=AT)
    action, what = expected
    assert d["action"] == action
    got = {"MENU": d["menu"]["id"], "ANNOUNCE": d["prompt"], "VOICEMAIL": d["voicemail_box"]}[action]
    assert got == what
    if action == "MENU":
        assert d["menu"]["prompt"] == MENUS[what]["prompt"]
        assert sorted(d["menu"]["keys"]) == sorted(MENUS[what]["options"])


def test_menu_keys_on_a_non_menu_action_are_ignored() -> None:
    model = ReferenceModel(_plan(MENU_GROUPS, [{"announce": "hello"}]))
    assert model.route("4001234567", "13800138000", digits="12T", at=AT)["prompt"] == "hello"


def test_display_expiry_and_tags() -> None:
    tenant = {
        "display": {"name": "N", "tag": "base", "certified_until": "2026-11-11"},
        "tags": [
            {"tag": "first", "from": "2026-11-01", "until": "2026-11-30"},
            {"tag": "second", "from": "2026-11-10", "until": "2026-11-11"},
        ],
    }
    model = ReferenceModel(_plan(MENU_GROUPS, [{"forward": "g"}], **tenant))

    def display(at: str) -> dict[str, Any]:
        return model.route("4001234567", "13800138000", at=at)["display"]

    # the certification holds through its last day, in the plan's timezone
    assert display("2026-11-11T23:59:00+08:00") == {"name": "N", "tag": "second", "certified": True}
    assert display("2026-11-11T16:30:00+00:00") == {"name": "", "tag": "first", "certified": False}
    assert display("2026-12-01T10:00:00") == {"name": "", "tag": "base", "certified": False}


def test_display_without_expiry_or_name() -> None:
    model = ReferenceModel(_plan(MENU_GROUPS, [{"forward": "g"}], display={"name": "N"}))
    assert model.route("4001234567", "1", at="2099-01-01T00:00:00")["display"] == {
        "name": "N",
        "tag": "",
        "certified": True,
    }
    model = ReferenceModel(_plan(MENU_GROUPS, [{"forward": "g"}], display={"tag": "only"}))
    assert model.route("4001234567", "1", at=AT)["display"] == {"name": "", "tag": "only", "certified": False}


def test_rate_table_fallback() -> None:
    groups = {
        "g": {
            "targets": [
                {"number": "13500000001"},
                {"number": "075586000000"},
                {"number": "95588"},
                {"uri": "sip:x@y"},
            ]
        }
    }

    def rates(**tenant: Any) -> list[float]:
        d = ReferenceModel(_plan(groups, [{"forward": "g"}], **tenant)).route("4001234567", "1", at=AT)
        return [t["rate_per_minute"] for t in d["targets"]]

    assert rates() == [0.1, 0.2, 0.2, 0.3]  # no package: the `default` table
    assert rates(package={"rates": "gold"}) == [0.5, 0.0, 0.0, 0.0]  # kinds missing from the table: 0
    assert rates(package={"rates": "missing"}) == [0.1, 0.2, 0.2, 0.3]
    plan = _plan(groups, [{"forward": "g"}])
    del plan["rates"]["default"]
    d = ReferenceModel(plan).route("4001234567", "1", at=AT)
    assert [t["rate_per_minute"] for t in d["targets"]] == [0.0] * 4


def test_slot_lease_uses_the_routing_groups_max_call_seconds() -> None:
    groups = {
        "g": {
            "strategy": "sequential",
            "max_call_seconds": 60,
            "targets": [{"number": "13500000001", "max_calls": 1}, {"number": "13500000002"}],
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    model.route("4001234567", "1", at="2026-11-11T10:00:00", call_id="c1")
    model.report("c1", "ANSWERED", "+86 135 0000 0001", at="2026-11-11T10:00:00")
    model.report("c1", "ANSWERED", "13500000001", at="2026-11-11T10:00:30")  # a duplicate: no change
    assert _targets(model.route("4001234567", "1", at="2026-11-11T10:00:59")) == ["13500000002"]
    assert _targets(model.route("4001234567", "1", at="2026-11-11T10:01:00"))[0] == "13500000001"
    # ENDED first, then a late ANSWERED for the same call: ignored
    model.report("c2", "ENDED", "13500000001", at="2026-11-11T10:02:00")
    model.report("c2", "ANSWERED", "13500000001", at="2026-11-11T10:02:01")
    assert _targets(model.route("4001234567", "1", at="2026-11-11T10:02:02"))[0] == "13500000001"
    model.report("c3", "ANSWERED", "nobody", at="2026-11-11T10:02:00")  # unknown target: ignored


def test_least_busy_breaks_ties_by_last_placed_first() -> None:
    groups = {
        "g": {
            "strategy": "least_busy",
            "targets": [{"number": "13500000001"}, {"number": "13500000002"}, {"number": "13500000003"}],
        }
    }
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    firsts = [_targets(model.route("4001234567", "1", at=AT))[0] for _ in range(4)]
    assert firsts == ["13500000001", "13500000002", "13500000003", "13500000001"]


def test_max_targets_and_ring_all() -> None:
    groups = {
        "g": {
            "strategy": "ring_all",
            "max_targets": 2,
            "targets": [{"number": "13500000001"}, {"number": "13500000002"}, {"number": "13500000003"}],
        }
    }
    d = ReferenceModel(_plan(groups, [{"forward": "g"}])).route("4001234567", "1", at=AT)
    assert d["parallel"] is True
    assert _targets(d) == ["13500000001", "13500000002"]


def test_overflow_chain_and_default_reject() -> None:
    groups = {
        "a": {"targets": [{"number": "13500000001", "schedule": "morning"}], "overflow": {"forward": "b"}},
        "b": {"targets": [{"number": "13500000002", "schedule": "morning"}]},
    }
    model = ReferenceModel(_plan(groups, [{"forward": "a"}]))
    assert _targets(model.route("4001234567", "1", at=AT)) == ["13500000001"]
    d = model.route("4001234567", "1", at="2026-11-11T13:00:00")
    assert d["action"] == "REJECT"
    assert d["reject"] == {"sip_code": 480, "reason": "no_target"}


def test_request_errors_in_order() -> None:
    model = ReferenceModel.from_file(ACCEPTANCE / "plan.yaml")
    cases = [
        (("", "138abc", "x"), "called"),
        (("anonymous", "138abc", "x"), "called"),
        (("4009999999", "138abc", "x"), "caller"),
        (("4009999999", "13800138000", "1a"), "digits"),
        (("4009999999", "13800138000", "1t"), "digits"),
    ]
    for (called, caller, digits), field in cases:
        with pytest.raises(ReferenceError) as info:
            model.route(called, caller, digits=digits, at=AT)
        assert (info.value.code, info.value.field) == ("INVALID_ARGUMENT", field)
    with pytest.raises(ReferenceError) as info:
        model.route("4009999999", "13800138000", digits="12*#T", at=AT)
    assert info.value.code == "NOT_FOUND"


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "+86 138 0013 8000",
        "tel:+86-138-0013-8000",
        "sip:13800138000@10.0.0.1;user=phone",
    ],
)
def test_normalize_accepted_forms(text: str) -> None:
    assert normalize(text).normalized == "13800138000"
    assert normalize(text).kind == "mobile"


@pytest.mark.parametrize(
    ("text", "normalized", "kind"),
    [
        ("+86 10 1234 5678", "01012345678", "landline"),
        ("+86 400 123 4567", "4001234567", "service"),
        ("+8612", "012", "unknown"),
        ("08981234567", "08981234567", "landline"),
        ("0898123456", "0898123456", "unknown"),
        ("0101234567", "0101234567", "unknown"),
        ("95588", "95588", "service"),
        ("110", "110", "service"),
        ("12", "12", "unknown"),
        ("0014155550100", "0014155550100", "international"),
        ("+999 1234", "009991234", "unknown"),
        ("sip:anonymous@anonymous.invalid", "", "anonymous"),
        ("Restricted", "", "anonymous"),
        ("--", "", "anonymous"),  # separators only: nothing shown
        ("tel:+86-138-0013-8000;phone-context=x", "13800138000", "mobile"),
        # decisions.md, "Numbers"
        ("+86 0755 8600 0000", "075586000000", "landline"),  # the trunk 0 already written
        ("86 010 1234 5678", "01012345678", "landline"),  # a bare 86 before a trunk-0 landline
        ("8608981234567", "08981234567", "landline"),
        ("860101234567", "860101234567", "unknown"),  # not a whole landline after the 86
        ("86000000", "86000000", "unknown"),  # 86 before a short code: a local number
        ("864001234567", "4001234567", "service"),
        ("+86 0086 138 0013 8000", "13800138000", "mobile"),  # a prefix after +86 starts the number
        ("0086 0044 20 7946 0000", "00442079460000", "international"),
        ("+86 00", "00", "unknown"),
        ("00", "00", "unknown"),
        ("86", "86", "unknown"),
        ("008612", "012", "unknown"),
        ("00012345678", "00012345678", "unknown"),  # no calling code starts with 0
        ("+014155550100", "00014155550100", "unknown"),
        ("000861380013800", "000861380013800", "unknown"),
        ("+86 000 1234", "0001234", "unknown"),
        ("+0", "000", "unknown"),
        ("+1" + "2" * 19, "001" + "2" * 19, "international"),  # + and 20 digits is a number
        ("001" + "2" * 19, "001" + "2" * 19, "international"),  # and so is its national form
        ("+1", "001", "unknown"),  # a calling code with nothing after it
    ],
)
def test_normalize_kinds(text: str, normalized: str, kind: str) -> None:
    number = normalize(text)
    assert (number.normalized, number.kind) == (normalized, kind)
    assert normalize(number.normalized or text) == number, "normalising twice changes nothing"


@pytest.mark.parametrize(
    "text",
    [
        "40012345AB",
        "+86+138",
        "138*1",
        "+",
        "１３８",
        "1" * 21,
        "+1" + "2" * 20,  # 21 digits after the +
        "001" + "2" * 20,  # 21 digits after the 00
        "+86",  # a country code with nothing after it
        "0086",
        "+86 0086",
        "tel:+86",
        "sip:13800138000",  # a sip URI without @ names a host: no user part
        "\udcff1",  # lone surrogates are not valid text, wherever they are
        "sip:13800138000@gw\udcff",
        " " * 250 + "13800138000",  # more than 256 bytes
    ],
)
def test_not_a_number(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a number"):
        normalize(text)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("1" * 21, "1" * 21),
        ("1" * 33, "1" * 32),  # its first 32 digits
        ("9" * 100_000, "9" * 32),
        ("+1" + "2" * 20, "001" + "2" * 20),  # a + is kept as 00, so normalising again gives it back
        ("+" + "3" * 40, "00" + "3" * 30),
        ("001" + "2" * 20, "001" + "2" * 20),
        ("+86", "0086"),  # a country code alone
        ("0086", "0086"),
        ("+86 0086", "00860086"),
        ("sip:" + "2" * 40 + "@10.0.0.1", "2" * 32),
    ],
)
def test_a_malformed_caller_is_unknown_kept_as_given(text: str, normalized: str) -> None:
    caller = normalize_caller(text)
    assert (caller.normalized, caller.kind) == (normalized, "unknown")
    assert normalize_caller(caller.normalized) == caller


def test_a_caller_has_no_byte_bound_but_garbage_is_refused() -> None:
    assert normalize_caller(" " * 300 + "13800138000").kind == "mobile"
    for garbage in ["1" * 33 + "x", "1" * 500 + "+1", "\udcff1"]:
        with pytest.raises(ValueError, match="not a number"):
            normalize_caller(garbage)
    # A SIP URI with no user part carries no number: no caller shown, the call goes on.
    assert normalize_caller("sip:13800138000").kind == "anonymous"


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("+1 415 555 0100", "US"),
        ("+1 416 555 0100", "CA"),  # NANP area codes decide
        ("+1 416 12", "CA"),
        ("+1 268 555 0100", "AG"),
        ("+1 012 345 6789", "US"),  # no area code: +1's main region
        ("+1" + "2" * 19, "US"),
        ("+7 712 345 6789", "KZ"),  # leading digits a region declares decide
        ("+7 495 123 4567", "RU"),
        ("+44 7624 123456", "IM"),
        ("+44 7624" + "1" * 14, "IM"),  # whatever the length
        ("+44 1534 123456", "GB"),  # JE is told apart only by validating the whole number
        ("+61 8 9164 1234", "AU"),  # and CX
        ("+39 06 698 12345", "VA"),
        ("+358 18 123456", "AX"),
        ("+800 1234 5678", ""),  # non-geographic: no ISO 3166 code
    ],
)
def test_country_of_an_international_caller(text: str, country: str) -> None:
    number = normalize(text)
    assert number.kind == "international"
    assert region(number).country == country


def test_landline_shapes_without_an_area_code_have_no_place() -> None:
    # 0138… has a landline's shape, but 13X is a mobile prefix, no area code.
    number = normalize("01380013800")
    assert number.kind == "landline"
    assert (region(number).province, region(number).city, region(number).country) == ("", "", "CN")
    assert (region(normalize("01012345678")).province, region(normalize("075586000000")).city) == (
        "北京",
        "深圳",
    )


@pytest.mark.parametrize(
    ("number", "klass", "tags"),
    [
        ("4008888888", "top", {"repeat-7"}),
        ("4001234567", "special", {"ascending-7"}),
        ("4001689527", "ordinary", set()),
        ("4001112233", "top", {"AABBCC", "AABB"}),
        ("4001121212", "top", {"ABABAB", "ABAB"}),
        ("4001123123", "top", {"ABCABC"}),
        ("4001235566", "special", {"AABB"}),
        ("4001231212", "special", {"ABAB"}),
        ("4001238888", "special", {"repeat-4"}),
        ("4001239888", "ordinary", {"repeat-3"}),
        ("8009876543", "special", {"descending-7"}),
        ("4009012345", "special", {"ascending-6"}),
        ("13800138000", "", set()),
    ],
)
def test_classify(number: str, klass: str, tags: set[str]) -> None:
    assert classify(number) == (klass, sorted(tags, key=classify(number)[1].index))


@pytest.mark.parametrize(
    ("pattern", "number", "ok"),
    [
        ("_1380013XXXX", "13800138000", True),
        ("_1380013XXXX", "138001380001", False),
        ("_NXXXXXX", "1234567", False),
        ("_ZXX", "101", True),
        ("_[1-5]X", "59", True),
        ("_[137]X", "29", False),
        ("_138.", "138", False),
        ("_138!", "138", True),
        ("0755", "075586000000", True),
        ("0755", "", False),
        ("", "", False),
    ],
)
def test_dial_patterns(pattern: str, number: str, ok: bool) -> None:
    assert matches(pattern, number) is ok


def test_plan_refuses_a_flow_that_can_leave_a_call_undecided() -> None:
    with pytest.raises(ReferencePlanError):
        ReferenceModel(_plan(MENU_GROUPS, [{"when": {"caller_kind": ["mobile"]}, "forward": "g"}]))


def test_naive_datetime_is_plan_local_time() -> None:
    groups = {"g": {"targets": [{"number": "13500000001", "schedule": "morning"}]}}
    model = ReferenceModel(_plan(groups, [{"forward": "g"}]))
    assert model.route("4001234567", "1", at=dt.datetime(2026, 11, 11, 9, 0))["action"] == "FORWARD"
    assert (
        model.route("4001234567", "1", at=dt.datetime(2026, 11, 11, 9, 0, tzinfo=dt.UTC))["action"]
        == "REJECT"
    )


def test_carrier_includes_virtual_operators_and_region_entries() -> None:
    flow = [
        {"id": "unicom", "when": {"carrier": ["联通"]}, "announce": "u"},
        {"id": "sz", "when": {"caller_region": ["广东/深圳"]}, "announce": "sz"},
        {"id": "gd", "when": {"caller_region": "广东"}, "announce": "gd"},
        {"id": "rest", "announce": "rest"},
    ]
    model = ReferenceModel(_plan(MENU_GROUPS, flow))

    def rule(caller: str) -> str:
        return model.route("4001234567", caller, at=AT)["rule"]

    virtual = model.route("4001234567", "17101230000", at=AT)["caller"]
    assert (virtual["carrier"], virtual["virtual_operator"]) == ("联通", True)
    assert rule("17101230000") == "unicom"  # 联通虚拟运营商 counts as 联通
    assert rule("15907550000") == "sz"  # 移动, 广东/深圳
    assert rule("13712340000") == "gd"  # 移动, 广东/东莞
    assert rule("075586000000") == "sz"  # a landline has a region too
    assert rule("") == "rest"  # anonymous: no carrier, no region


def test_the_reference_cn_calendar_agrees_with_the_engines() -> None:
    """The reference model reads chinesecalendar and joins weekends to holidays its own way;
    from 2006 on (before, the engine also reads `holidays`' fixes) the two agree day by day."""
    from reference.model import _cn_days_off
    from routecore.calendar import chinese_calendar_source, cn_special_days

    last = max(chinese_calendar_source().years)
    engine = {d for d, kind in cn_special_days(2006, last).items() if kind == "holiday"}
    assert engine == {d for d in _cn_days_off() if 2006 <= d.year <= last}
