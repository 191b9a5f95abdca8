"""NumberList vs rbloom at 10 million numbers, single `in` from Python, the two alternating.

pytest-benchmark runs all of one structure's rounds, then the other's: on a shared machine the
two then meet different neighbours. Here every round measures rbloom and NumberList back to
back on the same fresh query strings' text, and the ratio is taken per round (median of the
rounds). CPU time of this thread.

    .venv/bin/python bench/lists_alternating.py [ROUNDS] [dense|scattered] [cold]

By default every round asks the same numbers (in new str objects), so each structure meets
the lines its previous round left in cache. With `cold`, every round draws new numbers, as
calls from a large population of callers do: then no round finds the lines of the one before.

The two lists are test_bench_lists.py's (dense: every 7th number, kept as bitmaps beside a
filter; scattered: random numbers over every segment, each bucket one line, its filter word
and its numbers).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from typing import Any

import rbloom
from routecore import NumberList
from test_bench_lists import LAYOUTS, N, listed_numbers, not_listed_numbers

QUERIES = 50_000


def per_lookup_ns(structure: Any, numbers: list[int]) -> float:
    queries = [str(n) for n in numbers]  # fresh str objects: no cached hash
    start = time.thread_time_ns()
    for q in queries:
        q in structure  # noqa: B015 - the lookup is what is timed
    return (time.thread_time_ns() - start) / len(queries)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    layout = sys.argv[2] if len(sys.argv) > 2 else LAYOUTS[0]
    cold = len(sys.argv) > 3 and sys.argv[3] == "cold"
    rng = random.Random(400)
    listed = listed_numbers(layout, rng)
    numbers = NumberList.from_text("\n".join(map(str, listed)))
    bloom = rbloom.Bloom(N, 0.01)
    bloom.update(map(str, listed))
    listed_set = set(listed)
    not_listed = not_listed_numbers(listed, listed_set, QUERIES, rng)
    kinds = {
        "listed": [listed[rng.randrange(N)] for _ in range(QUERIES)],
        "not listed": not_listed,
    }
    if not cold:
        del listed, listed_set
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        if cold:
            kinds = {
                "listed": [listed[rng.randrange(N)] for _ in range(QUERIES)],
                "not listed": not_listed_numbers(listed, listed_set, QUERIES, rng),
            }
        for kind, queries in kinds.items():
            assert all((str(q) in numbers) == (kind == "listed") for q in queries[:1000])
            theirs = per_lookup_ns(bloom, queries)
            ours = per_lookup_ns(numbers, queries)
            results[kind].append((ours, theirs))
    for kind, pairs in results.items():
        ours = statistics.median(p[0] for p in pairs)
        theirs = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[1] / p[0] for p in pairs)
        times = f"NumberList {ours:.0f} ns, rbloom {theirs:.0f} ns"
        print(f"{layout}{' cold' if cold else ''} {kind:>10}: {times}, rbloom/NumberList {ratio:.2f}x")


if __name__ == "__main__":
    main()
