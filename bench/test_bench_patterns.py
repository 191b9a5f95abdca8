"""Dial patterns, 400/800 classes and prefix tables from Python, against plain Python in the same run.

Run: .venv/bin/python -m pytest bench/test_bench_patterns.py --benchmark-enable \
         --benchmark-columns=median,ops -q
Bulk throughput (numbers/second) is in each bulk benchmark's `extra_info` and printed with `-s`.
"""

import random
import re

import pytest
import routecore
from reference.numbers import classify as py_classify  # the pure-Python baseline

BATCH = 100_000
BULK = 10_000_000
DIGITS = bytes(0x30 + b % 10 for b in range(256))


def service_lines(n: int, seed: int) -> bytes:
    """`n` lines of `400` + 7 random digits, built at C speed (extended-slice assignment)."""
    digits = random.Random(seed).randbytes(7 * n).translate(DIGITS)
    out = bytearray(11 * n)
    out[0::11] = b"4" * n
    out[1::11] = b"0" * n
    out[2::11] = b"0" * n
    for k in range(7):
        out[3 + k :: 11] = digits[k::7]
    out[10::11] = b"\n" * n
    return bytes(out)


def mobiles(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(n)]


# --- straightforward pure-Python implementations --------------------------------------------


def py_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + ".*", re.DOTALL)
    table = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    body = re.sub(
        r"\[[^\]]*\]|.",
        lambda m: table.get(m.group(), m.group() if m.group().startswith("[") else re.escape(m.group())),
        pattern[1:],
    )
    return re.compile(body, re.DOTALL)


def py_first_match(compiled: list[re.Pattern[str]], number: str) -> int | None:
    for i, p in enumerate(compiled):
        if p.fullmatch(number):
            return i
    return None


def py_longest_match(table: dict[str, object], number: str) -> tuple[str, object] | None:
    for end in range(len(number), -1, -1):
        if number[:end] in table:
            return number[:end], table[number[:end]]
    return None


# --- data -----------------------------------------------------------------------------------

PATTERNS = [f"_1{d}{i}XXXXXXXX" for d in "3456789" for i in range(3)] + ["_170XXXXXXXX", "_1[89]!"]


@pytest.fixture(scope="module")
def service_numbers() -> list[str]:
    return service_lines(BATCH, 1).decode().split()


@pytest.fixture(scope="module")
def mobile_numbers() -> list[str]:
    return mobiles(BATCH, 2)


@pytest.fixture(scope="module")
def bulk() -> bytes:
    return service_lines(BULK, 3)


@pytest.fixture(scope="module")
def area_table() -> dict[str, object]:
    rng = random.Random(4)
    codes = {f"0{rng.randrange(10, 1000)}" for _ in range(370)} | {f"1{s}" for s in range(30, 200)}
    return {c: {"code": c} for c in codes}


def record(benchmark, numbers: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        rate = numbers / stats.stats.median
        benchmark.extra_info["numbers_per_second"] = round(rate)
        print(f"\n{benchmark.name}: {rate / 1e6:.1f} M numbers/s")


# --- classify -------------------------------------------------------------------------------


@pytest.mark.benchmark(group="classify one")
def test_classify_one_rust(benchmark):
    assert benchmark(routecore.classify, "4001238888").class_ == "special"


@pytest.mark.benchmark(group="classify one")
def test_classify_one_python(benchmark):
    assert benchmark(py_classify, "4001238888")[0] == "special"


@pytest.mark.benchmark(group="classify 100k")
def test_classify_batch_rust(benchmark, service_numbers):
    got = benchmark(routecore.classify_many, service_numbers)
    assert [c.class_ for c in got[:1000]] == [py_classify(n)[0] for n in service_numbers[:1000]]


@pytest.mark.benchmark(group="classify 100k")
def test_classify_batch_python(benchmark, service_numbers):
    benchmark(lambda: [py_classify(n) for n in service_numbers])


# --- pattern sets ---------------------------------------------------------------------------


@pytest.mark.benchmark(group="pattern set one")
def test_pattern_one_rust(benchmark):
    s = routecore.PatternSet(PATTERNS)
    assert benchmark(s.first_match, "19912345678") == len(PATTERNS) - 1


@pytest.mark.benchmark(group="pattern set one")
def test_pattern_one_python(benchmark):
    compiled = [py_pattern(p) for p in PATTERNS]
    assert benchmark(py_first_match, compiled, "19912345678") == len(PATTERNS) - 1


@pytest.mark.benchmark(group="pattern set 100k")
def test_pattern_batch_rust(benchmark, mobile_numbers):
    s = routecore.PatternSet(PATTERNS)
    got = benchmark(s.match_many, mobile_numbers)
    compiled = [py_pattern(p) for p in PATTERNS]
    assert got[:1000] == [py_first_match(compiled, n) for n in mobile_numbers[:1000]]


@pytest.mark.benchmark(group="pattern set 100k")
def test_pattern_batch_python(benchmark, mobile_numbers):
    compiled = [py_pattern(p) for p in PATTERNS]
    benchmark(lambda: [py_first_match(compiled, n) for n in mobile_numbers])


# --- prefix tables --------------------------------------------------------------------------


@pytest.mark.benchmark(group="prefix one")
def test_prefix_one_rust(benchmark, area_table):
    t = routecore.PrefixTable(area_table)
    benchmark(t.longest_match, "13800138000")


@pytest.mark.benchmark(group="prefix one")
def test_prefix_one_python(benchmark, area_table):
    benchmark(py_longest_match, area_table, "13800138000")


@pytest.mark.benchmark(group="prefix 100k")
def test_prefix_batch_rust(benchmark, area_table, mobile_numbers):
    t = routecore.PrefixTable(area_table)
    got = benchmark(t.longest_match_many, mobile_numbers)
    assert got[:1000] == [py_longest_match(area_table, n) for n in mobile_numbers[:1000]]


@pytest.mark.benchmark(group="prefix 100k")
def test_prefix_batch_python(benchmark, area_table, mobile_numbers):
    benchmark(lambda: [py_longest_match(area_table, n) for n in mobile_numbers])


# --- bulk: 10 million numbers from one bytes buffer, one core --------------------------------


@pytest.mark.benchmark(group="bulk 10M")
def test_bulk_pool_class(benchmark, bulk):
    kept = benchmark.pedantic(routecore.pool, (bulk,), {"class_": "top"}, rounds=3, iterations=1)
    assert kept and all(py_classify(n)[0] == "top" for n in kept[:100])
    record(benchmark, BULK)


@pytest.mark.benchmark(group="bulk 10M")
def test_bulk_pool_pattern(benchmark, bulk):
    kept = benchmark.pedantic(routecore.pool, (bulk,), {"pattern": "_400XXX8888"}, rounds=3, iterations=1)
    assert kept and all(n.endswith("8888") for n in kept)
    record(benchmark, BULK)


@pytest.mark.benchmark(group="bulk 10M")
def test_bulk_pool_tag(benchmark, bulk):
    kept = benchmark.pedantic(routecore.pool, (bulk,), {"tag": "ascending"}, rounds=3, iterations=1)
    assert kept and all(any(t.startswith("ascending") for t in py_classify(n)[1]) for n in kept[:100])
    record(benchmark, BULK)


@pytest.mark.benchmark(group="bulk 10M")
def test_bulk_classify_many(benchmark, bulk):
    got = benchmark.pedantic(routecore.classify_many, (bulk,), rounds=3, iterations=1)
    assert len(got) == BULK
    record(benchmark, BULK)
