"""The fast YAML reader (rust/yaml.rs: `yaml_to_json`, `yaml_lines`) against PyYAML.

Wherever the fast reader accepts a text, PyYAML's `SafeLoader` must read it too and give the
very same data (types included), and every path must get the line PyYAML's node marks give it.
Shown on the plan corpus (test fixtures, the acceptance plan, the demo plan), on generated YAML
built from the scalars on which YAML 1.1 and 1.2 disagree, and on random edits of the corpus
(which is where two parsers part ways). Then the loader: fast and PyYAML-only loads must report
the same errors, warnings and lines, and build the same model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import routecore
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from routecore._routecore import yaml_lines, yaml_to_json
from routecore.plan import _yaml, check_plan, load_plan, synthetic_plan_text

PLANS = Path(__file__).resolve().parent / "plans"
ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE = ROOT.parent / "shared" / "spec" / "acceptance" / "plan.yaml"
DEMO = ROOT / "python" / "routecore" / "demo_plan.yaml"
CORPUS = [*sorted(PLANS.glob("*.yaml")), ACCEPTANCE, DEMO]
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in CORPUS}


def pyyaml(text: str) -> Any:
    """PyYAML's own reading (its full constructor, not the loader's node builder)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def fast(text: str) -> Any:
    doc = _yaml.load_fast(text)
    return None if doc is None else doc.data


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (`True == 1` and `1 == 1.0` are not enough),
    keys in the same order, and floats equal to the bit (`-0.0`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return [(type(k), k) for k in a] == [(type(k), k) for k in b] and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    return bool(a == b)


def agree(text: str) -> bool:
    """True when the fast reader accepts `text` (and then it must read it as PyYAML does)."""
    got = fast(text)
    if got is None:
        return False
    try:
        want = pyyaml(text)
    except yaml.YAMLError as exc:
        pytest.fail(f"the fast reader accepted a text PyYAML refuses ({exc}):\n{text!r}")
    assert same(got, want), f"{text!r}\nfast:   {got!r}\nPyYAML: {want!r}"
    return True


def paths_of(data: Any, limit: int = 400) -> Iterator[tuple[Any, ...]]:
    """Every path of keys and indices in `data` (the first `limit`), and paths that miss."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    n = 0
    while stack and n < limit:
        node, path = stack.pop()
        n += 1
        yield path
        if isinstance(node, dict):
            yield (*path, "no such key")
            yield (*path, 0)
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            yield (*path, len(node))
            yield (*path, -1)
            yield (*path, "0")
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
        else:
            yield (*path, "below a scalar")


def pyyaml_line(index: _yaml.NodeIndex, path: tuple[Any, ...]) -> int | None:
    """The line the loader's node index gives `path` (as `_Locator.issue` computes it)."""
    place = index.find(path)
    if place is None:
        return None
    node = place.key if place.key is not None else place.node
    return int(node.start_mark.line) + 1


def lines_agree(text: str) -> None:
    data = pyyaml(text)
    paths = list(paths_of(data))
    index = _yaml.NodeIndex(_yaml.compose(text))
    want = [pyyaml_line(index, p) for p in paths]
    got = yaml_lines(text, paths)
    assert got is not None
    bad = [(p, g, w) for p, g, w in zip(paths, got, want, strict=True) if g != w]
    assert not bad, f"{text!r}\n(path, fast, PyYAML): {bad[:5]}"


# --- the corpus ------------------------------------------------------------------------------------

# Fixtures the fast reader must decline, and why (everything else in the corpus it must accept).
DECLINED = {
    "bad_duplicate_key.yaml": "duplicate key",
    "bad_unquoted_menu_key.yaml": "is not a string",
    "bad_unquoted_number.yaml": "YAML 1.1 type",
    "bad_yaml_syntax.yaml": "not YAML",
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_corpus_reads_as_pyyaml_reads_it(name: str) -> None:
    text = TEXTS[name]
    out = yaml_to_json(text)
    if name in DECLINED:
        assert isinstance(out, str) and DECLINED[name] in out
        return
    assert not isinstance(out, str), out
    assert agree(text)
    lines_agree(text)


def test_big_synthetic_plan_reads_as_pyyaml_reads_it() -> None:
    text = synthetic_plan_text(tenants=200, numbers_per_tenant=3)
    assert agree(text)
    lines_agree(text)


def test_dates_become_dates() -> None:
    text = "c:\n  closed: [2026-10-01, '2026-10-02']\n  d: {until: 2027-06-30}\n"
    data = fast(text)
    assert agree(text)
    assert type(data["c"]["closed"][0]).__name__ == "date" and data["c"]["closed"][1] == "2026-10-02"
    out = yaml_to_json(text)
    assert not isinstance(out, str)
    assert out[1] == [("c", "closed", 0), ("c", "d", "until")]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: 0755\n", "YAML 1.1 type"),
        ("a: 0o17\n", None),  # YAML 1.2 octal, a string to YAML 1.1
        ("a: 1_000\n", "YAML 1.1 type"),
        ("a: 1:30\n", "YAML 1.1 type"),
        ("a: .NaN\n", "YAML 1.1 type"),
        ("a: &x [1]\nb: *x\n", "anchor"),
        ("<<: {a: 1}\n", "YAML 1.1 type"),
        ("a: !!int '1'\n", "tag"),
        ("a: 1\na: 2\n", "duplicate key"),
        ("a: 1\n---\na: 2\n", "more than one document"),
        ("- 1\n", "a list"),
        ("a:\tb\n", "tab"),
    ],
)
def test_declines_or_agrees(text: str, why: str | None) -> None:
    out = yaml_to_json(text)
    if why is None:
        assert agree(text)
    else:
        assert isinstance(out, str) and why in out, out


