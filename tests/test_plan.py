"""The plan loader and checker (python/routecore/plan/): acceptance plan, one fixture per class of
error (each fixture states the line, path and message it must produce), YAML/JSON equivalence, the
engine JSON, the committed JSON Schema, and the load time of a 10,000-tenant plan."""

from __future__ import annotations

import gc
import json
import re
import time
import zoneinfo
from pathlib import Path
from typing import Any

import orjson
import pytest
import routecore
import yaml
from rich.console import Console
from routecore.plan import (
    SCHEMA_PATH,
    _syntax,
    check_plan,
    load_plan,
    loader,
    plan_json_schema_text,
    render_report,
    synthetic_plan_text,
)

PLANS = Path(__file__).resolve().parent / "plans"
BAD = sorted(PLANS.glob("bad_*.yaml"))


def _expectations(path: Path, tag: str) -> list[tuple[int, str, str]]:
    """`# expect: LINE | PATH | MESSAGE` header lines of a fixture."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(rf"# {tag}: (\d+) \| (.*?) \| (.*)$", line)
        if m:
            out.append((int(m.group(1)), m.group(2).strip(), m.group(3).strip()))
    return out


@pytest.fixture(scope="module")
def acceptance(spec_dir: Path) -> Path:
    return spec_dir / "acceptance" / "plan.yaml"


def _no_holiday_warnings(issues: list[loader.PlanIssue]) -> list[loader.PlanIssue]:
    # the holiday data module (another helper's) may warn about years; nothing else is expected
    return [w for w in issues if "holiday data" not in w.message]


# --- the acceptance plan ---------------------------------------------------------------------------


def test_acceptance_plan_loads_clean(acceptance: Path) -> None:
    plan = load_plan(acceptance)
    assert _no_holiday_warnings(plan.warnings) == []
    assert plan.source == acceptance
    assert plan.base_dir == acceptance.parent.resolve()
    assert plan.list_texts["fraud"] == (acceptance.parent / "lists" / "fraud.txt").read_text(encoding="utf-8")
    assert plan.list_sizes["clinic_vip"] == 2
    assert re.fullmatch(r"[0-9a-f]{16}", plan.checksum)
    m = plan.model
    assert sorted(m.tenants) == ["clinic", "school", "shop"]
    doctors = m.tenants["clinic"].groups["doctors"]
    assert [t.ring_seconds for t in doctors.targets] == [20, 20, 20]  # default
    assert [t.weight for t in doctors.targets] == [1, 1, 1]
    assert doctors.max_call_seconds == 14400
    assert m.seed == 0
    report = check_plan(acceptance)
    assert report.ok
    assert report.summary is not None
    assert (report.summary.tenants, report.summary.numbers) == (3, 4)
    assert report.summary.checksum == plan.checksum


def test_checksum_covers_list_files(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "fraud.txt").write_text("13900000000\n", encoding="utf-8")
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", "version: 1\nlists:\n  fraud: {file: lists/fraud.txt}\nblocklists: [fraud]")
    )
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    first = load_plan(tmp_path / "plan.yaml").checksum
    assert load_plan(tmp_path / "plan.yaml").checksum == first
    (tmp_path / "lists" / "fraud.txt").write_text("13900000001\n", encoding="utf-8")
    assert load_plan(tmp_path / "plan.yaml").checksum != first


# --- one fixture per class of error ---------------------------------------------------------------


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_bad_fixture_reports_line_path_message(fixture: Path) -> None:
    expected = _expectations(fixture, "expect")
    expected_files = [
        (PLANS / f, int(line), path, msg)
        for f, line, path, msg in (
            [p.strip() for p in m.group(1).split("|")]
            for m in re.finditer(r"^# expect-file: (.*)$", fixture.read_text(encoding="utf-8"), re.M)
        )
    ]
    assert expected, f"{fixture.name} states no expectation"
    report = check_plan(fixture)
    assert not report.ok
    in_plan = [e for e in report.errors if e.file == str(fixture)]
    for line, path, message in expected:
        hits = [e for e in in_plan if e.line == line and e.path == path and message in e.message]
        assert hits, f"no error at line {line} {path!r} with {message!r}; got:\n" + "\n".join(
            map(str, in_plan)
        )
    for file, line, path, message in expected_files:
        hits = [
            e for e in report.errors if Path(e.file) == file.resolve() and e.line == line and e.path == path
        ]
        assert hits and message in hits[0].message, "\n".join(map(str, report.errors))
    # nothing else is reported: every error is stated by the fixture
    assert len(report.errors) == len(expected) + len(expected_files), "\n".join(map(str, report.errors))

    with pytest.raises(routecore.PlanError) as info:
        load_plan(fixture)
    err = info.value
    assert err.errors == report.errors  # type: ignore[attr-defined]
    assert err.file == str(fixture)  # type: ignore[attr-defined]
    for issue in report.errors:
        assert str(issue) in str(err)


def test_many_errors_reported_at_once() -> None:
    fixture = PLANS / "bad_references.yaml"
    with pytest.raises(routecore.PlanError) as info:
        load_plan(fixture)
    message = str(info.value)
    assert message.startswith(f"{fixture}: 6 errors in the plan")
    assert len(info.value.errors) == 6  # type: ignore[attr-defined]
    # type errors and whole-plan errors come together: the model failing does not stop the checks
    text = (
        (PLANS / "bad_undecided_flow.yaml")
        .read_text(encoding="utf-8")
        .replace('{number: "13800000010"}', '{number: "13800000010", ring_seconds: "20"}')
    )
    report = check_plan(text)
    assert {e.path for e in report.errors} == {
        "tenants.t.groups.desk.targets[0].ring_seconds",
        "tenants.t.numbers.4001234567.flow[1]",
    }
    assert all(e.file == "<text>" and e.line is not None for e in report.errors)


def test_warnings_do_not_refuse_the_plan() -> None:
    fixture = PLANS / "warn_plan.yaml"
    plan = load_plan(fixture)
    got = {(w.line, w.path) for w in _no_holiday_warnings(plan.warnings)}
    want = {(line, path) for line, path, _ in _expectations(fixture, "warn")}
    assert got == want
    for line, path, message in _expectations(fixture, "warn"):
        assert any(w.line == line and w.path == path and message in w.message for w in plan.warnings)


@pytest.mark.parametrize("text", ["version: 1\n", "version: 1\ntenants: {}\n"], ids=["bare", "no-tenant"])
def test_a_plan_that_serves_no_number_is_warned_of(text: str) -> None:
    """Valid, but it would take every number down if it replaced a serving plan: said aloud."""
    report = check_plan(text)
    assert not report.errors
    assert [w.message for w in report.warnings] == [
        "the plan serves no number: every call would be answered NOT_FOUND"
    ]
    assert report.warnings[0].line == (2 if "tenants" in text else 1)


def test_missing_holiday_years_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[int]] = []

    def missing_years(years: list[int]) -> list[int]:
        asked.append(years)
        return [y for y in years if y >= 2090]

    monkeypatch.setattr(loader, "default_missing_years", lambda: missing_years)
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "version: 1",
            "version: 1\ncalendars:\n  c: {base: cn, closed: [2091-01-02]}\n"
            'schedules:\n  office: {calendar: c, hours: {all: ["09:00-18:00"]}}',
        )
        .replace('{number: "13800000010"}', '{number: "13800000010", schedule: office}')
    )
    plan = load_plan(text)
    assert 2091 in asked[0]
    assert [w.message for w in plan.warnings if "holiday" in w.message] == [
        "no official holiday data for 2091: the cn calendar treats those years as plain weeks"
    ]


def test_known_places_are_injectable() -> None:
    text = (PLANS / "bad_places.yaml").read_text(encoding="utf-8")
    places = {"广东": ["深圳", "广州"], "广西": ["南宁"], "新疆": ["乌鲁木齐"], "北京": ["北京"]}
    report = check_plan(text, known_places=places)
    assert [e.message for e in report.errors] == [
        "unknown place '广东省' (did you mean '广东'?)",
        "unknown place '广西/深圳' (did you mean '广东/深圳'?)",
        "unknown place '深圳' (did you mean '广东/深圳'?)",
        "unknown place '新彊' (did you mean '新疆'?)",
    ]
    # a callable is asked only when a place is checked
    calls = []
    load_plan(PLANS / "good_minimal.yaml", known_places=lambda: calls.append(1) or places)
    assert calls == []


def test_not_a_plan() -> None:
    for source, message in (
        (b"", "not an empty document"),
        ("[1, 2]", "not a list"),
        ("x: [", "not valid YAML"),
    ):
        with pytest.raises(routecore.PlanError) as info:
            load_plan(source)
        assert message.split()[-1] in str(info.value)
    with pytest.raises(TypeError):
        load_plan(42)  # type: ignore[arg-type]


def test_a_dict_plan_with_text_that_is_not_text_names_its_field() -> None:
    plan = {"version": 1, "tenants": {"a": {"numbers": {"4001234567": {"flow": [{"reject": "x\udc80"}]}}}}}
    issues = check_plan(plan).errors
    assert [(i.file, i.message.split(":")[0]) for i in issues] == [
        ("<dict>", "tenants.a.numbers.4001234567.flow[0].reject")
    ]
    assert "not valid text" in issues[0].message
    with pytest.raises(routecore.PlanError, match=r"tenants\.a\\udc80: not valid text"):
        load_plan({"version": 1, "tenants": {"a\udc80": {}}})


def test_unreadable_yaml_is_placed_on_its_line() -> None:
    # A control character: PyYAML gives only its offset; an operator needs the line.
    issues = check_plan("version: 1\ntenants:\n  a: \x00\n").errors
    assert [(i.line, i.message) for i in issues] == [
        (3, "not valid YAML: character U+0000 in column 6: control characters are not allowed")
    ]
    # A one-line text cut short: the context's line is the text's only line, not one past it.
    issues = check_plan('{"version": 1,').errors
    assert [i.line for i in issues] == [1] and "(from line 1)" in issues[0].message


# --- YAML, JSON and dicts ----------------------------------------------------------------------------


def _as_json(path: Path) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return json.dumps(data, default=str, ensure_ascii=False, indent=1)


def test_yaml_and_json_are_equivalent(acceptance: Path, tmp_path: Path) -> None:
    from_yaml = load_plan(acceptance)
    json_file = tmp_path / "plan.json"
    json_file.write_text(_as_json(acceptance), encoding="utf-8")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "fraud.txt").write_bytes((acceptance.parent / "lists" / "fraud.txt").read_bytes())
    from_json = load_plan(json_file)
    assert from_json.model == from_yaml.model
    assert from_json.to_engine_json() == from_yaml.to_engine_json()
    as_dict = load_plan(yaml.safe_load(acceptance.read_text(encoding="utf-8")), path=acceptance)
    assert as_dict.model == from_yaml.model
    assert as_dict.list_texts == from_yaml.list_texts


def test_json_errors_have_lines(tmp_path: Path) -> None:
    bad = PLANS / "bad_group_values.yaml"
    as_json = tmp_path / "bad.json"
    as_json.write_text(_as_json(bad), encoding="utf-8")
    yaml_paths = {e.path: e.message for e in check_plan(bad).errors}
    report = check_plan(as_json)
    assert {e.path: e.message for e in report.errors} == yaml_paths
    lines = as_json.read_text(encoding="utf-8").splitlines()
    for e in report.errors:
        assert e.line is not None
        leaf = e.path.rsplit(".", 1)[-1].split("[")[0]
        assert leaf in lines[e.line - 1] or "{" in lines[e.line - 1], (e, lines[e.line - 1])


def test_dict_source_reports_paths_without_lines() -> None:
    report = check_plan(
        {"version": 1, "tenants": {"t": {"numbers": {"4001234567": {"flow": [{"forward": "x"}]}}}}}
    )
    assert [(e.file, e.line, e.path) for e in report.errors] == [
        ("<dict>", None, "tenants.t.numbers.4001234567.flow[0].forward")
    ]


# --- the engine JSON -------------------------------------------------------------------------------


def test_engine_json_shape(acceptance: Path) -> None:
    out = orjson.loads(load_plan(acceptance).to_engine_json())
    assert list(out) == [
        "version",
        "timezone",
        "gateway",
        "seed",
        "calendars",
        "schedules",
        "lists",
        "blocklists",
        "rates",
        "tenants",
    ]
    assert out["schedules"]["evening"] == {
        "calendar": None,
        "timezone": None,
        "hours": {"workday": None, "sat": None, "sun": None, "holiday": None, "all": ["18:00-22:00"]},
    }
    assert out["lists"]["clinic_vip"] == {
        "file": None,
        "numbers": ["13800000001", "0755 8600 0001"],
        "patterns": None,
        "reason": "blocked",
    }
    clinic = out["tenants"]["clinic"]
    assert clinic["display"] == {"name": "康宁诊所", "tag": "预约挂号", "certified_until": "2027-06-30"}
    assert clinic["tags"] == [{"tag": "国庆门诊", "from": "2026-10-01", "until": "2026-10-07"}]
    assert clinic["groups"]["doctors"]["targets"][0] == {
        "number": "13800000020",
        "uri": None,
        "ring_seconds": 20,
        "weight": 1,
        "max_calls": None,
        "schedule": None,
        "regions": [],
    }
    assert clinic["groups"]["desk"]["overflow"] == {"voicemail": "clinic_box"}
    assert clinic["groups"]["doctors"]["overflow"] is None
    assert clinic["groups"]["doctors"]["max_call_seconds"] == 14400
    assert clinic["groups"]["doctors"]["max_targets"] is None
    assert clinic["menus"]["main"]["options"]["3"] == {"menu": "info"}
    flow = clinic["numbers"]["4001234567"]["flow"]
    assert flow[0]["when"]["caller_list"] == ["clinic_vip"]  # a single name becomes a list
    assert flow[2] == {"id": "closed", "when": None, "announce": "clinic_closed"}
    shop_flow = out["tenants"]["shop"]["numbers"]["4008888888"]["flow"]
    assert shop_flow[0]["reject"] == {"code": 603, "reason": "anonymous"}
    assert shop_flow[1]["when"]["dates"] == {"from": "2026-11-01", "until": "2026-11-12"}
    assert out["tenants"]["shop"]["limits"] == {"per_caller": None}


def test_default_rule_ids() -> None:
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "- {forward: desk}",
            "- {when: {caller_kind: [anonymous]}, announce: a}\n          - {forward: desk}",
        )
    )
    flow = load_plan(text).model.tenants["t"].numbers["4001234567"].flow
    assert [r.id for r in flow] == ["r1", "r2"]


# Every whole number the engine reads as u32/u64 (rust/engine/doc.rs), and the two money fields it
# reads as f64: key in the text below, its path, its line, and its valid range.
_ENGINE_NUMBERS_PLAN = """version: 1
seed: {seed}
rates:
  default: {{mobile: {mobile}}}
