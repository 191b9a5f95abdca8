"""Synthetic plans for benchmarks: the acceptance plan with a big block list, and huge plans."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "acceptance"


def acceptance_with_blocklist(tmp: Path, size: int = 1_000_000) -> Path:
    """The acceptance plan with a `size`-number global block list (file) added."""
    plan = yaml.safe_load((SPEC / "plan.yaml").read_text(encoding="utf-8"))
    (tmp / "lists").mkdir(parents=True, exist_ok=True)
    (tmp / "lists" / "fraud.txt").write_bytes((SPEC / "lists" / "fraud.txt").read_bytes())
    rng = random.Random(1)
    # Numbers in segments 150-159 never dialled by the benchmark's callers.
    numbers = {f"15{rng.randrange(10**9):09d}" for _ in range(size)}
    (tmp / "lists" / "big.txt").write_text("\n".join(sorted(numbers)) + "\n", encoding="ascii")
    plan["lists"]["big"] = {"file": "lists/big.txt", "reason": "big"}
    plan["blocklists"].append("big")
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def huge_plan(tenants: int = 10_000, numbers_per_tenant: int = 2) -> dict[str, Any]:
    """A plan with `tenants` tenants and `tenants * numbers_per_tenant` numbers."""
    plan: dict[str, Any] = {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "schedules": {"office": {"calendar": "cn", "hours": {"workday": ["09:00-18:00"]}}},
        "rates": {"default": {"mobile": 0.2, "landline": 0.15, "sip": 0.05}},
        "tenants": {},
    }
    for t in range(tenants):
        numbers = {}
        for k in range(numbers_per_tenant):
            n = 4000000000 + t * numbers_per_tenant + k
            numbers[str(n)] = {
                "flow": [
                    {"id": "open", "when": {"schedule": "office"}, "menu": "main"},
                    {"id": "closed", "announce": "closed"},
                ]
            }
        plan["tenants"][f"t{t}"] = {
            "name": f"Tenant {t}",
            "display": {"name": f"T{t}", "tag": "hotline"},
            "groups": {
                "desk": {
                    "strategy": "round_robin",
                    "targets": [{"number": f"138{t:08d}"}, {"number": f"139{t:08d}"}],
                }
            },
            "menus": {"main": {"prompt": "welcome", "options": {"1": {"forward": "desk"}}}},
            "numbers": numbers,
        }
    return plan
