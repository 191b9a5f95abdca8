"""Caller region (rust/region.rs): agreement with the `phone` package on every one of its segments,
`phonenumbers` for what `phone` lacks, landline area codes, international callers."""

import json
import random
import re
import struct
import threading
from pathlib import Path

import phone
import phonenumbers
import pytest
import routecore
from phonenumbers import carrier as pn_carrier
from phonenumbers import geocoder
from routecore import _regiondata, _routecore

FIRST, LAST = 1_300_000, 1_999_999


def phone_segments() -> dict[int, tuple[str, str, str, bool]]:
    """segment -> (province, city, carrier, virtual), read from phone.dat by the package's own rules."""
    buf = _regiondata.phone_dat()
    _, first = struct.unpack("<4si", buf[:8])
    out = {}
    for segment, offset, phone_type in struct.iter_unpack("<iiB", buf[first:]):
        province, city, _zip, _area = buf[offset : buf.index(b"\0", offset)].decode().split("|")
        name = phone.Phone.get_phone_no_type(phone_type)
        out[segment] = (province, city, name.removesuffix("虚拟运营商"), name.endswith("虚拟运营商"))
    return out


@pytest.fixture(scope="module")
def segments() -> dict[int, tuple[str, str, str, bool]]:
    return phone_segments()


def test_every_phone_segment_agrees(segments):
    assert len(segments) > 400_000
    numbers = [f"{s}1234" for s in segments]
    regions = routecore.region_many(numbers)
    wrong = []
    for (segment, expected), r in zip(segments.items(), regions, strict=True):
        assert r is not None
        got = (r.province, r.city, r.carrier, r.virtual_operator)
        if got != expected or r.kind != "mobile" or r.country != "CN":
            wrong.append((segment, expected, got))
    assert not wrong, f"{len(wrong)} segments differ from phone, e.g. {wrong[:5]}"


def test_phone_dat_is_read_as_the_package_reads_it(segments):
    finder = phone.Phone()
    for segment in random.Random(7).sample(sorted(segments), 300):
        found = finder.find(f"{segment}0000")
        assert found is not None
        province, city, carrier, virtual = segments[segment]
        assert (found["province"], found["city"]) == (province, city)
        assert found["phone_type"] == carrier + ("虚拟运营商" if virtual else "")


def expected_from_phonenumbers(number: str) -> tuple[str, str, str]:
    parsed = phonenumbers.parse("+86" + number)
    place = _routecore.match_place(geocoder.description_for_valid_number(parsed, "zh")) or ("", "")
    name = pn_carrier.name_for_valid_number(parsed, "zh").removeprefix("中国")
    return place[0], place[1], name if name in {"移动", "联通", "电信", "广电"} else ""


def test_segments_phone_lacks_come_from_phonenumbers(segments):
    lacking = [s for s in range(FIRST, LAST + 1) if s not in segments]
    sample = random.Random(11).sample(lacking, 3000)
    with_region = 0
    for segment in sample:
        r = routecore.region(f"{segment}5678")
        assert r.virtual_operator is False
        assert (r.province, r.city, r.carrier) == expected_from_phonenumbers(f"{segment}5678"), segment
        with_region += bool(r.province)
    # Not every lacking segment is empty: phonenumbers fills some of them.
    assert with_region > 0


@pytest.mark.parametrize(
    ("caller", "province", "city", "carrier", "virtual"),
    [
        ("13800138000", "北京", "北京", "移动", False),
        ("17101230000", "福建", "厦门", "联通", True),
        ("15907550000", "广东", "深圳", "移动", False),
        ("18912340000", "江苏", "常州", "电信", False),
        ("15502100000", "上海", "上海", "联通", False),
        ("+86 138 0013 8000", "北京", "北京", "移动", False),
        ("14000000000", "", "", "", False),
    ],
)
def test_mobile_examples(caller, province, city, carrier, virtual):
    r = routecore.region(caller)
    assert (r.kind, r.province, r.city, r.carrier, r.virtual_operator, r.country) == (
        "mobile",
        province,
        city,
        carrier,
        virtual,
        "CN",
    )


@pytest.mark.parametrize(
    ("caller", "normalized", "province", "city"),
    [
        ("0755 8600 0001", "075586000001", "广东", "深圳"),
        ("02887654321", "02887654321", "四川", "成都"),
        ("010-6234-5678", "01062345678", "北京", "北京"),
        ("+86 20 8600 0100", "02086000100", "广东", "广州"),
        ("04331234567", "04331234567", "吉林", "延边"),
    ],
)
def test_landline_examples(caller, normalized, province, city):
    r = routecore.region(caller)
    assert (r.normalized, r.kind, r.province, r.city, r.carrier, r.virtual_operator, r.country) == (
        normalized,
        "landline",
        province,
        city,
        "",
        False,
        "CN",
    )


