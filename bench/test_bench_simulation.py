"""The traffic simulation (`routecore.simulate`, rust/sim.rs): a day of calls through a call-centre
plan, against routing the same calls alone (`route_many`) in the same run.

Run (pytest-benchmark, a 100k-call day):

    .venv/bin/python -m pytest bench/test_bench_simulation.py --benchmark-enable -s

A whole day at full size (1 million calls; wall and CPU time, and the outcome):

    .venv/bin/python bench/test_bench_simulation.py 1000000

The plan (`call_centre_plan`): 100 numbers, each forwarding to its own group of 50 agents (5,000
targets, one line each, `max_calls: 1`) with the strategies in turn (least busy, round robin,
sequential, weighted, random) and voicemail on overflow; every fifth number opens with a menu.
At 1M calls a day the 10:00 peak offers about 5,000 erlangs to 5,000 agents: a busy day with
real queues of events, caps hit and overflow, not an idle one.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import pytest
import routecore
from routecore.simulation import DIURNAL, SEGMENTS

DAY = dt.date(2026, 11, 11)
STRATEGIES = ("least_busy", "round_robin", "sequential", "weighted", "random")
_results: dict[str, float] = {}


def call_centre_plan(numbers: int = 100, agents: int = 50) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    served: dict[str, Any] = {}
    menus: dict[str, Any] = {}
    for n in range(numbers):
        groups[f"g{n}"] = {
            "strategy": STRATEGIES[n % len(STRATEGIES)],
            "targets": [
                {"number": f"139{n:03d}{a:05d}", "max_calls": 1, "ring_seconds": 15, "weight": 1 + a % 3}
                for a in range(agents)
            ],
            "overflow": {"voicemail": f"box{n}"},
        }
        if n % 5 == 0:
            menus[f"m{n}"] = {
                "prompt": "welcome",
                "options": {"1": {"forward": f"g{n}"}, "2": {"announce": "hours"}},
                "timeout": {"forward": f"g{n}"},
            }
            flow = [{"id": "menu", "menu": f"m{n}"}]
        else:
            flow = [{"id": "all", "forward": f"g{n}"}]
        served[f"400{8000000 + n:07d}"] = {"flow": flow}
    return {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "tenants": {"centre": {"groups": groups, "menus": menus, "numbers": served}},
    }


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return call_centre_plan()


def _arrivals(calls: int) -> tuple[list[str], list[str], list[dt.datetime]]:
    """The same kind of traffic as the simulation, for routing alone (no play-out)."""
    import random

    rng = random.Random(1)
    engine = routecore.Engine.from_dict(call_centre_plan())
    numbers = engine.numbers()
    segments = [s for v in SEGMENTS.values() for s in v]
    base = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    hours = rng.choices(range(24), DIURNAL, k=calls)
    at = sorted(base + dt.timedelta(seconds=3600 * h + rng.random() * 3600) for h in hours)
    called = [rng.choice(numbers) for _ in range(calls)]
    caller = [rng.choice(segments) + f"{rng.randrange(10_000):04d}" for _ in range(calls)]
    return called, caller, at


def test_simulate_day_100k(benchmark: Any, plan: dict[str, Any]) -> None:
    def fresh() -> tuple[tuple[routecore.Engine], dict[str, Any]]:
        # A fresh engine (empty decision state) per round, compiled outside the timing.
        return (routecore.Engine.from_dict(plan),), {}

    def run(engine: routecore.Engine) -> routecore.simulation.SimReport:
        return routecore.simulate(engine, calls=100_000, day=DAY, seed=1, patience_seconds=40.0)

    report = benchmark.pedantic(run, setup=fresh, rounds=3, iterations=1)
    assert report.calls > 95_000
    assert report.answered > 0 and report.abandoned > 0
    _results["simulate"] = benchmark.stats.stats.median


def test_route_many_same_calls_100k(benchmark: Any, plan: dict[str, Any]) -> None:
    """The baseline: deciding 100k calls once each, no menus re-decided, no play-out."""
    called, caller, at = _arrivals(100_000)
    engine = routecore.Engine.from_dict(plan)

    def run() -> Any:
        return engine.route_many(called=called, caller=caller, at=at)

    batch = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(batch) == 100_000
    _results["route_many"] = benchmark.stats.stats.median
    if "simulate" in _results:
        print(
            f"\nsimulated day of 100k calls {_results['simulate']:.2f} s; routing them alone "
            f"{_results['route_many']:.2f} s; ratio {_results['simulate'] / _results['route_many']:.1f}x"
        )


def main(calls: int) -> None:
    engine = routecore.Engine.from_dict(call_centre_plan())
    wall, cpu = time.perf_counter(), time.process_time()
    report = routecore.simulate(engine, calls=calls, day=DAY, seed=1, patience_seconds=40.0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{report.calls:,} calls simulated in {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(
        f"forwarded {report.forwarded:,}  answered {report.answered:,}  abandoned {report.abandoned:,}  "
        f"lost {report.lost:,}  overflowed {report.overflowed:,}  other {report.other}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