tenants:
  t:
    limits: {{per_caller: {{calls: {calls}, window_seconds: {window_seconds}}}}}
    package: {{monthly_fee: {monthly_fee}, included_minutes: {included_minutes}}}
    groups:
      desk:
        max_targets: {max_targets}
        max_call_seconds: {max_call_seconds}
        targets:
          - {{number: "13800000010", ring_seconds: {ring_seconds}, weight: {weight}, max_calls: {max_calls}}}
    numbers:
      "4001234567":
        flow:
          - {{forward: desk}}
"""
U32, U64 = 2**32 - 1, 2**64 - 1
_DESK = "tenants.t.groups.desk"
ENGINE_INTS = [
    # key, path, line, lowest, highest
    ("seed", "seed", 2, 0, U64),
    ("calls", "tenants.t.limits.per_caller.calls", 7, 1, U32),
    ("window_seconds", "tenants.t.limits.per_caller.window_seconds", 7, 1, U32),
    ("included_minutes", "tenants.t.package.included_minutes", 8, 0, U32),
    ("max_targets", f"{_DESK}.max_targets", 11, 1, U32),
    ("max_call_seconds", f"{_DESK}.max_call_seconds", 12, 1, U32),
    ("ring_seconds", f"{_DESK}.targets[0].ring_seconds", 14, 1, U32),
    ("weight", f"{_DESK}.targets[0].weight", 14, 0, U32),
    ("max_calls", f"{_DESK}.targets[0].max_calls", 14, 1, U32),
]


def _engine_numbers_plan(**values: Any) -> str:
    fields = {key: lo for key, _, _, lo, _ in ENGINE_INTS} | {"mobile": 0.2, "monthly_fee": 0}
    return _ENGINE_NUMBERS_PLAN.format(**(fields | values))


def test_engine_numbers_at_their_limits_compile() -> None:
    for values in (
        {key: lo for key, _, _, lo, _ in ENGINE_INTS},
        {key: hi for key, _, _, _, hi in ENGINE_INTS} | {"mobile": "1.0e+300", "monthly_fee": "1.0e+300"},
    ):
        loaded = load_plan(_engine_numbers_plan(**values))
        routecore.Engine.from_loaded(loaded)  # the engine reads every value check passed


@pytest.mark.parametrize(("key", "path", "line", "lo", "hi"), ENGINE_INTS, ids=[k[0] for k in ENGINE_INTS])
def test_engine_ints_out_of_range_are_refused_at_their_key(
    key: str, path: str, line: int, lo: int, hi: int
) -> None:
    for bad in (lo - 1, hi + 1, 99999999999999, 10**23):
        if lo <= bad <= hi:
            continue
        report = check_plan(_engine_numbers_plan(**{key: bad}))
        assert [(e.line, e.path, e.message) for e in report.errors] == [
            (line, path, f"must be a whole number from {lo} to {hi}, got {bad}")
        ]
        with pytest.raises(routecore.PlanError) as info:
            routecore.Engine.from_text(_engine_numbers_plan(**{key: bad}))
        assert info.value.errors[0].path == path  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "path", "line"),
    [("mobile", "rates.default.mobile", 4), ("monthly_fee", "tenants.t.package.monthly_fee", 8)],
)
def test_money_must_be_finite(key: str, path: str, line: int) -> None:
    for bad, shown in ((".inf", "inf"), ("1.0e+400", "inf")):
        report = check_plan(_engine_numbers_plan(**{key: bad}))
        assert [(e.line, e.path, e.message) for e in report.errors] == [
            (line, path, f"must be a finite number, got {shown}")
        ]


def _plan_holding(tmp_path: Path, number: str, list_file: str) -> Path:
    """tests/plans/good_minimal.yaml with `number` as its target and in list `a`'s numbers, and
    list `f` read from a file of `list_file` (both lists block): line 4 is `a`, 12 the target."""
    (tmp_path / "long.txt").write_text(list_file)
    lists = f'version: 1\nlists:\n  a: {{numbers: ["{number}"]}}\n  f: {{file: long.txt}}\nblocklists: [a, f]'
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", lists)
        .replace('{number: "13800000010"}', f'{{number: "{number}"}}')
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    return plan


def test_numbers_the_engine_cannot_normalise_are_refused(tmp_path: Path) -> None:
    # `0086` passes the format check, but nothing follows its country code
    long = "0086"
    plan = _plan_holding(tmp_path, long, f"13700000000\n# {long}\n{long}  # too long\n+8613800000000\n")
    report = check_plan(plan)
    # the reason is the engine's normaliser's (rust/number.rs); the place is the plan's or the file's
    assert [(Path(e.file).name, e.line, e.path) for e in report.errors] == [
        ("plan.yaml", 4, "lists.a.numbers[0]"),
        ("plan.yaml", 12, "tenants.t.groups.desk.targets[0].number"),
        ("long.txt", 3, "lists.f.file"),
    ]
    for e in report.errors:
        assert f'not a number: "{long}": nothing after the country code 86' in e.message, e
    assert report.errors[2].message.startswith("list 'f': ")


# Impossible dates, quoted or not; kept out of tests/plans (the YAML corpus PyYAML must read).
IMPOSSIBLE_DATES = """version: 1
calendars:
  c:
    closed: [2026-02-30,
             "2026-02-30"]
    open: [2026-13-01]