def test_every_phonenumbers_area_code_has_its_province():
    from phonenumbers.geodata import GEOCODE_DATA

    codes = {
        k[2:]: v["zh"]
        for k, v in GEOCODE_DATA.items()
        if k.startswith("86") and "zh" in v and (k[2:4] == "10" or k[2] in "23456789")
        if len(k) == (4 if k[2:4] == "10" or k[2] == "2" else 5)
    }
    assert len(codes) > 300
    places = routecore.place_names()
    for code, description in codes.items():
        subscriber = "1234567" if len(code) == 3 else "12345678"
        r = routecore.region(f"0{code}{subscriber}")
        expected = _routecore.match_place(description)
        assert expected is not None, description
        assert r.province == expected[0], (code, description, r)
        assert r.city in places[r.province], (code, r)


def test_every_area_code_takes_a_city_phone_lists_with_it():
    """numbers.md: an area code maps to the city `phone` lists with it (0979 → 格尔木 where
    `phonenumbers` names the prefecture 海西; 0634 → 莱芜, which `phonenumbers` lacks)."""
    buf = _regiondata.phone_dat()
    _, first = struct.unpack("<4si", buf[:8])
    listed: dict[str, set[tuple[str, str]]] = {}
    for record in buf[8:first].split(b"\0"):
        if record:
            province, city, _, area = record.decode().split("|")
            listed.setdefault(area, set()).add((province, city))
    # The names `phone`'s segments use with each area code: where a record no segment uses
    # names the place otherwise (克孜勒苏 beside 克州 for 0908), the used name is the one.
    used: dict[str, set[tuple[str, str]]] = {}
    for _segment, offset, _type in struct.iter_unpack("<iiB", buf[first:]):
        province, city, _, area = buf[offset : buf.index(b"\0", offset)].decode().split("|")
        used.setdefault(area, set()).add((province, city))
    codes = [a for a in listed if re.fullmatch(r"0(10|2\d|[3-9]\d\d)", a)]
    assert len(codes) > 300
    for area in codes:
        subscriber = "12345678" if len(area) == 3 else "1234567"
        r = routecore.region(area + subscriber)
        assert r.province, (area, listed[area])
        for names in (used.get(area, set()), listed[area]):
            in_province = {c for p, c in names if p == r.province}
            if in_province:
                assert r.city in in_province, (area, r.city, names)
                break
    assert (routecore.region("09791234567").city, routecore.region("06341234567").city) == ("格尔木", "莱芜")
    cities = [routecore.region(n).city for n in ("09081234567", "09091234567", "09961234567")]
    assert cities == ["克州", "博州", "巴州"]


def test_cities_are_phones_names(segments):
    places = routecore.place_names()
    buf = _regiondata.phone_dat()
    _, first = struct.unpack("<4si", buf[:8])
    expected: dict[str, set[str]] = {}
    for record in buf[8:first].split(b"\0"):
        if record:
            province, city, _, _ = record.decode().split("|")
            expected.setdefault(province, set()).add(city)
    assert {p: set(c) for p, c in places.items()} == expected
    # Some names serve only landlines (no segment names them), so the record area is the list.
    assert {(p, c) for p, c, _, _ in segments.values()} <= {(p, c) for p, cs in places.items() for c in cs}
    assert all(len(c) == len(set(c)) for c in places.values())
    for name in ("北京", "广东", "内蒙古", "新疆"):
        assert name in places
    assert {"深圳", "广州"} <= set(places["广东"])


@pytest.mark.parametrize(
    ("caller", "country"),
    [
        ("+1 415 555 0100", "US"),
        ("0014155550100", "US"),
        ("+1 416 555 0100", "CA"),
        ("+1 268 555 0100", "AG"),
        ("+1 600 201 2345", "CA"),  # non-geographic, in none of Canada's fixed or mobile patterns
        ("+44 20 7946 0000", "GB"),
        ("+81 3 1234 5678", "JP"),
        ("+852 2123 4567", "HK"),
        ("+7 712 345 6789", "KZ"),
        ("+7 916 123 4567", "RU"),
        ("+39 06 698 12345", "VA"),
        ("+44 7624 456789", "IM"),
        ("+358 18 123 4567", "AX"),
    ],
)
def test_international_callers_have_their_country(caller, country):
    r = routecore.region(caller)
    assert (r.kind, r.country, r.province, r.city, r.carrier) == ("international", country, "", "", "")
    as_e164 = "+" + r.normalized.removeprefix("00")
    assert phonenumbers.region_code_for_number(phonenumbers.parse(as_e164)) == country


