"""Province and city names a plan may use in `caller_region` and `regions`, and suggestions.

The names are the short ones of the `phone` package's data (numbers.md). The region helper's
`routecore._regiondata.place_names` is preferred when present; until then they are read from the
region records of `phone`'s phone.dat (`province|city|zip|area`, NUL-separated, before the first
segment record).
"""

from __future__ import annotations

import difflib
import importlib
import struct
from collections.abc import Callable, Collection, Mapping
from functools import cache
from pathlib import Path

Places = Mapping[str, Collection[str]]
PlacesSource = Places | Callable[[], Places]


@cache
def default_places() -> Places:
    """Province → its cities, from `routecore._regiondata` if it exists, else from phone.dat."""
    try:
        module = importlib.import_module("routecore._regiondata")
    except ImportError:
        return phone_dat_places()
    names = module.place_names
    result = names() if callable(names) else names
    return {p: frozenset(c) for p, c in result.items()}


def phone_dat_places(dat_file: Path | None = None) -> dict[str, frozenset[str]]:
    """Province → cities from the region records of the `phone` package's phone.dat."""
    if dat_file is None:
        import phone  # type: ignore[import-untyped]  # the package is a dependency; imported here to keep `import routecore` light

        dat_file = Path(phone.__file__).with_name("phone.dat")
    buf = dat_file.read_bytes()
    _version, first_record = struct.unpack("<4si", buf[:8])
    places: dict[str, set[str]] = {}
    for raw in buf[8:first_record].split(b"\x00"):
        if not raw:
            continue
        fields = raw.decode("utf-8").split("|")
        if len(fields) < 2 or not fields[0]:
            continue
        places.setdefault(fields[0], set()).add(fields[1])
    return {p: frozenset(c) for p, c in places.items()}


def resolve_places(source: PlacesSource | None) -> Places:
    if source is None:
        return default_places()
    if callable(source):
        return source()
    return source


_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "省",
    "市",
    "地区",
    "盟",
)


def _strip_suffix(name: str) -> str:
    for s in _SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def place_problem(entry: str, places: Places) -> str | None:
    """Why `entry` (`province` or `province/city`) names no known place, with the nearest name."""
    if "/" in entry:
        province, _, city = entry.partition("/")
        if "/" in city:
            return f"unknown place {entry!r}: write a province or province/city (one '/')"
        if province in places and city in places[province]:
            return None
    elif entry in places:
        return None
    return f"unknown place {entry!r}{_hint(entry, places)}"


def _hint(entry: str, places: Places) -> str:
    suggestion = suggest_place(entry, places)
    return f" (did you mean {suggestion!r}?)" if suggestion else ""


def suggest_place(entry: str, places: Places) -> str | None:
    """The nearest known `province` or `province/city` to `entry`, or None."""
    provinces = list(places)
    province, slash, city = entry.partition("/")
    province_s = _strip_suffix(province)
    if not slash:
        if province_s in places:
            return province_s
        homes = sorted(p for p, cities in places.items() if province_s in cities)
        if homes:
            return f"{homes[0]}/{province_s}"
        close = difflib.get_close_matches(province_s, provinces, n=1, cutoff=0.5)
        return close[0] if close else None
    city_s = _strip_suffix(city)
    if province_s not in places:
        close = difflib.get_close_matches(province_s, provinces, n=1, cutoff=0.5)
        homes = sorted(p for p, cities in places.items() if city_s in cities)
        if homes:
            return f"{homes[0]}/{city_s}"
        if not close:
            return None
        province_s = close[0]
    cities = places[province_s]
    if city_s in cities:
        return f"{province_s}/{city_s}"
    homes = sorted(p for p, cs in places.items() if city_s in cs)
    if homes:
        return f"{homes[0]}/{city_s}"
    close = difflib.get_close_matches(city_s, sorted(cities), n=1, cutoff=0.5)
    return f"{province_s}/{close[0]}" if close else province_s
