"""NumberList vs rbloom at 10 million scattered numbers when callers come back: single `in`.

    .venv/bin/python bench/lists_repeats.py sweep   # the same k numbers every round, k = 3k … 100k
    .venv/bin/python bench/lists_repeats.py zipf    # callers drawn with Zipf weights (s = 1)

`sweep` asks the same str objects round after round, all of one structure's rounds back to back
(pytest-benchmark's `reused` order) for growing sets of listed numbers: it shows where the lines a
round reads stop fitting the CPU's cache, and what a large list's recent answers (rust/recent.rs)
do about it. `zipf` draws 200k listed callers a round from 1M of the list's numbers, the r-th most
frequent with weight 1/r, as fresh strings, the two structures alternating: traffic in which some
callers come back often and most rarely. CPU time of this thread; medians of the rounds.

To see the recent answers' part, build once more with `RECENT_MIN_TABLE_BYTES` (rust/lists.rs) set
to `usize::MAX`, copy `python/routecore` to a directory D, and run with `PYTHONPATH=D`.
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import time
from typing import Any

import rbloom
from routecore import NumberList
from test_bench_lists import N, listed_numbers


def per_lookup_ns(structure: Any, queries: list[str]) -> float:
    start = time.thread_time_ns()
    for q in queries:
        q in structure  # noqa: B015 - the lookup is what is timed
    return (time.thread_time_ns() - start) / len(queries)


def sweep(numbers: NumberList, bloom: Any, listed: list[int], rng: random.Random) -> None:
    for count in (3_000, 10_000, 30_000, 100_000):
        queries = [str(listed[rng.randrange(N)]) for _ in range(count)]
        rounds = max(5, 300_000 // count)
        ours = statistics.median(per_lookup_ns(numbers, queries) for _ in range(rounds))
        theirs = statistics.median(per_lookup_ns(bloom, queries) for _ in range(rounds))
        print(
            f"{count:>7,} numbers a round: NumberList {ours:.0f} ns, rbloom {theirs:.0f} ns, "
            f"rbloom/NumberList {theirs / ours:.2f}x"
        )


def zipf(numbers: NumberList, bloom: Any, listed: list[int], rng: random.Random) -> None:
    population = [listed[rng.randrange(N)] for _ in range(1_000_000)]
    weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(population))))
    pairs = []
    for _ in range(7):
        drawn = [str(n) for n in rng.choices(population, cum_weights=weights, k=200_000)]
        theirs = per_lookup_ns(bloom, [q[:1] + q[1:] for q in drawn])  # fresh str objects
        ours = per_lookup_ns(numbers, [q[:1] + q[1:] for q in drawn])
        pairs.append((ours, theirs))
    ours = statistics.median(p[0] for p in pairs)
    theirs = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[1] / p[0] for p in pairs)
    print(
        f"zipf over 1M listed callers: NumberList {ours:.0f} ns, rbloom {theirs:.0f} ns, "
        f"rbloom/NumberList {ratio:.2f}x"
    )


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "sweep"
    if mode not in ("sweep", "zipf"):
        sys.exit(f"usage: lists_repeats.py [sweep|zipf], not {mode!r}")
    rng = random.Random(400)
    listed = listed_numbers("scattered", rng)
    numbers = NumberList.from_text("\n".join(map(str, listed)))
    bloom = rbloom.Bloom(N, 0.01)
    bloom.update(map(str, listed))
    (sweep if mode == "sweep" else zipf)(numbers, bloom, listed, rng)


if __name__ == "__main__":
    main()
