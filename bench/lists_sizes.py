"""NumberList vs rbloom below ten million numbers: single `in` of a listed number from Python.

The issue's figure is at ten million numbers (test_bench_lists.py, lists_alternating.py). Smaller
lists of scattered numbers are measured here for the record: there rbloom's array (1.2 bytes a
number) fits the cache whole, and no exact store can be as small (at least 2 bytes a number for
uniform mobiles), so the ratio says what exactness costs at each size.

    .venv/bin/python bench/lists_sizes.py [SIZE ...]

Each size: the numbers drawn at random over every mobile segment; seven rounds of 50k listed
numbers, new numbers every round, the two structures alternating on the same fresh str objects'
text; the median per lookup (CPU time of this thread) and bytes a number.
"""

from __future__ import annotations

import random
import statistics
import sys

import rbloom
from lists_alternating import per_lookup_ns
from routecore import NumberList

FIRST, END = 13_000_000_000, 20_000_000_000
QUERIES = 50_000
ROUNDS = 7


def main(sizes: list[int]) -> None:
    for n in sizes:
        rng = random.Random(7)
        listed = sorted(rng.sample(range(FIRST, END), n))
        numbers = NumberList.from_text("\n".join(map(str, listed)))
        bloom = rbloom.Bloom(n, 0.01)
        bloom.update(map(str, listed))
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(ROUNDS):
            asked = [listed[rng.randrange(n)] for _ in range(QUERIES)]
            ours.append(per_lookup_ns(numbers, asked))
            theirs.append(per_lookup_ns(bloom, asked))
        mine, other = statistics.median(ours), statistics.median(theirs)
        print(
            f"{n:>11,} numbers: NumberList {numbers.memory_bytes() / n:.2f} B/number, listed {mine:.0f} ns; "
            f"rbloom {other:.0f} ns; rbloom/NumberList {other / mine:.2f}x"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [300_000, 1_000_000, 3_000_000])
