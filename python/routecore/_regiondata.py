"""Region data: reads the installed `phone` and `phonenumbers` packages and installs the tables.

`phone.dat` is read from the installed `phone` package at every load and parsed in Rust; nothing
of it is copied into the repository. From `phonenumbers` only the facts about +86 (zh geodata and
carriers), the calling codes, the NANP area codes of the regions sharing +1 and the leading digits of
the regions sharing other codes are extracted, as
one small text (see `rust/region.rs`, `PhonenumbersData`). Importing `phonenumbers.geodata` takes
about a third of a second, so that text is cached in the user's cache directory, keyed by both
packages' versions; a second load costs a file read and the Rust build (a few milliseconds).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import os
import re
import tempfile
import threading
from pathlib import Path

from routecore import _routecore

# Bump when the material's format or content rules change, so old caches are ignored.
_FORMAT = 3
_lock = threading.Lock()
_installed = False


def phone_dat() -> bytes:
    """The bytes of the installed `phone` package's `phone.dat`."""
    return (importlib.resources.files("phone") / "phone.dat").read_bytes()


def versions() -> tuple[str, str]:
    """The installed versions of `phone` and `phonenumbers`."""
    return importlib.metadata.version("phone"), importlib.metadata.version("phonenumbers")


def cache_dir() -> Path:
    """`$ROUTECORE_CACHE_DIR`, else `$XDG_CACHE_HOME/routecore`, else `~/.cache/routecore`."""
    if env := os.environ.get("ROUTECORE_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "routecore"


def _cache_path() -> Path:
    phone, pn = versions()
    return cache_dir() / f"region-phone{phone}-phonenumbers{pn}-v{_FORMAT}.txt"


def _nanp_lines() -> list[str]:
    """NANP area codes of the regions sharing +1 other than its main one (US): each area code's
    region is the one `phonenumbers` gives a number in it (the first of a few subscriber numbers
    it finds valid), so that its own rules decide, Canada's non-geographic 600/622/633 included."""
    import phonenumbers

    lines: list[str] = []
    for npa in range(200, 1000):
        for subscriber in ("2345678", "5550123", "3456789", "7654321", "2001234", "9876543"):
            region = phonenumbers.region_code_for_number(phonenumbers.parse(f"+1{npa}{subscriber}"))
            if region is not None:
                break
        if region not in (None, "US"):
            lines.append(f"a\t{npa}\t{region}")
    return lines


def _shared_code_lines() -> list[str]:
    """Prefixes of the regions that share a calling code other than +1 and name their numbers by
    leading digits (KZ `+7 7`, VA `+39 06698`, IM `+44 7624`, AX `+358 18`, ...).

    `phonenumbers` gives a number the first region of its code whose leading digits begin it;
    a region without leading digits (the main one of +39 or +44) is decided by whole-number
    patterns, which a prefix table cannot hold, so it takes what no listed prefix claims. The
    regions known only by whole-number patterns (JE, GG, CC, CX, YT, ...) thus stay with their
    code's main region. Each line holds the shortest prefix (up to 5 digits) that decides.
    """
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    lines: list[str] = []
    for code, regions in sorted(COUNTRY_CODE_TO_REGION_CODE.items()):
        if code == 1 or len(regions) < 2:
            continue
        leading = []
        for region in regions:
            md = PhoneMetadata.metadata_for_region(region)
            if md is not None and md.leading_digits:
                leading.append((region, re.compile(md.leading_digits)))
        if not any(region != regions[0] for region, _ in leading):
            continue
        pending = [""]
        while pending:
            prefix = pending.pop()
            owner = next((region for region, pattern in leading if pattern.match(prefix)), None)
            if owner is not None:
                if owner != regions[0]:
                    lines.append(f"p\t{code}{prefix}\t{owner}")
            elif len(prefix) < 5:
                pending.extend(prefix + digit for digit in "0123456789")
    return lines


def build_material() -> str:
    """Extracts what the tables need from `phonenumbers` (about 0.4 s: it imports the geodata)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.carrierdata import CARRIER_DATA
    from phonenumbers.geodata import GEOCODE_DATA

    lines = [f"g\t{k}\t{v['zh']}" for k, v in GEOCODE_DATA.items() if k.startswith("86") and "zh" in v]
    lines += [f"c\t{k}\t{v['zh']}" for k, v in CARRIER_DATA.items() if k.startswith("86") and "zh" in v]
    lines += [f"n\t{code}\t{regions[0]}" for code, regions in COUNTRY_CODE_TO_REGION_CODE.items() if regions]
    lines += _nanp_lines()
    lines += _shared_code_lines()
    return "\n".join(lines) + "\n"


def material(*, refresh: bool = False) -> str:
    """The `phonenumbers` material, from the cache when it holds these versions' copy."""
    path = _cache_path()
    if not refresh:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return path.read_text(encoding="utf-8")
    text = build_material()
    # A cache that cannot be written only costs the next load its time.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return text


def load_tables(*, refresh: bool = False) -> None:
    """Builds and installs the region tables once per process (again with `refresh=True`).

    Raises:
        InvalidArgumentError: the installed packages' data cannot be read.
    """
    global _installed
    with _lock:
        if _installed and not refresh:
            return
        dat = phone_dat()
        try:
            _routecore.install_region_tables(dat, material(refresh=refresh))
        except _routecore.InvalidArgumentError:
            if refresh:
                raise
            # A damaged cache: rebuild it from the packages once.
            _routecore.install_region_tables(dat, material(refresh=True))
        _installed = True


def place_names() -> dict[str, list[str]]:
    """Province -> its cities, as the `phone` data names them (what rules may name)."""
    load_tables()
    out: dict[str, list[str]] = {}
    for province, city in _routecore.region_places():
        out.setdefault(province, []).append(city)
    return out
