"""The traffic simulation (python/routecore/simulation.py over rust/sim.rs): Erlang B validation,
determinism, abandonment, replay from CSV and a record store, the package-level function, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
import routecore
from routecore._routecore import Simulation
from routecore.exceptions import InvalidArgumentError
from routecore.simulation import DIURNAL, Arrivals, SimReport, simulate

DAY = dt.date(2026, 11, 11)
AT = "2026-11-11T10:00:00+08:00"
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


def test_an_engine_is_simulated_on_a_copy_and_left_untouched() -> None:
    # A serving engine handed to simulate() keeps its rotations and slots: the simulated calls
    # run on a fresh copy of its plan, so two runs agree and the engine still answers as new.
    engine, fresh = routecore.Engine.demo(), routecore.Engine.demo()

    def rotation(e: routecore.Engine) -> list[str]:
        return [e.route("4001234567", "13800138000", digits="2", at=AT).targets[0].number for _ in range(3)]

    first = simulate(engine, calls=2000, day=DAY, seed=3).to_dict()
    assert simulate(engine, calls=2000, day=DAY, seed=3).to_dict() == first
    assert rotation(engine) == rotation(fresh)


def test_demo_day() -> None:
    report = simulate(routecore.Engine.demo(), calls=4000, day=DAY, seed=1)
    d = report.to_dict()
    assert d["calls"] == report.calls == sum(report.offered_by_hour)
    # Poisson count: 4000 expected, sd 63.
    assert 3700 < report.calls < 4300
    assert report.answered > 0
    assert report.answered + report.lost + report.abandoned == report.forwarded
    assert report.forwarded + sum(report.rejected.values()) + sum(report.other.values()) == report.calls
    assert sum(report.answered_by_hour) == report.answered
    assert sum(report.lost_by_hour) == report.lost
    # The diurnal curve: the 10:00 hour carries far more calls than 03:00.
    assert report.offered_by_hour[10] > 10 * report.offered_by_hour[3]
    # Every call but failed requests has a final decision with a tenant, a number and a rule.
    decided = report.calls - sum(n for k, n in report.other.items() if k.startswith("error:"))
    for counts in (report.by_tenant, report.by_number, report.by_rule):
        assert sum(counts.values()) == decided
    assert set(report.by_number) <= set(routecore.Engine.demo().numbers())
    assert DIURNAL[10] > DIURNAL[3]
    assert all(0.0 <= u <= 1.0 for u in report.utilisation.values())
    assert report.utilisation


def test_bad_arguments() -> None:
    # Each refusal names simulate()'s own parameter, never the core's (span_seconds, listed_share).
    for kwargs, message in (
        ({"calls": 1e12}, "calls: 1000000000000 a day for 1 days is 1000000000000 calls; one run"),
        ({"calls": 10, "days": -1.0}, "days: -1 is not a positive number of days"),
        ({"calls": 10, "days": math.nan}, "days: nan is not"),
        ({"calls": 10, "blocked_share": 2.0}, "blocked_share: 2 is not a share"),
        ({"calls": 10, "patience_seconds": -1.0}, "patience_seconds: -1 is not"),
        ({"calls": 10, "ring_seconds": -1.0}, "ring_seconds: -1 is not"),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            simulate(group_plan(1), day=DAY, **kwargs)  # type: ignore[arg-type]
        assert str(info.value).startswith(message), (kwargs, str(info.value))
    with pytest.raises(InvalidArgumentError, match="hourly_weights"):
        simulate(group_plan(1), calls=10, day=DAY, hourly_weights=[1.0] * 23)
    with pytest.raises(ValueError, match="province_mix"):
        simulate(group_plan(1), calls=10, day=DAY, province_mix={"火星": 1.0})
    with pytest.raises(InvalidArgumentError, match="answer_probability"):
        simulate(group_plan(1), calls=10, day=DAY, answer_probability=1.5)
    with pytest.raises(InvalidArgumentError, match=r"^patience_seconds"):
        simulate(group_plan(1), calls=10, day=DAY, patience_seconds=-1.0)
    with pytest.raises(InvalidArgumentError, match="handling"):
        simulate(group_plan(1), calls=10, day=DAY, handling="gamma")
    with pytest.raises(InvalidArgumentError, match="calls"):
        simulate(group_plan(1), day=DAY)
    engine = routecore.Engine.from_dict(group_plan(1))
    with pytest.raises(InvalidArgumentError, match="arrivals: column caller has 0 items, at has 1"):
        Simulation(engine, start=0.0, span_seconds=86_400.0, arrivals=([1.0], ["4001000001"], [], [""]))
    with pytest.raises(InvalidArgumentError, match=r"arrivals\[0\].at"):
        Simulation(engine, start=0.0, span_seconds=86_400.0, arrivals=([-5.0], ["4001000001"], [""], [""]))
    with pytest.raises(InvalidArgumentError, match="span_seconds"):
        Simulation(engine, start=0.0, span_seconds=0.0, calls_per_day=10.0)
    with pytest.raises(InvalidArgumentError, match="not both"):
        Simulation(engine, start=0.0, span_seconds=1.0, calls_per_day=1.0, arrivals=([], [], [], []))


@pytest.mark.parametrize(
    "target",
    [{"number": "13800000009"}, {"uri": "sip:13800000009@gw"}, {"uri": "sip:desk@pbx.example"}],
    ids=["number", "uri of a number", "uri"],
)
def test_reports_drive_the_engine_caps(target: dict[str, str]) -> None:
    # One target with max_calls 1: while it handles a call, the engine (told by ANSWERED/ENDED in
    # simulated time, under the target's slot key) skips it and rejects with no_target, so the
    # simulator never finds it busy.
    plan = group_plan(1)
    plan["tenants"]["t"]["groups"]["g"]["targets"] = [{**target, "max_calls": 1}]  # type: ignore[index]
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


def test_package_level_function() -> None:
    # `routecore.simulate` is the function; the module is `routecore.simulation`.
    assert routecore.simulate is simulate
    report = routecore.simulate(group_plan(2), calls=200, day=DAY, seed=1)
    assert isinstance(report, SimReport)
    assert report.calls > 0


def test_day_as_an_iso_string_or_a_date() -> None:
    by_date = routecore.simulate(group_plan(2), calls=200, day=DAY, seed=1).to_dict()
    assert routecore.simulate(group_plan(2), calls=200, day="2026-11-11", seed=1).to_dict() == by_date
    at_noon = dt.datetime(2026, 11, 11, 12, 0)  # a datetime: its day, from local midnight
    assert routecore.simulate(group_plan(2), calls=200, day=at_noon, seed=1).to_dict() == by_date
    with pytest.raises(InvalidArgumentError, match=r"^day: '2026-13-11' is not an ISO date"):
        routecore.simulate(group_plan(2), calls=200, day="2026-13-11")
    with pytest.raises(TypeError, match=r"^day: expected a date or an ISO date string"):
        routecore.simulate(group_plan(2), calls=200, day=20261111)  # type: ignore[arg-type]


def test_cli_simulate_bad_day_is_one_line() -> None:
    from routecore.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["simulate", "--calls", "10", "--day", "2026-11-31"])
    assert result.exit_code == 1
    # The flag typed, not the library's parameter (`day:`).
    expected = "InvalidArgumentError: --day: '2026-11-31' is not an ISO date (YYYY-MM-DD)"
    assert result.output.strip() == expected


def test_report_has_stats_frames_and_charts() -> None:
    """Spec: `routecore.simulate(...) -> report (stats, frames, charts)`."""
    rep = routecore.simulate(routecore.Engine.demo(), calls=500, day="2026-11-11", seed=2)
    assert rep.stats["calls"] == rep.calls and rep.stats["answer_rate"] == rep.answer_rate
    assert {k: v for k, v in rep.to_dict().items() if k in rep.stats} == rep.stats
    frames = rep.frames()
    assert set(frames) == {"hours", "targets", "groups", "provinces", "tenants", "numbers", "rules"}
    assert [row["hour"] for row in frames["hours"]] == list(range(24))
    assert sum(row["offered"] for row in frames["hours"]) == rep.calls
    assert {row["target"]: row["answered"] for row in frames["targets"]} == {
        k: t["answered"] for k, t in rep.targets.items()
    }
    assert sum(row["calls"] for row in frames["tenants"]) == sum(rep.by_tenant.values())
    assert all(set(row) == set(frames["groups"][0]) for row in frames["groups"])  # a table: same columns
    drawn = rep.charts()
    assert [c.name for c in drawn] == ["hourly_volume", "regions", "answer_rate"]
    assert all(c.png.startswith(b"\x89PNG") for c in drawn)


def test_impatient_callers_abandon() -> None:
    # Targets answer after ~30 s (capped at their 20 s ring time); callers wait 5 s on average.
    # P(patience < ring) is then above 1 - 5/35, well over half, and no call is lost.
    common = {"calls": 2000, "day": DAY, "seed": 2, "answer_probability": 1.0, "ring_seconds": 30.0}
    patient = simulate(group_plan(40), **common)  # type: ignore[arg-type]
    impatient = simulate(group_plan(40), **common, patience_seconds=5.0)  # type: ignore[arg-type]
    assert patient.abandoned == 0
    assert impatient.abandon_rate > 0.6
    assert impatient.answered + impatient.abandoned + impatient.lost == impatient.forwarded
    assert sum(impatient.abandoned_by_hour) == impatient.abandoned


def test_overflow_to_the_next_target() -> None:
    # A light load (0.7 erlang) on a sequential group: calls that find the first target busy or
    # unanswering move on to the next.
    report = simulate(
        group_plan(3),
        calls=2000,
        day=DAY,
        seed=3,
        hourly_weights=[1.0] * 24,
        answer_probability=0.8,
        mean_handling_seconds=30.0,
    )
    assert 0 < report.overflowed < report.forwarded
    first, second, third = (report.targets[f"1380001{k:04d}"] for k in range(3))
    # Hunting in order: the first target is rung most, the last least.
    assert first["rung"] > second["rung"] > third["rung"]
    assert sum(h["overflowed"] for h in report.by_hour) == report.overflowed


def test_a_target_listed_twice_in_a_group_is_one_target() -> None:
    """Two spellings of one number in a group: one target, one line, so the group's peak is at
    most its two distinct targets."""
    plan = group_plan(2)
    plan["tenants"]["t"]["groups"]["g"]["targets"].append({"number": "138 0001 0000"})  # type: ignore[index]
    report = simulate(plan, calls=20_000, day=DAY, seed=1, hourly_weights=[1.0] * 24, answer_probability=1.0)
    assert report.groups["t/g"]["targets"] == 2
    assert 1 <= report.groups["t/g"]["peak_concurrent"] <= 2


def test_group_peak_and_hourly_utilisation() -> None:
    report = simulate(group_plan(3), calls=3000, day=DAY, seed=4, answer_probability=1.0)
    peak = report.groups["t/g"]["peak_concurrent"]
    assert 1 <= peak <= 3
    assert report.groups["t/g"]["targets"] == 3
    by_hour = report.utilisation_by_hour
    assert all(0.0 <= u <= 1.0 for u in by_hour)
    # The diurnal curve shows in the load: 10:00 is far busier than 03:00.
    assert by_hour[10] > 3 * by_hour[3]
    d = report.durations
    assert d["count"] == report.answered
    assert d["median"] is not None and d["p90"] is not None and d["median"] < d["p90"]


def test_lognormal_handling_keeps_its_mean() -> None:
    report = simulate(
        group_plan(200),
        calls=5000,
        day=DAY,
        seed=5,
        answer_probability=1.0,
        handling="lognormal",
        handling_cv=0.5,
    )
    mean = report.durations["mean"]
    assert mean is not None
    # 5000 draws of cv 0.5 around 180 s: the sample mean is within 5 standard errors (~6 s).
    assert abs(mean - 180.0) < 5 * 180.0 * 0.5 / math.sqrt(report.answered)


def test_blocked_callers_are_rejected_by_reason() -> None:
    report = simulate(routecore.Engine.demo(), calls=3000, day=DAY, seed=6, blocked_share=0.2)
    # The demo plan's global block lists give their reasons (诈骗, 骚扰) to a fifth of the calls.
    blocked = report.rejected.get("诈骗", 0) + report.rejected.get("骚扰", 0)
    assert abs(blocked - 0.2 * report.calls) < 5 * math.sqrt(0.2 * 0.8 * report.calls)
    assert sum(h["rejected"] for h in report.by_hour) == sum(report.rejected.values())


def test_progress_is_reported_hour_by_hour() -> None:
    seen: list[tuple[int, int]] = []
    report = simulate(group_plan(2), calls=1000, day=DAY, seed=7, progress=lambda a, t: seen.append((a, t)))
    assert len(seen) >= 24
    assert [a for a, _ in seen] == sorted(a for a, _ in seen)
    assert seen[-1] == (report.calls, report.calls)


def test_replay_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "calls.csv"
    path.write_text(
        "at,called,caller,digits\n"
        "2026-11-11T10:00:00+08:00,4001000001,13800100001,\n"
        "2026-11-11T10:00:30+08:00,4001000001,,\n"
        "1794362400,4001000001,13901234567,\n"  # 2026-11-11T10:00:00+08:00 as epoch seconds
        "2026-11-12T09:00:00+08:00,4009999999,13800100001,\n",  # not served by the plan
        encoding="utf-8",
    )
    arrivals = Arrivals.from_csv(path)
    assert len(arrivals) == 4
    assert arrivals.start.isoformat() == "2026-11-11T00:00:00+08:00"
    assert arrivals.span_seconds == 2 * 86_400
    report = simulate(
        group_plan(3),
        arrivals=arrivals,
        seed=1,
        answer_probability=1.0,
        ring_seconds=0.0,
        mean_handling_seconds=7200,
    )
    assert report.calls == 4
    assert report.other == {"error:NOT_FOUND": 1}
    assert report.answered == 3
    assert report.offered_by_hour[10] == 3 and report.offered_by_hour[9] == 1
    # Three calls at 10:00 on three targets: the group held three at once.
    assert report.groups["t/g"]["peak_concurrent"] == 3


def test_replay_csv_errors_name_the_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("at,called,caller\nyesterday,4001000001,\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"bad.csv:2: at: 'yesterday'"):
        Arrivals.from_csv(bad)
    naive = tmp_path / "naive.csv"
    naive.write_text("at,called,caller\n2026-11-11T10:00:00,4001000001,\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="no UTC offset"):
        Arrivals.from_csv(naive)
    missing = tmp_path / "missing.csv"
    missing.write_text("at,caller\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="missing column"):
        Arrivals.from_csv(missing)


def test_replay_record_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from routecore.records import CallEvent, SqliteRecordStore

    engine = routecore.Engine.from_dict(group_plan(2))
    store = SqliteRecordStore(tmp_path / "records.db")
    try:
        t0 = dt.datetime(2026, 11, 11, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        for k in range(5):
            d = engine.route(called="4001000001", caller=f"1380010{k:04d}", at=t0, call_id=f"c{k}")
            store.remember_decision(d, d.called)
            store.append(
                CallEvent.create(f"c{k}", "ENDED", "13800010000", t0 + dt.timedelta(seconds=30 * k), 20)
            )
        # A call the store never saw decided: no called number, cannot be routed again.
        store.append(CallEvent.create("lost", "ENDED", "13800010000", t0, 5))
        arrivals = Arrivals.from_records(store)
    finally:
        store.close()
    assert len(arrivals) == 5 and arrivals.skipped == 1
    report = simulate(group_plan(2), arrivals=arrivals, seed=2, answer_probability=1.0)
    assert report.calls == 5 and report.skipped == 1
    assert report.offered_by_hour[14] + report.offered_by_hour[15] == 5

    # The same replay from the command line, on the plan written as a file.
    from routecore.cli import app
    from typer.testing import CliRunner

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(group_plan(2)), encoding="utf-8")
    args = ["simulate", "--replay-cdr", str(tmp_path / "records.db"), "--plan", str(plan_file), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["calls"], out["skipped"]) == (5, 1)


def test_cli_simulate_html_png_and_replay(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from routecore.cli import app
    from typer.testing import CliRunner

    html = tmp_path / "report.html"
    pngs = tmp_path / "png"
    result = CliRunner().invoke(
        app, ["simulate", "--calls", "2000", "--seed", "3", "--html", str(html), "--png-dir", str(pngs)]
    )
    assert result.exit_code == 0, result.output
    text = html.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3
    assert "by tenant" in text and "hospital" in text
    assert "http://" not in text and "https://" not in text  # opens offline: nothing fetched
    assert sorted(p.name for p in pngs.iterdir()) == ["answer_rate.png", "hourly_volume.png", "regions.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs.iterdir())

    csv_path = tmp_path / "calls.csv"
    csv_path.write_text(
        "at,called,caller\n2026-11-11T10:00:00+08:00,4001234567,13800100001\n", encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["simulate", "--replay-csv", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calls"] == 1
    result = CliRunner().invoke(app, ["simulate", "--replay-csv", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1  # a file that cannot be read, not a usage error (docs/errors.md)
    assert result.stderr.startswith("FileNotFoundError: ") and "nope.csv: cannot read it" in result.stderr


def test_strategies_see_simulated_time() -> None:
    # A light load (1/6 erlang on 3 targets): sequential sends almost everything to the first
    # target, while least busy (which reads the answered calls reported in simulated time) and
    # round robin spread the calls over all three.
    def answered_by_target(strategy: str) -> list[int]:
        report = simulate(
            group_plan(3, strategy),
            calls=1440,
            day=DAY,
            seed=8,
            hourly_weights=[1.0] * 24,
            answer_probability=1.0,
            ring_seconds=0.0,
            mean_handling_seconds=10.0,
        )
        return [int(report.targets.get(f"1380001{k:04d}", {}).get("answered", 0)) for k in range(3)]

    sequential = answered_by_target("sequential")
    assert sequential[0] > 0.8 * sum(sequential)
    for strategy in ("least_busy", "round_robin"):
        spread = answered_by_target(strategy)
        assert min(spread) > 0.25 * sum(spread), (strategy, spread)


def test_utilisation_counts_the_span_only_and_long_calls_end() -> None:
    # Calls that talk far past the simulated day (a mean of 30 years) finish at once, and the
    # span's utilisation is the talk inside it: never above 1 for any line or hour.
    for mean in (20_000.0, 1e12):
        report = simulate(group_plan(5), calls=1000, day=DAY, seed=1, mean_handling_seconds=mean)
        assert report.utilisation and max(report.utilisation.values()) <= 1.0 + 1e-9, report.utilisation
        assert max(report.utilisation_by_hour) <= 1.0 + 1e-9, report.utilisation_by_hour
    # Every line busy from its first answer to the end of the day: close to full at the end.
    assert report.utilisation_by_hour[23] > 0.99


def test_replay_csv_with_a_byte_order_mark(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Excel's "CSV UTF-8" starts with a BOM: its first column was read as '\ufeffat'.
    path = tmp_path / "bom.csv"
    path.write_bytes(
        "\ufeffat,called,caller\r\n2026-11-11T10:00:00+08:00,4001000001,13800100001\r\n".encode()
    )
    arrivals = Arrivals.from_csv(path)
    assert len(arrivals) == 1 and arrivals.called == ["4001000001"]
    from routecore.cli import app
    from typer.testing import CliRunner

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(group_plan(1)), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["simulate", "--replay-csv", str(path), "--plan", str(plan_file), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calls"] == 1


NUMERIC = (
    "calls",
    "days",
    "anonymous_share",
    "blocked_share",
    "answer_probability",
    "ring_seconds",
    "mean_handling_seconds",
    "handling_cv",
    "patience_seconds",
    "menu_key_seconds",
)


@pytest.mark.parametrize("name", (*NUMERIC, "seed"))
@pytest.mark.parametrize(
    "value", ["5", True, b"1", [1.0], 1j], ids=["str", "bool", "bytes", "list", "complex"]
)
def test_a_parameter_of_the_wrong_type_is_a_type_error_naming_it(name: str, value: object) -> None:
    # blocked_share="5" was "'>' not supported …", calls="5" was silently taken as 5.
    with pytest.raises(TypeError, match=rf"^{name}: expected an? (number|int), got "):
        simulate(group_plan(1), **{"calls": 10, "day": DAY, name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", [math.nan, -math.inf, -1.0, 10**400], ids=["nan", "-inf", "-1", "huge"])
def test_a_number_out_of_range_is_refused_naming_it(name: str, value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^{name}: "):
        simulate(group_plan(1), **{"calls": 10, "day": DAY, name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 2**64, 10**30])
def test_a_seed_out_of_range_is_refused_naming_it(seed: int) -> None:
    # -1 was an OverflowError.
    with pytest.raises(InvalidArgumentError, match=rf"^seed: {seed} is not between 0 and 2\*\*64-1$"):
        simulate(group_plan(1), calls=10, day=DAY, seed=seed)
    assert simulate(group_plan(1), calls=10, day=DAY, seed=2**64 - 1).calls >= 0


def test_hourly_weights_and_province_mix_are_checked_naming_them() -> None:
    for weights, error, message in (
        ("1" * 24, TypeError, r"^hourly_weights: expected a sequence of 24 numbers, got str"),
        (b"\x01" * 24, TypeError, r"^hourly_weights: expected a sequence of 24 numbers, got bytes"),
        (5, TypeError, r"^hourly_weights: expected a sequence of 24 numbers, got int"),
        (["1"] * 24, TypeError, r"^hourly_weights\[0\]: expected a number, got str"),
        ([1.0] * 23 + [True], TypeError, r"^hourly_weights\[23\]: expected a number, got bool"),
        ([1.0] * 23 + [math.nan], InvalidArgumentError, r"^hourly_weights"),
    ):
        with pytest.raises(error, match=message):
            simulate(group_plan(1), calls=10, day=DAY, hourly_weights=weights)  # type: ignore[arg-type]
    for mix, error, message in (
        ({"广东": -1}, InvalidArgumentError, r"^province_mix: 广东: -1 is not a weight >= 0$"),
        (
            {"北京": 1, "广东": math.nan},
            InvalidArgumentError,
            r"^province_mix: 广东: nan is not a weight >= 0$",
        ),
        ({"广东": "1"}, TypeError, r"^province_mix: 广东: expected a number, got str$"),
        ({"广东": 0}, InvalidArgumentError, r"^province_mix: no region has a positive weight"),
        ([("广东", 1.0)], TypeError, r"^province_mix: expected a mapping of province to weight, got list$"),
    ):
        with pytest.raises(error, match=message):
            simulate(group_plan(1), calls=10, day=DAY, province_mix=mix)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^handling: expected a str, got int$"):
        simulate(group_plan(1), calls=10, day=DAY, handling=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^progress: expected a callable"):
        simulate(group_plan(1), calls=10, day=DAY, progress=5)  # type: ignore[arg-type]
    # Numbers of other kinds are numbers: an int, a numpy-like Real.
    from fractions import Fraction

    report = simulate(group_plan(1), calls=10, day=DAY, blocked_share=Fraction(0), hourly_weights=[1] * 24)
    assert report.calls >= 0


def test_utilisation_divides_each_hour_by_the_times_the_run_holds_it() -> None:
    """2.5 days hold hours 0-11 three times and hours 12-23 twice: a flat load shows flat, not
    as a step at noon."""
    from routecore.simulation import _seconds_by_hour

    assert _seconds_by_hour(2.5 * 86_400) == [3 * 3600.0] * 12 + [2 * 3600.0] * 12
    assert _seconds_by_hour(86_400 + 1800) == [7200.0 - 1800] + [3600.0] * 23
    report = simulate(group_plan(3), calls=3000, day=DAY, days=2.5, seed=4, hourly_weights=[1.0] * 24)
    by_hour = report.utilisation_by_hour
    morning, afternoon = sum(by_hour[:12]) / 12, sum(by_hour[12:]) / 12
    assert abs(morning - afternoon) < 0.15 * max(morning, afternoon), (morning, afternoon)