schedules:
  s: {calendar: c, hours: {all: ["09:00-10:00"]}}
tenants:
  t:
    display:
      name: N
      certified_until: 2027-02-29
    tags:
      - tag: x
        from: 2026-13-01
        until: "2026-12-32"
    groups:
      desk:
        targets:
          - {number: "13800000010", schedule: s}
    numbers:
      "4001234567":
        flow:
          - when:
              dates: {from: 2026-04-31,
                      until: "2026-04-31"}
            forward: desk
          - reject: {code: 60.3, reason: x}
"""


def test_impossible_dates_are_reported_at_their_key_with_every_other_error() -> None:
    report = check_plan(IMPOSSIBLE_DATES)
    assert [(e.line, e.path, e.message) for e in report.errors] == [
        (4, "calendars.c.closed[0]", "'2026-02-30' is not a date: day is out of range for month"),
        (5, "calendars.c.closed[1]", "'2026-02-30' is not a date: day is out of range for month"),
        (6, "calendars.c.open[0]", "'2026-13-01' is not a date: month must be in 1..12"),
        (
            13,
            "tenants.t.display.certified_until",
            "'2027-02-29' is not a date: day is out of range for month",
        ),
        (16, "tenants.t.tags[0].from", "'2026-13-01' is not a date: month must be in 1..12"),
        (17, "tenants.t.tags[0].until", "'2026-12-32' is not a date: day is out of range for month"),
        (
            26,
            "tenants.t.numbers.4001234567.flow[0].when.dates.from",
            "'2026-04-31' is not a date: day is out of range for month",
        ),
        (
            27,
            "tenants.t.numbers.4001234567.flow[0].when.dates.until",
            "'2026-04-31' is not a date: day is out of range for month",
        ),
        (
            29,
            "tenants.t.numbers.4001234567.flow[1].reject.code",
            "expected a whole number, got the number 60.3",
        ),
    ]
    # an unquoted and a quoted impossible date read the same
    assert report.errors[0].message == report.errors[1].message


def test_boolean_keys_are_reported_as_written() -> None:
    # YAML 1.1 reads off, on, yes, no as booleans: the key is shown as written, on its own line
    text = """version: 1