def test_every_nanp_region_example_agrees_with_phonenumbers():
    """Every 10-digit example number of every type of every region under +1 (toll-free, personal
    and non-geographic numbers too) gets the region `phonenumbers` gives it."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType

    checked = 0
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        for kind in vars(PhoneNumberType).values():
            if not isinstance(kind, int):
                continue
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None or len(str(example.national_number)) != 10:
                continue  # Canada's 7-digit 310 numbers: no area code to tell them by
            expected = phonenumbers.region_code_for_number(example)
            got = routecore.region("+" + str(example.country_code) + str(example.national_number))
            assert got.country == (expected or "US"), (region, kind, example)
            checked += 1
    assert checked > 100


def test_regions_sharing_a_code_by_leading_digits_agree_with_phonenumbers():
    """Every example number of a region that shares its calling code and names its numbers by
    leading digits gets the region `phonenumbers` gives it (the main regions' examples too)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    checked = 0
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if code == 1 or len(regions) < 2:
            continue
        for region in regions:
            md = PhoneMetadata.metadata_for_region(region)
            if md is None or not (md.leading_digits or region == regions[0]):
                continue  # decided by whole-number patterns only: stays with the main region
            for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                expected = phonenumbers.region_code_for_number(example)
                text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                assert routecore.region(text).country == expected, (region, text)
                checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    ("caller", "kind", "country"),
    [
        ("4001234567", "service", "CN"),
        ("95588", "service", "CN"),
        ("110", "service", "CN"),
        ("12", "unknown", ""),
        ("+999 1234", "unknown", ""),
        ("", "anonymous", ""),
        ("sip:anonymous@anonymous.invalid", "anonymous", ""),
    ],
)
def test_other_kinds(caller, kind, country):
    r = routecore.region(caller)
    assert (r.kind, r.country, r.province, r.city, r.carrier, r.virtual_operator) == (
        kind,
        country,
        "",
        "",
        "",
        False,
    )


def test_acceptance_vectors_callers(spec_dir: Path):
    checked = 0
    for line in (spec_dir / "acceptance" / "vectors.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        for step in case.get("steps", [case]):
            expect = step.get("expect", {}).get("caller")
            if not expect:
                continue
            r = routecore.region(step["request"]["caller"])
            for key, value in expect.items():
                assert getattr(r, key) == value, (case["name"], key, r)
            checked += 1
    assert checked >= 10


def test_region_matches_normalize_and_kind():
    for caller in ["+86 138 0013 8000", "tel:+86-755-8600-0001", "0014155550100", "95588", "private"]:
        r = routecore.region(caller)
        assert (r.normalized, r.kind) == (routecore.normalize(caller), routecore.kind(caller))


def test_bad_numbers():
    with pytest.raises(routecore.InvalidNumberError, match=r"character 'a' at position 3"):
        routecore.region("138abc")
    assert routecore.region_many(["138abc", "13800138000", "+86+1"]) == [
        None,
        routecore.region("13800138000"),
        None,
    ]


def test_region_value_semantics():
    a, b = routecore.region("13800138000"), routecore.region("+8613800138000")
    assert a == b and hash(a) == hash(b)
    assert a != routecore.region("17101230000")
    assert "province='北京'" in repr(a).replace('"', "'")
    with pytest.raises(AttributeError):
        a.province = "上海"  # type: ignore[misc]


def test_region_many_from_threads():
    numbers = [f"{s}0000" for s in range(1_380_000, 1_390_000)]
    expected = routecore.region_many(numbers)
    results: list[list] = []

    def work() -> None:
        results.append(routecore.region_many(numbers))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_material_is_cached_by_versions(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTECORE_CACHE_DIR", str(tmp_path))
    text = _regiondata.material()
    cached = list(tmp_path.iterdir())
    assert len(cached) == 1
    phone_version, pn_version = _regiondata.versions()
    assert phone_version in cached[0].name and pn_version in cached[0].name
    assert _regiondata.material() == text
    # A damaged cache is rebuilt when the tables refuse it.
    cached[0].write_text("g\tnot digits\tx\n", encoding="utf-8")
    monkeypatch.setattr(_regiondata, "_installed", False)
    _regiondata.load_tables()
    assert cached[0].read_text(encoding="utf-8") == text
    assert routecore.region("13800138000").province == "北京"


def test_bad_inputs_to_install_are_refused():
    with pytest.raises(routecore.InvalidArgumentError, match=r"phone\.dat"):
        _routecore.install_region_tables(b"2312", "")
    with pytest.raises(routecore.InvalidArgumentError, match="line 1"):
        _routecore.install_region_tables(_regiondata.phone_dat(), "x\t1\tUS\n")
    # The installed tables are untouched by a refused build.
    assert routecore.region("13800138000").carrier == "移动"


def test_stats_report_the_sources(segments):
    stats = dict(_routecore.region_stats())
    assert stats["from_phone"] == len(segments)
    assert 0 < stats["from_phonenumbers"] < (LAST - FIRST + 1) - len(segments)
    assert stats["area_codes"] > 300
    assert stats["calling_codes"] > 200
