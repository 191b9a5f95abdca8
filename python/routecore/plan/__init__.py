"""The routing plan: load, check, JSON Schema (plan-format.md).

plan = load_plan(Path("plan.yaml"))       # raises routecore.PlanError listing every problem
plan.to_engine_json()                     # plan-format JSON with defaults, for the Rust compiler
report = check_plan("plan.yaml")          # errors, warnings, summary (`routecore check`)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from routecore.plan.loader import CheckReport, LoadedPlan, PlanIssue, PlanSummary, check_plan, load_plan
from routecore.plan.models import Plan
from routecore.plan.report import render_report
from routecore.plan.synthetic import synthetic_plan_text

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "plan_schema.json"


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, generated from the pydantic models."""
    schema = Plan.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from routecore.plan.models by `python -m routecore.plan schema`; do not edit.",
        **schema,
    }


def plan_json_schema_text() -> str:
    """The schema as committed in `routecore/plan_schema.json` (stable key order, UTF-8)."""
    return json.dumps(plan_json_schema(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "SCHEMA_PATH",
    "CheckReport",
    "LoadedPlan",
    "Plan",
    "PlanIssue",
    "PlanSummary",
    "check_plan",
    "load_plan",
    "plan_json_schema",
    "plan_json_schema_text",
    "render_report",
    "synthetic_plan_text",
]