schedules:
  weekday: {hours: {all: ["09:00-18:00"]}}
  off: {hours: {mon: ["09:00-18:00"]}}
  on: {hours: {all: ["09:00-18:00"]}}
  yes: {hours: {all: ["09:00-18:00"]}}
"""
    quote = 'expected a quoted string, got {0}, which YAML reads as the boolean {1}: quote it: write "{0}"'
    assert [(e.line, e.path, e.message) for e in check_plan(text).errors] == [
        (4, "schedules.off", quote.format("off", "false")),
        (4, "schedules.off.hours.mon", "unknown day type 'mon' (day types: workday, sat, sun, holiday, all)"),
        (5, "schedules.on", quote.format("on", "true")),
        (
            6,
            "schedules.yes",
            "duplicate key 'yes', which YAML reads as the boolean true like 'on' (first at line 5); "
            "only the last would be kept",
        ),
    ]


def test_a_schedule_closed_on_every_day_type_is_allowed_with_a_warning() -> None:
    # plan-format.md: "A day type with no key (and no `all`) is closed"; nothing asks a schedule
    # to open sometime, so one that never does is a plan the engine runs (it never holds)
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", "version: 1\nschedules:\n  never:\n    hours: {all: [], holiday: []}")
        .replace(
            "- {forward: desk}",
            "- {when: {schedule: never}, announce: open}\n          - {forward: desk}",
        )
    )
    plan = load_plan(text)
    warnings = _no_holiday_warnings(plan.warnings)
    assert [(w.line, w.path) for w in warnings] == [(5, "schedules.never.hours")]
    assert "never open" in warnings[0].message
    engine = routecore.Engine.from_loaded(plan)
    for at in ("2026-11-11T10:00:00+08:00", "2026-10-01T10:00:00+08:00", "2026-11-14T03:00:00+08:00"):
        assert engine.route("4001234567", "13900000000", "", at).rule == "r2"
    assert load_plan(text.replace("{all: [], holiday: []}", "{}")).warnings


# --- syntax checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+8613800138000",
        "008613800138000",
        "+86 138 0013 8000",
        "tel:+86-138-0013-8000",
        "sip:13800138000@10.0.0.1;user=phone",
        "(010) 1234-5678",
        "110",
    ],
)
def test_accepted_number_forms(number: str) -> None:
    assert _syntax.number_problem(number) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("138x", "'x' at character 4"),
        ("+86+138", "a second '+' at character 4"),
        ("12", "only 2 digit(s)"),
        ("1" * 21, "21 digits"),
        ("sip:sales@host", "not a number"),
        ("", "empty number"),
    ],
)
def test_refused_number_forms(number: str, reason: str) -> None:
    problem = _syntax.number_problem(number)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "pattern", ["_1380013XXXX", "_170XXXXXXXX", "_NXXNXXXXXX", "_1[3-9]X.", "_[137]!", "0755", "_*#9"]
)
def test_valid_patterns(pattern: str) -> None:
    assert _syntax.pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "where"),
    [
        ("_", "empty pattern"),
        ("_1.3", "character 3 '.'"),
        ("_1[", "character 3 '['"),
        ("_1[]", "empty set"),
        ("_1[9-3]", "must go upwards"),
        ("_1]", "character 3 ']'"),
        ("_1Y", "character 3 'Y'"),
        ("07x", "character 3 'x'"),
    ],
)
def test_invalid_patterns(pattern: str, where: str) -> None:
    problem = _syntax.pattern_problem(pattern)
    assert problem is not None and where in problem


def test_hour_ranges() -> None:
    assert _syntax.parse_range("00:00-24:00") == (0, 1440)
    assert _syntax.parse_range("13:30-18:00") == (810, 1080)
    for bad in ("24:00-24:00", "10:00-10:00", "09:60-10:00", "9:00-10:00", "10:00-24:30"):
        assert isinstance(_syntax.parse_range(bad), str)
    # digits are ASCII, as the engine reads them: Arabic-Indic ٠٩ is not 09
    text = 'version: 1\nschedules:\n  s: {hours: {all: ["٠٩:٠٠-١٨:٠٠"]}}\n'
    assert [(e.line, e.path) for e in check_plan(text).errors] == [(3, "schedules.s.hours.all[0]")]
    assert (
        check_plan(text)
        .errors[0]
        .message.startswith("bad hours '٠٩:٠٠-١٨:٠٠': an hours range is written HH:MM")
    )


# --- schema, report, speed -------------------------------------------------------------------------


def test_committed_schema_is_fresh() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == plan_json_schema_text(), (
        "regenerate with: python -m routecore.plan schema"
    )
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["version"]
    target = schema["$defs"]["Target"]["properties"]
    assert target["ring_seconds"]["default"] == 20 and target["weight"]["minimum"] == 0


def test_render_report() -> None:
    console = Console(record=True, width=200)
    render_report(check_plan(PLANS / "bad_top.yaml"), console)
    out = console.export_text()
    assert "bad_top.yaml:5" in out and "timezone" in out and "3 errors" in out
    console = Console(record=True, width=200)
    render_report(check_plan(PLANS / "good_minimal.yaml"), console)
    assert "ok: no errors" in console.export_text()


def test_big_plan_load_time() -> None:
    text = synthetic_plan_text(tenants=10_000, numbers_per_tenant=2)
    was = gc.isenabled()
    wall, cpu = time.perf_counter(), time.process_time()
    plan = load_plan(text)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert gc.isenabled() == was
    assert len(plan.model.tenants) == 10_000
    assert sum(len(t.numbers) for t in plan.model.tenants.values()) == 20_000
    t = time.perf_counter()
    plan.to_engine_json()
    dump = time.perf_counter() - t
    print(
        f"\n10,000 tenants / 20,000 numbers ({len(text) / 1e6:.1f} MB YAML): "
        f"load+validate {wall:.2f} s wall, {cpu:.2f} s CPU; to_engine_json {dump:.2f} s"
    )


def test_shown_source_names_the_file_or_the_pseudo_file(tmp_path: Path) -> None:
    """GetPlan and the `routecore_plan_info` metric show the plan's file, or `<text>` for a plan
    given as text (not the pseudo-file in the folder its list files are read from)."""
    text = b"version: 1\ntenants: {}\n"
    (tmp_path / "plan.yaml").write_bytes(text)
    assert load_plan(tmp_path / "plan.yaml").shown_source == str(tmp_path / "plan.yaml")
    assert load_plan(text, path=tmp_path / "<text>").shown_source == "<text>"
    assert load_plan(text).shown_source == "<text>"


def test_national_forms_the_engine_gives_read_back_as_themselves(tmp_path: Path) -> None:
    """`+` and 20 digits normalises to `00` and 20 (22 digits): a plan may hold that form (pasted
    from a decision or a list's numbers) as a target, a list number and a list-file entry."""
    longest = routecore.normalize("+" + "1" * 20)
    assert longest == "00" + "1" * 20
    plan = _plan_holding(tmp_path, longest, f"13700000000\n{longest}\n")
    assert check_plan(plan).errors == []
    engine = routecore.Engine.from_file(plan)
    d = engine.route("4001234567", "13900000000", at="2026-11-11T10:00:00+08:00")
    assert [t.number for t in d.targets] == [longest]
    assert engine.route("4001234567", longest, at="2026-11-11T10:00:00+08:00").reject.reason == "blocked"


def test_a_flow_must_end_in_its_rule_without_when() -> None:
    """plan-format.md: "every flow must end in one" (a rule without `when`); the engine refuses
    a flow whose last rule has a `when` even if an earlier one always holds, so check does too."""
    plan = {
        "version": 1,
        "tenants": {
            "t": {
                "numbers": {
                    "4001234567": {
                        "flow": [{"announce": "a"}, {"when": {"caller_kind": ["mobile"]}, "announce": "b"}]
                    }
                }
            }
        },
    }
    report = check_plan(plan)
    assert [(e.path, "must end in its rule without `when`" in e.message) for e in report.errors] == [
        ("tenants.t.numbers.4001234567.flow[1]", True)
    ]


def test_a_day_type_listed_without_ranges_is_closed() -> None:
    """plan-format.md: `all` covers every day type not listed; `sun:` with nothing after it is
    listed (YAML reads it as null), so Sundays are closed rather than `all`'s."""
    text = """version: 1
schedules:
  weekdays: {hours: {all: ["00:00-24:00"], sun: }}
tenants:
  t:
    numbers:
      "4001234567":
        flow:
          - {when: {schedule: weekdays}, announce: open}
          - {announce: closed}
"""
    engine = routecore.Engine.from_text(text)
    prompt = {
        day: engine.route("4001234567", "13900000000", at=f"{day}T10:00:00+08:00").prompt
        for day in ("2026-11-14", "2026-11-15")
    }
    assert prompt == {"2026-11-14": "open", "2026-11-15": "closed"}


# Every mapping here has a bad value AND a problem of the mapping as a whole (two actions, two
# sources, both number and uri, a window backwards, ranges overlapping): check reports both,
# each at its own key and line; a value of the wrong type still counts as given (no cascade).
EVERY_PROBLEM_OF_A_MAPPING = """version: 1
lists:
  vip: {numbers: ["13800000001"], patterns: ["_1X!"], reason: ""}
schedules:
  s:
    hours: {all: ["09:00-12:00", "11:00-13:00", "25:00-26:00"]}
tenants:
  t:
    tags:
      - {tag: "", from: 2026-10-07, until: 2026-10-01}
    groups:
      desk:
        targets:
          - {number: "13800000010", uri: "sip:a@b", ring_seconds: 0}
          - {number: 13800000011}
        overflow: {voicemail: box, announce: x, reject: {code: 200, reason: r}}
    menus:
      m:
        prompt: p
        options:
          "1": {forward: desk, announce: x, reject: {code: 200, reason: r}}
    numbers:
      "4001234567":
        flow:
          - {when: {caller_kind: [mobil], schedule: s}, forward: desk, menu: m}
          - {when: {dates: {from: 2026-10-07, until: 2026-10-01}, carrier: [移動]}, announce: 7}
          - {forward: desk}
"""


def test_every_problem_of_a_rule_group_menu_and_list_is_reported() -> None:
    one_action = "needs exactly one action of forward, menu, announce, voicemail, reject"
    desk = "tenants.t.groups.desk"
    flow = "tenants.t.numbers.4001234567.flow"
    report = check_plan(EVERY_PROBLEM_OF_A_MAPPING)
    got = [(e.line, e.path, e.message) for e in report.errors]
    assert [(line, path) for line, path, _ in got] == [
        (3, "lists.vip"),
        (3, "lists.vip.reason"),
        (6, "schedules.s.hours.all[2]"),
        (10, "tenants.t.tags[0]"),
        (10, "tenants.t.tags[0].tag"),
        (14, f"{desk}.targets[0]"),
        (14, f"{desk}.targets[0].ring_seconds"),
        (15, f"{desk}.targets[1].number"),
        (16, f"{desk}.overflow"),
        (16, f"{desk}.overflow.reject.code"),
        (21, "tenants.t.menus.m.options.1"),
        (21, "tenants.t.menus.m.options.1.reject.code"),
        (25, f"{flow}[0]"),
        (25, f"{flow}[0].when.caller_kind[0]"),
        (26, f"{flow}[1].announce"),
        (26, f"{flow}[1].when.carrier[0]"),
        (26, f"{flow}[1].when.dates"),
    ], "\n".join(map(str, report.errors))
    messages = {path: message for _, path, message in got}
    assert (
        messages["lists.vip"]
        == "a list needs exactly one of file, numbers, patterns (found numbers, patterns)"
    )
    # Overlapping ranges are allowed (open in either), but likely a slip: a warning.
    warned = {w.path: w.message for w in report.warnings}
    assert warned["schedules.s.hours.all"] == "ranges 09:00-12:00 and 11:00-13:00 overlap (open in either)"
    assert messages["tenants.t.tags[0]"] == "until 2026-10-01 is before from 2026-10-07"
    assert messages[f"{desk}.targets[0]"] == "a target needs exactly one of number, uri"
    assert messages[f"{desk}.targets[1].number"].startswith("expected a quoted string")
    assert messages[f"{desk}.overflow"] == f"an action {one_action} (found announce, voicemail, reject)"
    assert (
        messages["tenants.t.menus.m.options.1"] == f"an action {one_action} (found forward, announce, reject)"
    )
    assert messages[f"{flow}[0]"] == f"a rule {one_action} (found forward, menu)"
    assert messages[f"{flow}[1].announce"].startswith("expected a quoted string")
    assert messages[f"{flow}[1].when.dates"] == "until 2026-10-01 is before from 2026-10-07"
    with pytest.raises(routecore.PlanError) as info:
        load_plan(EVERY_PROBLEM_OF_A_MAPPING)
    assert info.value.errors == report.errors  # type: ignore[attr-defined]


# plan-format.md: `gateway` is the SIP trunk number targets are sent through, as `sip:NUMBER@GATEWAY`
# (interfaces.md, the HTTP `uri`): a host (name, IPv4, or IPv6 in brackets), an optional port, and
# optional URI parameters; nothing that makes that URI wrong or names another host.
@pytest.mark.parametrize(
    "gateway",
    [
        "127.0.0.1:5070",
        "127.0.0.1",
        "trunk.example.com",
        "trunk-1.example.cn:5060",
        "localhost",
        "sbc.example.com.",
        '"[::1]:5060"',
        '"[2001:db8::1]"',
        "10.0.0.1:5060;transport=tcp",
        "xn--fiq228c.cn",
    ],
)
def test_gateway_accepted(gateway: str) -> None:
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", f"version: 1\ngateway: {gateway}")
    )
    plan = load_plan(text)
    assert plan.model.gateway == gateway.strip('"')
    engine = routecore.Engine.from_loaded(plan)
    assert engine.gateway == gateway.strip('"')


