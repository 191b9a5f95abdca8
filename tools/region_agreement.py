"""Measured agreement between the `phone` and `phonenumbers` mobile segment data.

For every segment 1300000..1999999: does each source know it (a region, a carrier), and where both
do, do the province, the city and the carrier agree? `phonenumbers` descriptions are mapped to
`phone`'s short names the way routecore's tables map them (`routecore._routecore.match_place`).

    python tools/region_agreement.py [--examples N] [--json]
"""

from __future__ import annotations

import argparse
import json
import struct
from collections import Counter

from phonenumbers.carrierdata import CARRIER_DATA
from phonenumbers.geodata import GEOCODE_DATA
from routecore import _regiondata, _routecore

FIRST, LAST = 1_300_000, 1_999_999
CARRIERS = {"中国移动": "移动", "中国联通": "联通", "中国电信": "电信", "中国广电": "广电"}
VIRTUAL_TYPES = {4, 5, 6, 8}
PHONE_CARRIER = {1: "移动", 2: "联通", 3: "电信", 4: "电信", 5: "联通", 6: "移动", 7: "广电", 8: "广电"}


def phone_segments() -> dict[int, tuple[str, str, str, bool]]:
    buf = _regiondata.phone_dat()
    _, first = struct.unpack("<4si", buf[:8])
    out = {}
    for segment, offset, kind in struct.iter_unpack("<iiB", buf[first:]):
        province, city, _, _ = buf[offset : buf.index(b"\0", offset)].decode().split("|")
        out[segment] = (province, city, PHONE_CARRIER[kind], kind in VIRTUAL_TYPES)
    return out


def longest(data: dict, segment: int) -> str | None:
    key = f"86{segment}"
    for n in range(len(key), 2, -1):
        entry = data.get(key[:n])
        if entry is not None and "zh" in entry:
            return entry["zh"]
    return None


def pct(n: int, d: int) -> str:
    return f"{n:>7} / {d:<7} {100 * n / d:6.2f} %" if d else f"{n:>7} / {d:<7}      - "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=8, help="disagreements to show per field")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args()

    _regiondata.load_tables()
    phone = phone_segments()
    place_memo: dict[str, tuple[str, str] | None] = {}
    c: Counter[str] = Counter()
    disagree: dict[str, Counter[tuple]] = {"province": Counter(), "city": Counter(), "carrier": Counter()}

    for segment in range(FIRST, LAST + 1):
        desc = longest(GEOCODE_DATA, segment)
        if desc is not None and desc not in place_memo:
            place_memo[desc] = _routecore.match_place(desc)
        pn_place = place_memo.get(desc) if desc is not None else None
        carrier_name = longest(CARRIER_DATA, segment)
        pn_carrier = CARRIERS.get(carrier_name or "")
        ph = phone.get(segment)

        c["segments"] += 1
        c["phone"] += ph is not None
        c["phonenumbers region"] += pn_place is not None
        c["phonenumbers carrier"] += pn_carrier is not None
        has_pn = pn_place is not None or pn_carrier is not None
        if ph is None:
            c["only phonenumbers" if has_pn else "neither"] += 1
            continue
        if not has_pn:
            c["only phone"] += 1
            continue
        c["both"] += 1
        province, city, carrier, virtual = ph
        if pn_place is not None:
            c["both region"] += 1
            if pn_place[0] == province:
                c["province agree"] += 1
                if pn_place[1]:
                    c["both city"] += 1
                    if pn_place[1] == city:
                        c["city agree"] += 1
                    else:
                        disagree["city"][(province, city, pn_place[1])] += 1
                else:
                    c["phonenumbers city unknown to phone"] += 1
            else:
                disagree["province"][(province, pn_place[0])] += 1
        if pn_carrier is not None:
            group = "virtual" if virtual else "own"
            c[f"both carrier ({group})"] += 1
            if pn_carrier == carrier:
                c[f"carrier agree ({group})"] += 1
            else:
                disagree["carrier"][(group, carrier, pn_carrier)] += 1

    if args.json:
        print(json.dumps({"counts": c, "stats": dict(_routecore.region_stats())}, ensure_ascii=False))
        return

    n = c["segments"]
    print(f"Segments 1300000..1999999: {n}")
    print(f"  in phone                     {pct(c['phone'], n)}")
    print(f"  phonenumbers region          {pct(c['phonenumbers region'], n)}")
    print(f"  phonenumbers carrier         {pct(c['phonenumbers carrier'], n)}")
    print(f"  in both                      {pct(c['both'], n)}")
    print(f"  only in phone                {pct(c['only phone'], n)}")
    print(f"  only in phonenumbers         {pct(c['only phonenumbers'], n)}")
    print(f"  in neither                   {pct(c['neither'], n)}")
    print("Where both give a region:")
    print(f"  province agree               {pct(c['province agree'], c['both region'])}")
    print(f"  city agree (both name one)   {pct(c['city agree'], c['both city'])}")
    unknown_city = c["phonenumbers city unknown to phone"]
    print(f"  pn city not a phone name     {pct(unknown_city, c['province agree'])}")
    print("Where both give a carrier:")
    for group in ("own", "virtual"):
        label = f"carrier agree ({group})"
        print(f"  {label:<28} {pct(c[label], c[f'both carrier ({group})'])}")
    for field, counter in disagree.items():
        if counter:
            print(f"Most common {field} disagreements (phone vs phonenumbers, segments):")
            for key, count in counter.most_common(args.examples):
                print(f"  {' / '.join(key):<32} {count}")
    stats = dict(_routecore.region_stats())
    print(
        f"routecore's tables: {stats['from_phone']} segments from phone, "
        f"{stats['from_phonenumbers']} from phonenumbers ({stats['province_only']} province only), "
        f"{stats['area_codes']} area codes, {stats['calling_codes']} calling codes"
    )


if __name__ == "__main__":
    main()