# --- generated YAML --------------------------------------------------------------------------------

# Plain scalars on which YAML 1.1 (PyYAML) and 1.2 (saphyr) or the two parsers may differ.
TOKENS = [
    "0",
    "7",
    "-3",
    "+5",
    "-0",
    "+0",
    "00",
    "0755",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:30",
    "1:30.5",
    "190:20:30",
    "0.20",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "1e5",
    "1.5e3",
    "1.5e+3",
    "1.5E-3",
    "1.e+5",
    "12e+3",
    ".inf",
    "-.Inf",
    ".nan",
    "-0.0",
    "0.0",
    "1e",
    "9999999999999999999",
    "~",
    "null",
    "Null",
    "NULL",
    "nul",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "no",
    "on",
    "off",
    "ON",
    "y",
    "n",
    "true",
    "False",
    "2026-12-31",
    "2026-02-30",
    "2026-1-5",
    "0000-01-01",
    "20261231",
    "09:00-18:00",
    "<<",
    "=",
    "-",
    "--",
    "-x",
    "a:b",
    "a#b",
    "sip:1@h",
    "_170XXXXXXXX",
    "2026-12-31 10:00:00",
    "2026-12-31T10:00:00Z",
    "a b",
    "a #b",
    "0755 8600 0001",
    "+86 138",
    "租户 1",
    "广东/深圳",
    "x'y",
    "a: b",
    "@x",
    "`x",
    "%x",
    "!x",
    "&x",
    "*x",
    "? x",
    "[x]",
    "{x}",
    "x,y",
    "|",
    "> x",
    "",
]

text_values = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
    | st.sampled_from(list(":-#'\"{}[],&*!|>?%@`\\ \n")),
    max_size=12,
)


@st.composite
def scalar_text(draw: st.DrawFn, flow: bool) -> str:
    kind = draw(
        st.sampled_from(
            ["plain", "plain", "single", "double", "block"] if not flow else ["plain", "single", "double"]
        )
    )
    if kind == "plain":
        return draw(st.sampled_from(TOKENS) | st.from_regex(r"[a-z0-9.:+\- ]{1,8}", fullmatch=True))
    value = draw(text_values)
    if kind == "single":
        return "'" + value.replace("'", "''") + "'"
    if kind == "double":
        return json.dumps(value, ensure_ascii=draw(st.booleans()))
    return draw(st.sampled_from(["|", "|-", ">", ">+"])) + "\n" + value