@pytest.mark.parametrize(
    ("gateway", "why"),
    [
        (
            "sip:127.0.0.1:5070",
            "write the host and port only (127.0.0.1:5070): routecore writes sip:NUMBER@ before it",
        ),
        ("trunk@10.0.0.1", "no user part (routecore writes sip:NUMBER@ before the gateway)"),
        ("10.0.0.1:0", "port 0 is not from 1 to 65535"),
        ("10.0.0.1:70000", "port 70000 is not from 1 to 65535"),
        ('"10.0.0.1:"', "':' is not followed by a port"),
        ("10.0.0.1:sip", "port 'sip' is not a number"),
        ("300.1.1.1", "'300.1.1.1' is not an IPv4 address"),
        ("10.0.0", "'10.0.0' is not an IPv4 address"),
        ('"2001:db8::1"', "an IPv6 address is written in brackets: [2001:db8::1] or [2001:db8::1]:5060"),
        ('"[2001:db8::g]:5060"', "'2001:db8::g' is not an IPv6 address"),
        ('"[::1]5060"', "after ']' comes ':' and a port, or nothing"),
        ('"gw example.com"', "no spaces"),
        ("-gw.example.com", "label '-gw' of the host name"),
        ("gw_1.example.com", "label 'gw_1' of the host name"),
        ("gw..example.com", "empty label"),
        (
            "网关.cn",
            "'网关' of the host name: ASCII letters, digits and '-' (an internationalised name in its xn--",
        ),
        ("10.0.0.1;", "empty URI parameter"),
        ("10.0.0.1?x=y", "'?'"),
    ],
)
def test_gateway_refused_at_its_line(gateway: str, why: str) -> None:
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", f"version: 1\ngateway: {gateway}")
    )
    report = check_plan(text)
    assert [(e.line, e.path) for e in report.errors] == [(3, "gateway")], report.errors
    message = report.errors[0].message
    assert message.startswith(f"not a SIP gateway (host[:port]): {gateway.strip(chr(34))!r}: "), message
    assert why in message, message


