"""The acceptance vectors' `expect` checker (acceptance/README.md), shared by every model under test.

`check_expect` takes a decision as a dict with the proto's field names, or as an object with those
attributes (`called_class.class` may be spelt `class_`), or the error the request raised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

EQUAL_KEYS = ("action", "rule", "tenant", "prompt", "voicemail_box", "parallel")
KNOWN_KEYS = frozenset(
    {*EQUAL_KEYS, "error", "targets", "targets_set", "ring_seconds", "rates", "menu", "reject", "display"}
    | {"caller", "called_class"}
)
RATE_TOLERANCE = 1e-9

Route = Callable[[Mapping[str, Any]], Any]
Report = Callable[[Mapping[str, Any]], None]


def load_vectors(path: str | Path) -> list[dict[str, Any]]:
    """Every case of a vectors.jsonl file, in order (blank lines skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj[name]
    if name == "class" and not hasattr(obj, "class"):
        return obj.class_
    return getattr(obj, name)


def _target_name(target: Any) -> str:
    return _get(target, "number") or _get(target, "uri")


def _default_error_code(err: BaseException) -> str:
    return str(getattr(err, "code", type(err).__name__))


def check_expect(
    decision: Any,
    expect: Mapping[str, Any],
    error_code: Callable[[BaseException], str] = _default_error_code,
) -> list[str]:
    """Compare one decision (or the error raised instead) with a vector's `expect`.

    Args:
        decision: the decision (dict or object), or the exception / gRPC status name of a failure.
        expect: the vector's `expect`; only the keys present are checked.
        error_code: maps a raised exception to its gRPC status name (default: its `.code`).

    Returns:
        One line per mismatch; empty when the decision meets every expectation.
    """
    problems: list[str] = []
    unknown = set(expect) - KNOWN_KEYS
    if unknown:
        problems.append(f"unknown expect keys {sorted(unknown)}")
    failed = decision if isinstance(decision, str) else None
    if isinstance(decision, BaseException):
        failed = error_code(decision)
    if "error" in expect:
        if failed != expect["error"]:
            got = f"error {failed}" if failed is not None else f"a decision ({_get(decision, 'action')})"
            problems.append(f"error: expected {expect['error']}, got {got}")
        return problems
    if failed is not None:
        return [*problems, f"expected a decision, got error {failed}: {decision}"]

    for key in EQUAL_KEYS:
        if key in expect and _get(decision, key) != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {_get(decision, key)!r}")
    targets = list(_get(decision, "targets"))
    names = [_target_name(t) for t in targets]
    if "targets" in expect and names != list(expect["targets"]):
        problems.append(f"targets: expected {expect['targets']}, got {names}")
    if "targets_set" in expect and (
        sorted(names) != sorted(expect["targets_set"]) or len(set(names)) != len(names)
    ):
        problems.append(f"targets_set: expected {sorted(expect['targets_set'])}, got {names}")
    if "ring_seconds" in expect:
        rings = [_get(t, "ring_seconds") for t in targets]
        if rings != list(expect["ring_seconds"]):
            problems.append(f"ring_seconds: expected {expect['ring_seconds']}, got {rings}")
    if "rates" in expect:
        rates = [float(_get(t, "rate_per_minute")) for t in targets]
        if len(rates) != len(expect["rates"]) or not all(
            math.isclose(g, e, rel_tol=0.0, abs_tol=RATE_TOLERANCE)
            for g, e in zip(rates, expect["rates"], strict=False)
        ):
            problems.append(f"rates: expected {expect['rates']}, got {rates}")
    if "menu" in expect:
        menu = _get(decision, "menu")
        for key, want in expect["menu"].items():
            got = _get(menu, key)
            if key == "keys":
                if sorted(got) != sorted(want) or len(set(got)) != len(got):
                    problems.append(f"menu.keys: expected {sorted(want)} (as a set), got {list(got)}")
            elif got != want:
                problems.append(f"menu.{key}: expected {want!r}, got {got!r}")
    for part in ("reject", "display", "caller"):
        if part in expect:
            sub = _get(decision, part)
            for key, want in expect[part].items():
                got = _get(sub, key)
                if got != want:
                    problems.append(f"{part}.{key}: expected {want!r}, got {got!r}")
    if "called_class" in expect:
        klass = _get(decision, "called_class")
        want = expect["called_class"]
        for key in set(want) - {"class", "tags_include"}:
            problems.append(f"called_class: unknown expect key {key!r}")
        if "class" in want and _get(klass, "class") != want["class"]:
            problems.append(f"called_class.class: expected {want['class']!r}, got {_get(klass, 'class')!r}")
        tags = list(_get(klass, "tags"))
        for tag in want.get("tags_include", []):
            if tag not in tags:
                problems.append(f"called_class.tags: {tag!r} missing from {tags}")
    return problems


def _steps(case: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if "steps" in case:
        yield from case["steps"]
    else:
        yield {"request": case["request"], "expect": case["expect"]}


def run_case(
    case: Mapping[str, Any],
    route: Route,
    report: Report,
    error_code: Callable[[BaseException], str] = _default_error_code,
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> list[str]:
    """Run one vector (single request or steps with events) on a fresh model; mismatches, step-tagged.

    Args:
        case: one line of vectors.jsonl.
        route: called with a step's `request` dict; returns the decision or raises.
        report: called with a step's `event` dict.
        error_code: maps a raised exception to its gRPC status name.
        errors: the exception types that count as a refused request (others propagate).
    """
    problems: list[str] = []
    for i, step in enumerate(_steps(case)):
        if "event" in step:
            report(step["event"])
            continue
        try:
            decision: Any = route(step["request"])
        except errors as err:
            decision = err
        problems.extend(f"step {i}: {p}" for p in check_expect(decision, step["expect"], error_code))
    return problems
