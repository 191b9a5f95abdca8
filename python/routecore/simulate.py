"""Traffic simulation: a day of generated calls routed by the real engine and played out on targets.

Arrivals are a Poisson process whose rate follows an hourly (diurnal) curve; every call is decided by
`Engine.route_many`, MENU decisions are re-routed with a drawn key, and FORWARD decisions are played
out by a discrete-event model of the targets (ring time, answer probability, exponential handling,
one call at a time per target, ringing included): a sequential decision tries its targets in order,
skipping busy ones; a parallel (ring_all) one rings every free target and the first to answer takes
the call. A call no target takes is lost (its overflow was already chosen by the engine). ANSWERED
and ENDED events are reported to the engine in simulated time order, so caps and least-busy see
simulated time.

Decisions are made in batches (at most `batch_size` arrivals spanning at most `batch_seconds`), so a
decision sees the engine's state (caps, least-busy counts) as of its batch's start, stale by at most
`batch_seconds`; the play-out itself is exact, in event order. `batch_size=1` makes every decision
see every earlier event.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from routecore._routecore import Decision
from routecore.engine import Engine

__all__ = ["DIURNAL", "SEGMENTS", "SimReport", "simulate"]

# Relative call volume per local hour: quiet nights, a morning peak at 10:00, an afternoon one at 15:00.
DIURNAL: tuple[float, ...] = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 3.0, 5.5, 6.5, 5.8,
    3.5, 4.2, 5.6, 6.0, 5.2, 4.0, 2.6, 2.0, 1.6, 1.2, 0.7, 0.4,
)  # fmt: skip

# Real mobile segments (7-digit prefixes, checked against the `phone` package's table) per province.
SEGMENTS: Mapping[str, tuple[str, ...]] = {
    "北京": ("1380010", "1391000", "1860100", "1500100"),
    "上海": ("1381600", "1891600", "1331000"),
    "广东": ("1360286", "1368888", "1380280", "1371234"),
    "浙江": ("1390571", "1380571"),
    "江苏": ("1392100", "1385100"),
    "天津": ("1380200", "1802000"),
    "四川": ("1398000",),
    "湖北": ("1592771",),
}

_MAX_MENU_DEPTH = 8
_DAY_SECONDS = 86_400.0


@dataclass
class SimReport:
    """What a simulated day produced.

    `lost` counts FORWARD calls no target took (all busy, unanswered, or no target at all);
    `other` counts calls ending in ANNOUNCE, VOICEMAIL, a menu left unfinished or a failed request.
    `utilisation` is each target's busy (handling) time over the simulated span.
    """

    calls: int = 0
    answered: int = 0
    lost: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)
    offered_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    answered_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    lost_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    utilisation: dict[str, float] = field(default_factory=dict)
    span_seconds: float = _DAY_SECONDS

    @property
    def forwarded(self) -> int:
        """Calls that reached targets: answered plus lost."""
        return self.answered + self.lost

    @property
    def blocking(self) -> float:
        """Share of forwarded calls that were lost (0.0 when none was forwarded)."""
        return self.lost / self.forwarded if self.forwarded else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every figure (keys sorted where they are names)."""
        return {
            "calls": self.calls,
            "answered": self.answered,
            "lost": self.lost,
            "blocking": self.blocking,
            "rejected": dict(sorted(self.rejected.items())),
            "other": dict(sorted(self.other.items())),
            "by_hour": [
                {"hour": h, "offered": o, "answered": a, "lost": lo}
                for h, (o, a, lo) in enumerate(
                    zip(self.offered_by_hour, self.answered_by_hour, self.lost_by_hour, strict=True)
                )
            ],
            "utilisation": dict(sorted(self.utilisation.items())),
            "span_seconds": self.span_seconds,
        }


def _arrivals(rng: random.Random, calls: float, weights: Sequence[float], span: float) -> list[float]:
    """Arrival offsets (seconds from the first local midnight) of a Poisson process with a
    piecewise-constant rate: hour h of each day gets `calls * w[h] / sum(w)` arrivals in expectation.
    O(arrivals)."""
    if len(weights) != 24 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("hourly_weights: 24 non-negative weights, not all zero")
    total = float(sum(weights))
    out: list[float] = []
    for day in range(math.ceil(span / _DAY_SECONDS)):
        for hour, w in enumerate(weights):
            start = day * _DAY_SECONDS + hour * 3600.0
            end = min(start + 3600.0, span)
            rate = calls * w / total / 3600.0
            if rate <= 0 or end <= start:
                continue
            t = start + rng.expovariate(rate)
            while t < end:
                out.append(t)
                t += rng.expovariate(rate)
    return out


