"""NumberList at 10 million numbers vs rbloom.Bloom and a Python set, measured in the same run.

Run (release build first: `maturin develop --release`):

    python -m pytest bench/test_bench_lists.py --benchmark-enable -s

Each benchmark answers the same 100,000 queries (listed or not, separately); the answers are
checked against the truth after timing: NumberList must never answer wrong, rbloom's false
positives are counted and printed. Memory per number is printed and bounded (12 bytes).

Two lists (`layout`), ten million numbers each:
- `dense`: every 7th number from 130 0000 0000 (a number pool, or blocks of numbers): NumberList
  keeps them as bitmaps, one line to confirm a listed number.
- `scattered`: uniformly random numbers from 130 0000 0000 to 199 9999 9999, 700 apart on average
  (a block list of callers from every segment): each bucket of numbers one line with its filter
  word.

Two query flavours (`strings`):
- `fresh`: every round gets new str objects with the same text (made outside the timing). This
  is the fair one: real queries arrive as new strings, and rbloom hashes a str with Python's
  `hash()`, which a str caches, so reused query objects hand it its hash for free.
- `reused`: the same str objects every round (rbloom's best case).
- `cold`: new numbers every round (drawn outside the timing), as calls from a large population
  of callers are. With `fresh` and `reused` the 100k numbers asked are the same in every round,
  and the 15 rounds of one structure run back to back, so the lines they read are the cache's
  working set from round to round; with `cold` no round finds the lines of the one before.

Timings are wall-clock and this machine is shared: compare groups measured in the same run.
"""

import random
import sys
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

import pytest
from routecore import NumberList

rbloom = pytest.importorskip("rbloom")

N = 10_000_000
BASE = 13_000_000_000
STRIDE = 7  # dense: BASE + 7 i; every other number in the range is not listed
SCATTERED_END = 20_000_000_000
QUERIES = 100_000
LAYOUTS = ["dense", "scattered"]


def listed_numbers(layout: str, rng: random.Random) -> list[int]:
    if layout == "dense":
        return list(range(BASE, BASE + STRIDE * N, STRIDE))
    return sorted(rng.sample(range(BASE, SCATTERED_END), N))


def not_listed_numbers(listed: list[int], listed_set: set[int], count: int, rng: random.Random) -> list[int]:
    """`count` random numbers within the list's range that it does not hold."""
    out: list[int] = []
    while len(out) < count:
        candidate = rng.randrange(BASE, listed[-1])
        if candidate not in listed_set:
            out.append(candidate)
    return out


class World:
    """The three structures over one layout, built once, and the query sets with their truth."""

    def __init__(self, layout: str) -> None:
        rng = random.Random(400)
        self.layout = layout
        listed = listed_numbers(layout, rng)
        started = time.perf_counter()
        text = "\n".join(map(str, listed))
        self.text_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.numbers = NumberList.from_text(text)
        self.build_seconds = time.perf_counter() - started
        del text
        started = time.perf_counter()
        self.bloom = rbloom.Bloom(N, 0.01)
        self.bloom.update(map(str, listed))
        self.rbloom_seconds = time.perf_counter() - started
        self.ints = set(listed)
        hit_ints = [listed[rng.randrange(N)] for _ in range(QUERIES)]
        miss_ints = not_listed_numbers(listed, self.ints, QUERIES, rng)
        self.listed, self.rng = listed, rng
        self.queries = {"listed": [str(n) for n in hit_ints], "not_listed": [str(n) for n in miss_ints]}
        self.query_ints = {"listed": hit_ints, "not_listed": miss_ints}
        self.false_positives: dict[str, int] = {}

    def draw(self, kind: str) -> list[str]:
        """New query strings of `kind` for a `cold` round."""
        if kind == "listed":
            return [str(self.listed[self.rng.randrange(N)]) for _ in range(QUERIES)]
        return [str(n) for n in not_listed_numbers(self.listed, self.ints, QUERIES, self.rng)]


