"""The traffic simulation (python/routecore/simulate.py): Erlang B validation, determinism, demo smoke."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
import routecore
from routecore.simulate import DIURNAL, simulate

DAY = dt.date(2026, 11, 11)
HOLD = 100.0


def erlang_b(c: int, load: float) -> float:
    """B(c, A) by the standard recursion B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


def group_plan(c: int, strategy: str = "sequential") -> dict[str, object]:
    """One number forwarding every call to one sequential group of `c` targets, no overflow."""
    return {
        "version": 1,
        "timezone": "Asia/Shanghai",
        "tenants": {
            "t": {
                "groups": {
                    "g": {
                        "strategy": strategy,
                        "targets": [{"number": f"1380001{k:04d}"} for k in range(c)],
                    }
                },
                "numbers": {"4001000001": {"flow": [{"id": "all", "forward": "g"}]}},
            }
        },
    }


def test_erlang_b_recursion_matches_known_values() -> None:
    # Textbook values: B(1, A) = A / (1 + A); B(2, 1) = 0.2.
    assert erlang_b(1, 3.0) == pytest.approx(0.75)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("c", "load", "strategy"),
    [(3, 1.0, "sequential"), (3, 2.0, "sequential"), (3, 4.0, "sequential"), (2, 1.5, "ring_all")],
)
def test_blocking_matches_erlang_b(c: int, load: float, strategy: str) -> None:
    # Constant arrival rate load / HOLD, exponential handling of mean HOLD, every free target answers
    # at once: an M/M/c/c loss system, whose blocking probability is B(c, A). Ringing all free
    # targets at once is the same system.
    calls_per_day = load / HOLD * 86_400
    days = 20_000 / calls_per_day  # about 20,000 calls per load
    report = simulate(
        group_plan(c, strategy),
        calls=calls_per_day,
        day=DAY,
        seed=11,
        days=days,
        hourly_weights=[1.0] * 24,
        anonymous_share=0.0,
        answer_probability=1.0,
        ring_seconds=0.0,
        mean_handling_seconds=HOLD,
    )
    assert report.forwarded == report.calls
    assert report.rejected == {}
    expected = erlang_b(c, load)
    n = report.forwarded
    # Successive blocking outcomes are positively correlated; widen the binomial interval by 2
    # (an overestimate of the variance inflation at these loads) and take 4 sigma.
    sigma = 2.0 * math.sqrt(expected * (1 - expected) / n)
    assert abs(report.blocking - expected) < 4 * sigma, (report.blocking, expected, n)
    # Carried load = A (1 - B) erlangs, spread over the c targets.
    carried = sum(report.utilisation.values())
    assert carried == pytest.approx(load * (1 - expected), rel=0.08)


def test_same_seed_same_report() -> None:
    def run(seed: int) -> dict[str, object]:
        return simulate(routecore.Engine.demo(), calls=3000, day=DAY, seed=seed).to_dict()

    first = run(5)
    assert run(5) == first
    assert run(6) != first


def test_demo_day() -> None:
    report = simulate(routecore.Engine.demo(), calls=4000, day=DAY, seed=1)
    d = report.to_dict()
    assert d["calls"] == report.calls == sum(report.offered_by_hour)
    # Poisson count: 4000 expected, sd 63.
    assert 3700 < report.calls < 4300
    assert report.answered > 0
    assert report.answered + report.lost + sum(report.rejected.values()) + sum(report.other.values()) == (
        report.calls
    )
    assert sum(report.answered_by_hour) == report.answered
    assert sum(report.lost_by_hour) == report.lost
    # The diurnal curve: the 10:00 hour carries far more calls than 03:00.
    assert report.offered_by_hour[10] > 10 * report.offered_by_hour[3]
    assert DIURNAL[10] > DIURNAL[3]
    assert all(0.0 <= u <= 1.0 for u in report.utilisation.values())
    assert report.utilisation


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="hourly_weights"):
        simulate(group_plan(1), calls=10, day=DAY, hourly_weights=[1.0] * 23)
    with pytest.raises(ValueError, match="province_mix"):
        simulate(group_plan(1), calls=10, day=DAY, province_mix={"火星": 1.0})


def test_reports_drive_the_engine_caps() -> None:
    # One target with max_calls 1: while it handles a call, the engine (told by ANSWERED/ENDED in
    # simulated time) skips it and rejects with no_target, so the simulator never finds it busy.
    plan = group_plan(1)
    plan["tenants"]["t"]["groups"]["g"]["targets"][0]["max_calls"] = 1  # type: ignore[index]
    report = simulate(
        plan,
        calls=864.0,
        day=DAY,
        seed=3,
        hourly_weights=[1.0] * 24,
        anonymous_share=0.0,
        answer_probability=1.0,
        ring_seconds=0.0,
        mean_handling_seconds=HOLD,
        batch_size=1,
    )
    assert report.lost == 0
    assert report.rejected.get("no_target", 0) > 0
    assert report.answered + report.rejected["no_target"] == report.calls


def test_unanswered_calls_are_lost() -> None:
    report = simulate(group_plan(2), calls=500, day=DAY, seed=4, answer_probability=0.0)
    assert report.answered == 0
    assert report.lost == report.calls > 0
    assert report.utilisation == {}


def test_cli_simulate_json() -> None:
    from routecore.cli import app
    from typer.testing import CliRunner

    args = ["simulate", "--calls", "800", "--seed", "2", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out == json.loads(CliRunner().invoke(app, args).stdout)
    assert out["calls"] == sum(h["offered"] for h in out["by_hour"]) > 0