@st.composite
def yaml_doc(draw: st.DrawFn) -> str:
    """Random YAML text: nested block and flow collections of the scalars above."""

    def flow_node(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "scalar", "map", "seq"] if depth < 3 else ["scalar"]))
        if kind == "scalar":
            return draw(scalar_text(flow=True))
        n = draw(st.integers(0, 3))
        if kind == "seq":
            return "[" + ", ".join(flow_node(depth + 1) for _ in range(n)) + "]"
        return (
            "{" + ", ".join(f"{draw(scalar_text(flow=True))}: {flow_node(depth + 1)}" for _ in range(n)) + "}"
        )

    def block_seq(indent: int, depth: int) -> list[str]:
        out = []
        pad = " " * indent
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["flow", "map", "scalar", "seq"] if depth < 3 else ["flow"]))
            if kind == "flow":
                out.append(f"{pad}- {flow_node(depth + 1)}")
                continue
            if kind == "scalar":
                value = draw(scalar_text(flow=False))
                head, *body = value.split("\n", 1)
                out.append(f"{pad}- {head}")
                out += [f"{pad}  {line}" for line in "".join(body).split("\n")] if body else []
                continue
            inner = block_map(indent + 2, depth + 1) if kind == "map" else block_seq(indent + 2, depth + 1)
            out.append(f"{pad}- " + inner[0].lstrip())
            out += inner[1:]
        return out

    def block_map(indent: int, depth: int) -> list[str]:
        out = []
        for _ in range(draw(st.integers(1, 4))):
            keys.append(f"k{len(keys)}")
            key = keys[-1] if draw(st.integers(0, 3)) else draw(scalar_text(flow=True))
            pad = " " * indent
            kind = draw(
                st.sampled_from(["scalar", "flow", "map", "seq"] if depth < 3 else ["scalar", "flow"])
            )
            if kind == "scalar":
                value = draw(scalar_text(flow=False))
                if "\n" in value:  # a block scalar: indent its lines
                    head, body = value.split("\n", 1)
                    value = head + "".join(f"\n{pad}  {line}" for line in body.split("\n"))
                out.append(f"{pad}{key}: {value}")
            elif kind == "flow":
                out.append(f"{pad}{key}: {flow_node(depth + 1)}")
            elif kind == "map":
                out.append(f"{pad}{key}:")
                out += block_map(indent + 2, depth + 1)
            else:
                out.append(f"{pad}{key}:")
                out += block_seq(indent + 2, depth + 1)
            if draw(st.integers(0, 9)) == 0:
                out.append(pad + draw(st.sampled_from(["# comment", "", "  # deeper comment"])))
        return out

    keys: list[str] = []  # mostly distinct keys: a duplicate only declines
    lines = block_map(0, 0)
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return eol.join(lines) + eol


@given(yaml_doc())
@example("a: 1\nb: [x, {c: 2026-12-31}]\n")
@example("k:\n  - |\n    a\n  - >-  # c\n\n    b\n  - - x\n    - y\n")
def test_generated_yaml_reads_as_pyyaml_reads_it(text: str) -> None:
    if agree(text):
        lines_agree(text)


EDIT_CHARS = [
    *":-#'\"{}[],&*!|>?%@` \n\t\r0aZ.~\\",
    *["  ", "\n  ", "- ", ": ", "租", "\u00a0", "\ufeff", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\uffff"],
]


@st.composite
def edited_corpus(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([t for name, t in TEXTS.items() if name not in DECLINED]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(EDIT_CHARS))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 3)) :]
        else:
            text = text[:at] + piece + text[at + 1 :]
    return text