# A menu a group's overflow reaches is walked with the keys left (docs/decisions.md, menu walk), so
# it nests one level below the menu whose key forwarded to the group: plan-format.md's "at most 3
# levels" and "any cycle" count through overflow (docs/decisions.md says why).
MENUS_THROUGH_OVERFLOW = """version: 1
schedules:
  never: {hours: {all: []}}
tenants:
  t:
    groups:
      desk:
        targets:
          - {number: "13800000010", schedule: never}
        overflow: {forward: backup}
      backup:
        targets:
          - {number: "13800000011", schedule: never}
        overflow: {menu: m1}
    menus:
      m1: {prompt: p1, options: {"1": {forward: desk}, "2": {announce: a}}}
    numbers:
      "4001234567":
        flow:
          - {menu: m1}
"""


def test_a_menu_cycle_through_a_groups_overflow_is_refused() -> None:
    report = check_plan(MENUS_THROUGH_OVERFLOW)
    assert [(e.line, e.path, e.message) for e in report.errors] == [
        (
            16,
            "tenants.t.menus.m1.options.1.forward",
            "menu cycle: m1 → group desk (overflow) → group backup (overflow) → m1",
        )
    ]
    # the same groups reached from the flow, not from a menu, lead to the menu's first level
    fine = MENUS_THROUGH_OVERFLOW.replace('"1": {forward: desk}', '"1": {announce: b}').replace(
        "- {menu: m1}", "- {forward: desk}"
    )
    assert check_plan(fine).errors == []