def _caller(rng: random.Random, provinces: Sequence[str], mix: Sequence[float], anonymous: float) -> str:
    if rng.random() < anonymous:
        return ""
    province = rng.choices(provinces, mix)[0]
    return rng.choice(SEGMENTS[province]) + f"{rng.randrange(10_000):04d}"


def _target_key(target: Any) -> str:
    return str(target.number or target.uri)


def simulate(
    plan_or_engine: Engine | str | Mapping[str, Any],
    *,
    calls: float,
    day: dt.date,
    seed: int = 0,
    days: float = 1.0,
    hourly_weights: Sequence[float] = DIURNAL,
    province_mix: Mapping[str, float] | None = None,
    anonymous_share: float = 0.05,
    answer_probability: float = 0.9,
    ring_seconds: float = 6.0,
    mean_handling_seconds: float = 180.0,
    menu_key_seconds: float = 8.0,
    batch_size: int = 4096,
    batch_seconds: float = 10.0,
) -> SimReport:
    """Simulate `days` days from `day` with `calls` calls per day in expectation.

    Args:
        plan_or_engine: an `Engine` (its decision state is used and changed), a plan file path, or a
            plan dict.
        calls: expected calls per day.
        day: the first simulated day (local midnight in the plan's timezone).
        seed: the random seed; the same seed and inputs on a fresh engine give the same report.
        days: how many days to simulate.
        hourly_weights: relative arrival rate per local hour (24 values).
        province_mix: weight per province of `SEGMENTS` (default: equal weights).
        anonymous_share: share of callers that withhold their number.
        answer_probability: chance that a free target answers a ringing call.
        ring_seconds: mean time until an answering target answers (exponential; 0: at once),
            capped at the target's `ring_seconds`; a target that does not answer rings its full
            `ring_seconds` (20 when unset).
        mean_handling_seconds: mean of the exponential handling time.
        menu_key_seconds: time a caller spends per menu before pressing a key.
        batch_size: most calls decided per `route_many`.
        batch_seconds: longest stretch of arrivals decided per `route_many`.

    Raises:
        ValueError: bad weights, an unknown province, or a non-positive batch size.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    engine: Engine
    if isinstance(plan_or_engine, Engine):
        engine = plan_or_engine
    elif isinstance(plan_or_engine, Mapping):
        engine = Engine.from_dict(dict(plan_or_engine))
    else:
        engine = Engine.from_file(plan_or_engine)
    mix = dict(province_mix) if province_mix is not None else dict.fromkeys(SEGMENTS, 1.0)
    unknown = sorted(set(mix) - set(SEGMENTS))
    if unknown:
        raise ValueError(f"province_mix: no segments for {', '.join(unknown)}")
    provinces = list(mix)
    weights = [mix[p] for p in provinces]

    rng = random.Random(seed)
    span = days * _DAY_SECONDS
    times = _arrivals(rng, calls, hourly_weights, span)
    numbers = engine.numbers()
    if not numbers:
        raise ValueError("the plan serves no number")
    called = [rng.choice(numbers) for _ in times]
    callers = [_caller(rng, provinces, weights, anonymous_share) for _ in times]
    base = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(engine.timezone)).timestamp()

    report = SimReport(calls=len(times), span_seconds=span)
    rejected: Counter[str] = Counter()
    other: Counter[str] = Counter()
    busy: set[str] = set()
    busy_time: dict[str, float] = {}
    # Pending target events: (time, seq, kind, call index, target position, target key, extra).
    events: list[tuple[float, int, str, int, int, str, float]] = []
    seq = 0
    targets_of: dict[int, list[str]] = {}
    call_id = [f"sim-{seed}-{i}" for i in range(len(times))]

    def hour_of(t: float) -> int:
        return int(t // 3600.0) % 24

    def lose(i: int) -> None:
        targets_of.pop(i, None)
        ring_caps_of.pop(i, None)
        report.lost += 1
        report.lost_by_hour[hour_of(times[i])] += 1

    def push(t: float, kind: str, i: int, pos: int, key: str, extra: float = 0.0) -> None:
        nonlocal seq
        heapq.heappush(events, (t, seq, kind, i, pos, key, extra))
        seq += 1

    def ring_delay(cap: float) -> float | None:
        """When a free target answers (capped at its ring time), or None when it does not."""
        if rng.random() >= answer_probability:
            return None
        return min(rng.expovariate(1.0 / ring_seconds), cap) if ring_seconds > 0 else 0.0

    def ring_all(t: float, i: int) -> None:
        keys = targets_of[i]
        caps = ring_caps_of[i]
        free = [p for p, k in enumerate(keys) if k not in busy]
        if not free:
            lose(i)
            return
        delays = [(ring_delay(caps[p]), p) for p in free]
        answering = [(d, p) for d, p in delays if d is not None]
        winner = min(answering) if answering else None
        for _, p in delays:
            busy.add(keys[p])
            if winner is not None and p == winner[1]:
                push(t + winner[0], "answer", i, p, keys[p])
            else:
                # The others ring until one answers or their own ring time runs out.
                stop = min(caps[p], winner[0]) if winner is not None else caps[p]
                push(t + stop, "release", i, p, keys[p])
        if winner is None:
            lose(i)

    def try_targets(t: float, i: int, pos: int, ring_caps: list[float]) -> None:
        keys = targets_of[i]
        while pos < len(keys) and keys[pos] in busy:
            pos += 1
        if pos >= len(keys):
            lose(i)
            return
        key = keys[pos]
        busy.add(key)  # a ringing target takes no other call
        delay = ring_delay(ring_caps[pos])
        if delay is not None:
            push(t + delay, "answer", i, pos, key)
        else:
            push(t + ring_caps[pos], "noanswer", i, pos, key)

    ring_caps_of: dict[int, list[float]] = {}
    parallel: set[int] = set()

    def decided(t: float, i: int, d: Decision) -> None:
        action = d.action
        if action == "FORWARD":
            targets = d.targets
            targets_of[i] = [_target_key(x) for x in targets]
            ring_caps_of[i] = [float(x.ring_seconds or 20) for x in targets]
            if d.parallel:
                parallel.add(i)
            push(t, "arrive", i, 0, "")
        elif action == "REJECT":
            rej = d.reject
            rejected[rej.reason if rej is not None else ""] += 1
        elif action == "":
            err = d.error
            other[f"error:{err.code if err is not None else ''}"] += 1
        else:
            other[action] += 1

    def route_batch(idx: list[int], at: list[float], digits: list[str]) -> None:
        while idx:
            batch = engine.route_many(
                called=[called[i] for i in idx],
                caller=[callers[i] for i in idx],
                digits=digits,
                at=[base + t for t in at],
                call_id=[call_id[i] for i in idx],
            )
            again: tuple[list[int], list[float], list[str]] = ([], [], [])
            for n, i in enumerate(idx):
                d = batch[n]
                menu = d.menu
                if d.action == "MENU" and menu is not None:
                    if len(digits[n]) >= _MAX_MENU_DEPTH or not menu.keys:
                        other["MENU"] += 1
                        continue
                    again[0].append(i)
                    again[1].append(at[n] + menu_key_seconds)
                    again[2].append(digits[n] + rng.choice(menu.keys))
                else:
                    decided(at[n], i, d)
            idx, at, digits = again

    def handle(ev: tuple[float, int, str, int, int, str, float]) -> None:
        t, _, kind, i, pos, key, extra = ev
        if kind == "answer":
            engine.report(call_id[i], "ANSWERED", key, at=base + t)
            report.answered += 1
            report.answered_by_hour[hour_of(times[i])] += 1
            hold = rng.expovariate(1.0 / mean_handling_seconds)
            push(t + hold, "end", i, pos, key, hold)
        elif kind == "end":
            busy.discard(key)
            busy_time[key] = busy_time.get(key, 0.0) + extra
            engine.report(call_id[i], "ENDED", key, at=base + t, duration_seconds=round(extra))
            targets_of.pop(i, None)
            ring_caps_of.pop(i, None)
        elif kind == "arrive":
            if i in parallel:
                parallel.discard(i)
                ring_all(t, i)
            else:
                try_targets(t, i, 0, ring_caps_of[i])
        elif kind == "release":
            busy.discard(key)
        else:  # noanswer: the next target in the decision's order
            busy.discard(key)
            try_targets(t, i, pos + 1, ring_caps_of[i])

    for t in times:
        report.offered_by_hour[hour_of(t)] += 1
    nxt = 0
    while nxt < len(times) or events:
        if nxt < len(times) and (not events or times[nxt] < events[0][0]):
            limit = times[nxt] + batch_seconds
            end = nxt
            while end < len(times) and end - nxt < batch_size and times[end] <= limit:
                end += 1
            idx = list(range(nxt, end))
            route_batch(idx, [times[i] for i in idx], [""] * len(idx))
            nxt = end
        else:
            handle(heapq.heappop(events))

    report.rejected = dict(rejected)
    report.other = dict(other)
    report.utilisation = {k: v / span for k, v in busy_time.items()}
    return report
