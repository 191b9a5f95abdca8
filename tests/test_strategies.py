"""Statistical and exactness tests of the ordering strategies (issue 3, "Correctness").

- weighted: first places follow the weights (chi-square), weight 0 is never first, one target works;
- random: every permutation equally likely (chi-square over all n! orders);
- round_robin: exactly fair over any window, skipping ineligible targets without losing its place;
- the `cn` schedules agree with the official calendar (chinese_calendar) on every day of 2025-2026.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from typing import Any

import chinese_calendar
import pytest
import routecore

AT = "2026-11-11T10:00:00+08:00"
TARGETS = ["13800000010", "13800000011", "13800000012", "13800000013"]


def _plan(strategy: str, targets: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "seed": extra.pop("seed", 0),
        "tenants": {
            "t": {
                "groups": {"g": {"strategy": strategy, "targets": targets, **extra}},
                "numbers": {"4001234567": {"flow": [{"forward": "g"}]}},
            }
        },
    }


def _firsts(engine: routecore.Engine, n: int) -> list[str]:
    out = engine.route_many(called=["4001234567"] * n, caller=["13900000000"] * n, at=[AT] * n)
    return [d.targets[0].number for d in out]


def chi_square_p(observed: list[int], expected: list[float]) -> float:
    """Upper-tail p-value of Pearson's chi-square statistic (Wilson-Hilferty approximation)."""
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    k = len(observed) - 1
    z = ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize("weights", [[3, 1], [5, 3, 2], [1, 1, 1, 1], [7, 0, 2]])
def test_weighted_first_places_follow_the_weights(weights: list[int]) -> None:
    targets = [{"number": n, "weight": w} for n, w in zip(TARGETS, weights, strict=False)]
    engine = routecore.Engine.from_dict(_plan("weighted", targets))
    total = sum(weights)
    n = total * 500
    counts = Counter(_firsts(engine, n))
    # Smooth weighted round robin is exact over every full cycle, not merely in distribution.
    for number, w in zip(TARGETS, weights, strict=False):
        assert counts[number] == n * w // total
    positive = [(t["number"], w) for t, w in zip(targets, weights, strict=True) if w > 0]
    observed = [counts[num] for num, _ in positive]
    expected = [n * w / total for _, w in positive]
    if len(positive) > 1:
        assert chi_square_p(observed, expected) > 0.01


def test_weighted_zero_weight_is_never_first_and_comes_last() -> None:
    targets = [
        {"number": TARGETS[0], "weight": 0},
        {"number": TARGETS[1], "weight": 1},
        {"number": TARGETS[2], "weight": 2},
    ]
    engine = routecore.Engine.from_dict(_plan("weighted", targets))
    for d in engine.route_many(called=["4001234567"] * 30, caller=["13900000000"] * 30, at=[AT] * 30):
        order = [t.number for t in d.targets]
        assert order[0] != TARGETS[0]
        assert order[-1] == TARGETS[0]


def test_weighted_single_target() -> None:
    engine = routecore.Engine.from_dict(_plan("weighted", [{"number": TARGETS[0], "weight": 4}]))
    assert set(_firsts(engine, 20)) == {TARGETS[0]}


@pytest.mark.parametrize("size", [3, 4])
def test_random_gives_uniform_permutations(size: int) -> None:
    targets = [{"number": n} for n in TARGETS[:size]]
    engine = routecore.Engine.from_dict(_plan("random", targets))
    perms = list(itertools.permutations(TARGETS[:size]))
    n = len(perms) * 400
    out = engine.route_many(called=["4001234567"] * n, caller=["13900000000"] * n, at=[AT] * n)
    counts = Counter(tuple(t.number for t in d.targets) for d in out)
    assert set(counts) == set(perms)
    assert chi_square_p([counts[p] for p in perms], [n / len(perms)] * len(perms)) > 0.001


def test_random_replays_deterministically_from_the_seed() -> None:
    targets = [{"number": n} for n in TARGETS]
    a = _firsts(routecore.Engine.from_dict(_plan("random", targets, seed=42)), 50)
    b = _firsts(routecore.Engine.from_dict(_plan("random", targets, seed=42)), 50)
    c = _firsts(routecore.Engine.from_dict(_plan("random", targets, seed=43)), 50)
    assert a == b
    assert a != c


def test_round_robin_is_exactly_fair_over_any_window() -> None:
    targets = [{"number": n} for n in TARGETS[:3]]
    engine = routecore.Engine.from_dict(_plan("round_robin", targets))
    firsts = _firsts(engine, 300)
    for start in range(0, 297):
        window = firsts[start : start + 3]
        assert sorted(window) == sorted(TARGETS[:3]), start
    for size in (30, 31, 32):
        counts = Counter(firsts[7 : 7 + size])
        assert max(counts.values()) - min(counts.values()) <= 1


def test_round_robin_skips_an_off_shift_target_but_keeps_its_place() -> None:
    plan = _plan(
        "round_robin",
        [{"number": TARGETS[0]}, {"number": TARGETS[1], "schedule": "never"}, {"number": TARGETS[2]}],
    )
    plan["schedules"] = {"never": {"hours": {"all": ["00:00-00:01"]}}}
    engine = routecore.Engine.from_dict(plan)
    orders = [
        [t.number for t in d.targets]
        for d in engine.route_many(called=["4001234567"] * 3, caller=["13900000000"] * 3, at=[AT] * 3)
    ]
    assert orders == [
        [TARGETS[0], TARGETS[2]],
        [TARGETS[2], TARGETS[0]],  # position 1 is off shift: the rotation still moved past it
        [TARGETS[2], TARGETS[0]],
    ]


def _official_day_type(day: dt.date) -> str:
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    if on_holiday and name is not None:
        return "holiday"
    if not on_holiday and name is not None:
        return "workday"  # a make-up workday (调休)
    return {5: "sat", 6: "sun"}.get(day.weekday(), "workday")


def test_cn_schedules_agree_with_the_official_calendar_2025_2026() -> None:
    plan = {
        "version": 1,
        "schedules": {
            kind: {"calendar": "cn", "hours": {kind: ["00:00-24:00"]}}
            for kind in ("workday", "sat", "sun", "holiday")
        },
        "tenants": {
            "t": {
                "numbers": {
                    "4001234567": {
                        "flow": [
                            {"when": {"schedule": "workday"}, "announce": "workday"},
                            {"when": {"schedule": "sat"}, "announce": "sat"},
                            {"when": {"schedule": "sun"}, "announce": "sun"},
                            {"when": {"schedule": "holiday"}, "announce": "holiday"},
                            {"announce": "none"},
                        ]
                    }
                }
            }
        },
    }
    engine = routecore.Engine.from_dict(plan)
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(730)]
    out = engine.route_many(
        called=["4001234567"] * len(days),
        caller=["13900000000"] * len(days),
        at=[f"{d.isoformat()}T12:00:00+08:00" for d in days],
    )
    mismatches = [
        (d, got.prompt, _official_day_type(d))
        for d, got in zip(days, out, strict=True)
        if got.prompt != _official_day_type(d)
    ]
    assert not mismatches, mismatches[:10]