def test_menu_depth_counts_through_a_groups_overflow() -> None:
    text = (
        MENUS_THROUGH_OVERFLOW.replace(
            'm1: {prompt: p1, options: {"1": {forward: desk}, "2": {announce: a}}}',
            'm0: {prompt: p0, options: {"1": {menu: m1}}}\n'
            '      m1: {prompt: p1, options: {"1": {announce: a}}}\n'
            '      m2: {prompt: p2, options: {"1": {menu: m3}}}\n'
            '      m3: {prompt: p3, options: {"1": {forward: desk}}}',
        )
        .replace("overflow: {menu: m1}", "overflow: {menu: m0}")
        .replace("- {menu: m1}", "- {menu: m2}")
    )
    report = check_plan(text)
    assert [(e.line, e.path, e.message) for e in report.errors] == [
        (
            16,
            "tenants.t.menus.m0.options.1.menu",
            "menu 'm1' would be level 4 (m2 → m3 → group desk (overflow) → group backup (overflow) → m0 "
            "→ m1): menus nest at most 3 levels",
        )
    ]
    # the engine walks the keys through the overflow's menu: "1" on m2 is m3, "11" is m0 (level 3)
    engine = routecore.Engine.from_text(text.replace('"1": {menu: m1}', '"1": {announce: deep}'))
    at = "2026-11-11T10:00:00+08:00"
    assert engine.route("4001234567", "13900000000", "11", at).menu.id == "m0"
    assert engine.route("4001234567", "13900000000", "111", at).prompt == "deep"


