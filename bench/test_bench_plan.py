"""Plan loading speed (run with --benchmark-enable): YAML and JSON of a 1,000-tenant plan; the
Rust YAML reader against PyYAML; the 10,000-tenant / 20,000-number plan from file to engine, and
its compile step alone (issue 3: < 3 s and < 1 s)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import routecore
import yaml
from planfactory import huge_plan
from routecore._routecore import yaml_to_json
from routecore.engine import _compile_args
from routecore.plan import _yaml, load_plan, synthetic_plan_text


@pytest.fixture(scope="module")
def yaml_text() -> str:
    return synthetic_plan_text(tenants=1_000, numbers_per_tenant=2)


@pytest.fixture(scope="module")
def big_plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    path.write_text(synthetic_plan_text(tenants=10_000, numbers_per_tenant=2), encoding="utf-8")
    return path


def test_bench_load_yaml(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    plan = benchmark(load_plan, yaml_text)
    assert len(plan.model.tenants) == 1_000


def test_bench_load_yaml_pyyaml_only(benchmark, yaml_text: str, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_yaml, "FAST", False)
    plan = benchmark(load_plan, yaml_text)
    assert len(plan.model.tenants) == 1_000


def test_bench_load_json(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(yaml.safe_load(yaml_text), ensure_ascii=False)
    plan = benchmark(load_plan, text)
    assert len(plan.model.tenants) == 1_000


def test_bench_engine_json(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    plan = load_plan(yaml_text)
    assert benchmark(plan.to_engine_json).startswith(b'{"version":1')


def test_bench_yaml_reader_rust(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    doc = benchmark(_yaml.load_fast, yaml_text)
    assert doc is not None and len(doc.data["tenants"]) == 1_000


def test_bench_yaml_reader_pyyaml(benchmark, yaml_text: str) -> None:  # type: ignore[no-untyped-def]
    doc = benchmark(_yaml.load_yaml, yaml_text)
    assert len(doc.data["tenants"]) == 1_000


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def test_bench_big_plan_from_file(benchmark, big_plan_file: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 3: the detailed 10,000-tenant / 20,000-number YAML plan, file to engine."""
    assert not isinstance(yaml_to_json(big_plan_file.read_text(encoding="utf-8")), str)
    engine = benchmark.pedantic(routecore.Engine.from_file, args=(big_plan_file,), rounds=3, iterations=1)
    assert len(engine.numbers()) == 20_000
    _, wall, cpu = _timed(lambda: routecore.Engine.from_file(big_plan_file))
    benchmark.extra_info.update(from_file_wall=wall, from_file_cpu=cpu)
    loaded, wall, cpu = _timed(lambda: load_plan(big_plan_file))
    benchmark.extra_info.update(load_wall=wall, load_cpu=cpu)
    _, wall, cpu = _timed(lambda: routecore.Engine(*_compile_args(loaded)))
    benchmark.extra_info.update(compile_wall=wall, compile_cpu=cpu)
    print("\n" + ", ".join(f"{k} {v:.2f} s" for k, v in benchmark.extra_info.items()))


def test_bench_big_plan_compile(benchmark, big_plan_file: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 3: the compile step alone (engine JSON, then the Rust compiler)."""
    loaded = load_plan(big_plan_file)
    engine = benchmark.pedantic(lambda: routecore.Engine(*_compile_args(loaded)), rounds=3, iterations=1)
    assert len(engine.numbers()) == 20_000


def test_bench_huge_plan_safe_dump(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """planfactory's huge plan as PyYAML writes it (block style, quoted digit strings)."""
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(huge_plan(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert not isinstance(yaml_to_json(path.read_text(encoding="utf-8")), str)
    engine = benchmark.pedantic(routecore.Engine.from_file, args=(path,), rounds=3, iterations=1)
    assert len(engine.numbers()) == 20_000
