"""NumberList vs rbloom at 10 million numbers, single `in` from Python, the two alternating.

pytest-benchmark runs all of one structure's rounds, then the other's: on a shared machine the
two then meet different neighbours. Here every round measures rbloom and NumberList back to
back on the same fresh query strings' text, and the ratio is taken per round (median of the
rounds). CPU time of this thread.

    .venv/bin/python bench/lists_alternating.py [ROUNDS]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from typing import Any

import rbloom
from routecore import NumberList

N = 10_000_000
BASE = 13_000_000_000
STRIDE = 7  # listed: BASE + 7 i (as test_bench_lists.py)
QUERIES = 50_000


def per_lookup_ns(structure: Any, numbers: list[int]) -> float:
    queries = [str(n) for n in numbers]  # fresh str objects: no cached hash
    start = time.thread_time_ns()
    for q in queries:
        q in structure  # noqa: B015 - the lookup is what is timed
    return (time.thread_time_ns() - start) / len(queries)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    rng = random.Random(400)
    listed_text = "\n".join(map(str, range(BASE, BASE + STRIDE * N, STRIDE)))
    numbers = NumberList.from_text(listed_text)
    del listed_text
    bloom = rbloom.Bloom(N, 0.01)
    bloom.update(map(str, range(BASE, BASE + STRIDE * N, STRIDE)))
    kinds = {
        "listed": [BASE + STRIDE * rng.randrange(N) for _ in range(QUERIES)],
        "not listed": [BASE + STRIDE * rng.randrange(N) + rng.randrange(1, STRIDE) for _ in range(QUERIES)],
    }
    for kind, queries in kinds.items():
        assert all((str(q) in numbers) == (kind == "listed") for q in queries[:1000])
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind, queries in kinds.items():
            theirs = per_lookup_ns(bloom, queries)
            ours = per_lookup_ns(numbers, queries)
            results[kind].append((ours, theirs))
    for kind, pairs in results.items():
        ours = statistics.median(p[0] for p in pairs)
        theirs = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[1] / p[0] for p in pairs)
        print(f"{kind:>10}: NumberList {ours:.0f} ns, rbloom {theirs:.0f} ns, rbloom/NumberList {ratio:.2f}x")


if __name__ == "__main__":
    main()