def test_check_passes_exactly_the_time_zones_the_engine_knows() -> None:
    """zoneinfo reads any file of the system's tz folder (`localtime`, `posix/…`, `right/…`,
    `Factory`); the engine knows the IANA zones and links (chrono-tz): check passes only those."""
    names = [*sorted(zoneinfo.available_timezones()), "posix/Asia/Shanghai", "right/UTC", "posixrules"]
    hours = {"all": ["09:00-18:00"]}
    schedules = {f"s{i}": {"timezone": name, "hours": hours} for i, name in enumerate(names)}
    report = check_plan({"version": 1, "schedules": schedules})
    refused = {schedules[e.path.split(".")[1]]["timezone"] for e in report.errors}
    assert {e.path.rsplit(".", 1)[1] for e in report.errors} == {"timezone"}
    assert all(e.message.startswith("unknown time zone") for e in report.errors)
    assert {"Factory", "localtime", "posix/Asia/Shanghai", "right/UTC", "posixrules"} <= refused
    assert "Asia/Shanghai" not in refused and "UTC" not in refused
    kept = {name: s for name, s in schedules.items() if s["timezone"] not in refused}
    routecore.Engine.from_dict({"version": 1, "schedules": kept})  # the engine reads every one
    text = (
        (PLANS / "good_minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("version: 1", "version: 1\ntimezone: Factory")
    )
    assert [(e.line, e.path, e.message) for e in check_plan(text).errors] == [
        (3, "timezone", "unknown time zone 'Factory'")
    ]


def test_overlapping_ranges_and_an_empty_when_are_what_the_spec_allows() -> None:
    """plan-format.md refuses only a range that ends before it starts: overlapping ranges are open
    in either (a warning); and `when: {}` has no condition to fail, so it always holds."""
    text = """
version: 1
timezone: Asia/Shanghai
schedules:
  office: {hours: {all: ["09:00-12:00", "11:00-13:00"]}}
tenants:
  t:
    groups:
      desk: {targets: [{number: "13800000010"}]}
    numbers:
      "4001234567":
        flow:
          - {id: open, when: {schedule: office}, forward: desk}
          - {id: closed, when: {}, reject: {code: 480, reason: closed}}
"""
    report = check_plan(text)
    assert report.errors == [], report.errors
    assert [w.path for w in report.warnings] == ["schedules.office.hours.all"]
    engine = routecore.Engine.from_text(text)
    times = ("11:30", "12:30", "13:00")
    rules = [engine.route("4001234567", "", at=f"2026-11-11T{t}:00+08:00").rule for t in times]
    assert rules == ["open", "open", "closed"]


def test_a_json_plan_with_a_key_given_twice_is_refused_at_its_line() -> None:
    # As a YAML plan's is: a JSON reader would keep the last value silently.
    text = '{"version": 1,\n "timezone": "Asia/Shanghai",\n "timezone": "UTC"}'
    issues = check_plan(text).errors
    assert [(i.line, i.path) for i in issues] == [(3, "timezone")], issues
    assert issues[0].message.startswith("duplicate key 'timezone' (first at line 2)")
    with pytest.raises(routecore.PlanError, match="duplicate key"):
        load_plan(text.encode(), path="plan.json")
    # A lone surrogate escape is no text: refused at its line (as the YAML reader places it).
    issues = check_plan('{"version": 1,\n "timezone": "d\\ud800"}').errors
    assert [i.line for i in issues] == [2] and "escape" in issues[0].message, issues
    # NaN is no JSON: read by the YAML reader, it is a string where a number belongs.
    assert check_plan('{"version": 1, "rates": {"r": {"mobile": NaN}}}').errors