@given(edited_corpus())
def test_edited_corpus_reads_as_pyyaml_reads_it(text: str) -> None:
    if agree(text):
        lines_agree(text)


def test_generators_reach_the_fast_path() -> None:
    # the property tests above would prove nothing if the fast reader declined everything
    accepted = 0
    for i in range(40):
        text = "\n".join(f"k{j}: {TOKENS[(i * 7 + j) % len(TOKENS)]!r}" for j in range(5)) + "\n"
        accepted += agree(text)
    assert accepted == 40


# --- the loader: fast and PyYAML-only give the same results ---------------------------------------


def _both(monkeypatch: pytest.MonkeyPatch, source: Any, **kw: Any) -> tuple[Any, Any]:
    monkeypatch.setattr(_yaml, "FAST", False)
    slow = check_plan(source, **kw)
    monkeypatch.setattr(_yaml, "FAST", True)
    return check_plan(source, **kw), slow


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_check_reports_the_same(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    quick, slow = _both(monkeypatch, path)
    assert quick.errors == slow.errors
    assert quick.warnings == slow.warnings
    assert quick.summary == slow.summary


def _warn_everywhere(tenants: int) -> str:
    # every tenant: group `branches` unused, regions on a non-region group, an unreachable rule
    return (
        synthetic_plan_text(tenants=tenants, numbers_per_tenant=2)
        .replace("forward: branches}", "forward: desk}")
        .replace("        strategy: region\n", "")
        .replace(
            "          - {id: closed, announce: closed}",
            "          - {announce: closed}\n          - {announce: late}",
        )
    )


def test_warnings_placed_without_pyyaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = _warn_everywhere(30)
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    quick, slow = _both(monkeypatch, tmp_path / "plan.yaml")
    assert quick.ok and len(quick.warnings) >= 30 * 4
    assert quick.warnings == slow.warnings
    assert all(w.line is not None for w in quick.warnings)

    def no_compose(text: str) -> Any:
        raise AssertionError("PyYAML composed a plan that has warnings only")

    monkeypatch.setattr(_yaml, "compose", no_compose)
    assert load_plan(tmp_path / "plan.yaml").warnings == slow.warnings
    # JSON too: its warnings are placed by the Rust reader
    as_json = tmp_path / "plan.json"
    as_json.write_text(json.dumps(pyyaml(text), ensure_ascii=False, indent=1), encoding="utf-8")
    quick_json = load_plan(as_json)
    monkeypatch.undo()
    monkeypatch.setattr(_yaml, "FAST", False)
    assert quick_json.warnings == load_plan(as_json).warnings


def test_errors_on_the_fast_path_come_from_pyyaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the fast reader accepts this text; its errors are placed by a PyYAML compose, hints included
    text = (
        _warn_everywhere(5)
        .replace("ring_seconds: 20", "ring_seconds: '20'")
        .replace("prompt: welcome", "prompt: 2026-01-01")
    )
    assert not isinstance(yaml_to_json(text), str)
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    quick, slow = _both(monkeypatch, tmp_path / "plan.yaml")
    assert not quick.ok and len(quick.errors) >= 10
    assert quick.errors == slow.errors and quick.warnings == slow.warnings
    assert any(e.message.endswith('write "2026-01-01"') for e in quick.errors)


def test_fast_load_builds_the_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (ACCEPTANCE, DEMO):
        quick = load_plan(path)
        monkeypatch.setattr(_yaml, "FAST", False)
        slow = load_plan(path)
        monkeypatch.setattr(_yaml, "FAST", True)
        assert quick.model == slow.model
        assert quick.to_engine_json() == slow.to_engine_json()
        assert (quick.checksum, quick.warnings) == (slow.checksum, slow.warnings)


def test_engine_from_fast_yaml(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(synthetic_plan_text(tenants=20), encoding="utf-8")
    engine = routecore.Engine.from_file(path)
    assert engine.loaded.checksum == load_plan(path).checksum
    assert len(engine.loaded.model.tenants) == 20
