"""The acceptance vectors of ../shared/spec/acceptance/, unchanged, through the Python API.

Every case runs on a freshly loaded engine; multi-step cases interleave requests and call
events. The expectation checker is shared with the reference model's own test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import routecore
from reference.vectors import check_expect
from routecore.cli import decision_dict

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"


def _cases() -> list[dict[str, Any]]:
    with (SPEC / "vectors.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


CASES = _cases() if (SPEC / "vectors.jsonl").exists() else []
ERROR_CODES = {
    routecore.InvalidNumberError: "INVALID_ARGUMENT",
    routecore.InvalidArgumentError: "INVALID_ARGUMENT",
    routecore.NotFoundError: "NOT_FOUND",
}


@pytest.fixture(scope="module")
def plan_loaded() -> Any:
    from routecore.plan import load_plan

    return load_plan(SPEC / "plan.yaml")


def _route(engine: routecore.Engine, request: dict[str, Any]) -> Any:
    try:
        d = engine.route(
            called=request["called"],
            caller=request["caller"],
            digits=request.get("digits", ""),
            at=request.get("time"),
            call_id=request.get("call_id", ""),
        )
    except routecore.RoutecoreError as e:
        return ERROR_CODES.get(type(e), type(e).__name__)
    return decision_dict(d)


def test_vectors_are_there() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any], plan_loaded: Any) -> None:
    engine = routecore.Engine.from_loaded(plan_loaded)
    steps = case.get("steps") or [{"request": case["request"], "expect": case["expect"]}]
    for i, step in enumerate(steps):
        if "event" in step:
            ev = step["event"]
            engine.report(
                call_id=ev["call_id"],
                type=ev["type"],
                target=ev["target"],
                at=ev.get("time"),
                duration_seconds=ev.get("duration_seconds", 0),
            )
            continue
        got = _route(engine, step["request"])
        problems = check_expect(got, step["expect"])
        assert not problems, f"step {i + 1}: " + "; ".join(problems)
