"""Normalise + region of a caller: routecore against a straightforward pure-Python implementation.

The baseline parses like `numbers.md` (separators, `tel:`/`sip:`, `+86`/`0086`/bare `86`, kinds) and
looks the region up in dicts built from `phone` (segment -> region, area code -> region).
Run: `python -m pytest bench/test_bench_region.py --benchmark-enable` (build with --release first).
"""

import random
import re
import struct

import pytest
import routecore
from routecore import _regiondata

WITHHELD = {"", "anonymous", "unknown", "unavailable", "private", "restricted"}
SEPARATORS = re.compile(r"[ \-.()\t]")
TYPES = {1: "移动", 2: "联通", 3: "电信", 4: "电信", 5: "联通", 6: "移动", 7: "广电", 8: "广电"}


def build_python_tables() -> tuple[dict[str, tuple], dict[str, tuple]]:
    buf = _regiondata.phone_dat()
    _, first = struct.unpack("<4si", buf[:8])
    segments: dict[str, tuple] = {}
    areas: dict[str, tuple] = {}
    for segment, offset, kind in struct.iter_unpack("<iiB", buf[first:]):
        province, city, _, area = buf[offset : buf.index(b"\0", offset)].decode().split("|")
        segments[str(segment)] = (province, city, TYPES[kind], kind in (4, 5, 6, 8))
        areas.setdefault(area[1:], (province, city))
    return segments, areas


SEGMENTS, AREAS = build_python_tables()


def py_kind(d: str) -> str:
    if len(d) == 11 and d[0] == "1" and d[1] in "3456789":
        return "mobile"
    if (
        (len(d) == 10 and d[:3] in ("400", "800"))
        or (d.startswith("95") and len(d) in (5, 6))
        or (d[:2] in ("10", "12") and len(d) == 5)
        or (d.startswith("11") and len(d) == 3)
    ):
        return "service"
    if len(d) >= 2 and d[0] == "0" and d[1] != "0":
        short = d.startswith("010") or d.startswith("02")
        if len(d) == 11 or (not short and len(d) == 12):
            return "landline"
    return "unknown"


def py_normalize(text: str) -> tuple[str, str]:
    s = text.strip()
    if s.lower() in WITHHELD:
        return "", "anonymous"
    low = s.lower()
    for scheme in ("tel:", "sips:", "sip:"):
        if low.startswith(scheme):
            s = re.split(r"[@;?]", s[len(scheme) :])[0]
            break
    s = SEPARATORS.sub("", s)
    plus = s.startswith("+")
    if plus:
        s = s[1:]
    if not s.isdigit() or not s.isascii() or len(s) > 20:
        raise ValueError(f"not a number: {text!r}")
    if plus or s.startswith("00"):
        rest = s if plus else s[2:]
        if not rest.startswith("86"):
            return "00" + rest, "international"
        s = rest[2:]
        kind = py_kind(s)
        if kind in ("mobile", "service"):
            return s, kind
        s = s if s.startswith("0") else "0" + s
        return s, py_kind(s)
    if s.startswith("86") and py_kind(s[2:]) == "mobile":
        return s[2:], "mobile"
    return s, py_kind(s)


def py_region(text: str) -> dict:
    number, kind = py_normalize(text)
    province = city = carrier = ""
    virtual = False
    if kind == "mobile":
        province, city, carrier, virtual = SEGMENTS.get(number[:7], ("", "", "", False))
    elif kind == "landline":
        code = number[1:3] if number[1] in "12" else number[1:4]
        province, city = AREAS.get(code, ("", ""))
    country = "CN" if kind in ("mobile", "landline", "service") else ""
    return {
        "normalized": number,
        "kind": kind,
        "province": province,
        "city": city,
        "carrier": carrier,
        "virtual_operator": virtual,
        "country": country,
    }


ONE = "+86 138 0013 8000"
rng = random.Random(3)
SEGMENT_LIST, AREA_LIST = list(SEGMENTS), list(AREAS)
BATCH = [
    rng.choice(
        [
            f"{rng.choice(SEGMENT_LIST)}{rng.randrange(10_000):04d}",
            f"+86 {rng.choice(SEGMENT_LIST)} {rng.randrange(10_000):04d}",
            f"0{rng.choice(AREA_LIST)}-{rng.randrange(10_000_000):07d}",
            f"sip:{rng.choice(SEGMENT_LIST)}{rng.randrange(10_000):04d}@10.0.0.1",
        ]
    )
    for _ in range(10_000)
]


def test_baseline_agrees_with_routecore():
    for text in [ONE, *BATCH[:2000]]:
        ours = routecore.region(text)
        theirs = py_region(text)
        assert (ours.normalized, ours.kind) == (theirs["normalized"], theirs["kind"]), text
        if ours.kind == "mobile":
            assert (ours.province, ours.city, ours.carrier) == (
                theirs["province"],
                theirs["city"],
                theirs["carrier"],
            )


@pytest.mark.benchmark(group="region-single")
def test_single_routecore(benchmark):
    assert benchmark(routecore.region, ONE).province == "北京"


@pytest.mark.benchmark(group="region-single")
def test_single_pure_python(benchmark):
    assert benchmark(py_region, ONE)["province"] == "北京"


@pytest.mark.benchmark(group="region-batch-10k")
def test_batch_routecore(benchmark):
    assert len(benchmark(routecore.region_many, BATCH)) == len(BATCH)


@pytest.mark.benchmark(group="region-batch-10k")
def test_batch_routecore_one_by_one(benchmark):
    assert len(benchmark(lambda: [routecore.region(n) for n in BATCH])) == len(BATCH)


@pytest.mark.benchmark(group="region-batch-10k")
def test_batch_pure_python(benchmark):
    assert len(benchmark(lambda: [py_region(n) for n in BATCH])) == len(BATCH)
