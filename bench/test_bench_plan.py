"""Plan loading speed (run with --benchmark-enable): YAML and JSON of a 1,000-tenant plan."""

from __future__ import annotations

import json

import pytest
import yaml
from routecore.plan import load_plan, synthetic_plan_text


@pytest.fixture(scope="module")
def yaml_text() -> str:
    return synthetic_plan_text(tenants=1_000, numbers_per_tenant=2)


def test_bench_load_yaml(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    plan = benchmark(load_plan, yaml_text)
    assert len(plan.model.tenants) == 1_000


def test_bench_load_json(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(yaml.safe_load(yaml_text), ensure_ascii=False)
    plan = benchmark(load_plan, text)
    assert len(plan.model.tenants) == 1_000


def test_bench_engine_json(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    plan = load_plan(yaml_text)
    assert benchmark(plan.to_engine_json).startswith(b'{"version":1')