@pytest.fixture(scope="module", params=LAYOUTS)
def world(request: pytest.FixtureRequest) -> Any:
    w = World(request.param)
    yield w
    per_number = w.numbers.memory_bytes() / N
    set_bytes = sys.getsizeof(w.ints) + sum(map(sys.getsizeof, islice(w.ints, 1000))) / 1000 * N
    print(
        f"\n[lists, {w.layout}] {N:,} numbers: NumberList {per_number:.2f} B/number, "
        f"rbloom {w.bloom.size_in_bits / 8 / N:.2f} B/number (no exact answers), "
        f"set of ints {set_bytes / N:.1f} B/number"
    )
    tag = f"[lists, {w.layout}]"
    print(
        f"{tag} build: text {w.text_seconds:.2f} s, NumberList.from_text {w.build_seconds:.2f} s, "
        f"rbloom.update {w.rbloom_seconds:.2f} s"
    )
    print(f"{tag} rbloom false positives out of {QUERIES:,} not-listed queries: {w.false_positives}")


def _truth(kind: str) -> list[bool]:
    return [kind == "listed"] * QUERIES


KINDS = ["listed", "not_listed"]
STRINGS = ["fresh", "reused", "cold"]


def _fresh(queries: list[str]) -> list[str]:
    # Slicing and concatenating builds a new str (no cached hash) with the same text.
    return [q[:1] + q[1:] for q in queries]


def _run(benchmark: Any, strings: str, world: World, kind: str, call: Callable[[list[str]], Any]) -> Any:
    queries = world.queries[kind]
    if strings == "reused":
        return benchmark(call, queries)
    if strings == "cold":
        return benchmark.pedantic(call, setup=lambda: ((world.draw(kind),), {}), rounds=15)
    return benchmark.pedantic(call, setup=lambda: ((_fresh(queries),), {}), rounds=15)


@pytest.mark.parametrize("strings", STRINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.benchmark(group="in: single lookup from Python")
def test_numberlist_in(benchmark: Any, world: World, kind: str, strings: str) -> None:
    numbers = world.numbers
    answers = _run(benchmark, strings, world, kind, lambda qs: [q in numbers for q in qs])
    assert answers == _truth(kind)


@pytest.mark.parametrize("strings", STRINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.benchmark(group="in: single lookup from Python")
def test_rbloom_in(benchmark: Any, world: World, kind: str, strings: str) -> None:
    bloom = world.bloom
    answers = _run(benchmark, strings, world, kind, lambda qs: [q in bloom for q in qs])
    if kind == "listed":
        assert all(answers)
    else:
        world.false_positives[f"in/{strings}"] = sum(answers)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.benchmark(group="in: single lookup from Python")
def test_set_of_ints_in(benchmark: Any, world: World, kind: str) -> None:
    queries, ints = world.query_ints[kind], world.ints
    answers = benchmark(lambda: [q in ints for q in queries])
    assert answers == _truth(kind)


@pytest.mark.parametrize("strings", STRINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.benchmark(group="batch: 100k lookups")
def test_numberlist_contains_many(benchmark: Any, world: World, kind: str, strings: str) -> None:
    answers = _run(benchmark, strings, world, kind, world.numbers.contains_many)
    assert answers == _truth(kind)


@pytest.mark.parametrize("strings", STRINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.benchmark(group="batch: 100k lookups")
def test_rbloom_batch(benchmark: Any, world: World, kind: str, strings: str) -> None:
    # rbloom has no per-item batch call; a map over `in` is its batch.
    contains: Callable[[str], bool] = world.bloom.__contains__
    answers = _run(benchmark, strings, world, kind, lambda qs: list(map(contains, qs)))
    if kind == "not_listed":
        world.false_positives[f"batch/{strings}"] = sum(answers)


def test_memory_per_number(world: World) -> None:
    assert len(world.numbers) == N
    assert world.numbers.problems == []
    assert world.numbers.memory_bytes() <= 12 * N
