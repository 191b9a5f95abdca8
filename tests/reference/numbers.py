"""Number normalisation, kinds, caller region and 400/800 classes, written from numbers.md.

Deliberately naive: regular expressions and dictionaries, no shared code with the engine.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers import carrier as pn_carrier
from phonenumbers import geocoder as pn_geocoder

WITHHELD = frozenset({"", "anonymous", "unknown", "unavailable", "private", "restricted"})
FORMATTING = " -.()"
MAX_DIGITS = 20  # not counting an international prefix `00`, the digits' spelling of `+` (decisions.md)
MAX_CALLER_DIGITS = 32  # a malformed caller keeps at most its first 32 digits (decisions.md)
MAX_CALLED_BYTES = 256  # a longer called number is refused without a look (decisions.md)

MOBILE = re.compile(r"1[3-9]\d{9}")
# 010 and 02X have a 2-digit area code and 8 subscriber digits; any other area code (not starting
# with 0, which would be an international prefix) has 3 digits and 7 or 8 subscriber digits.
LANDLINE = re.compile(r"0(?:10|2\d)\d{8}|0(?!10|2)[1-9]\d{2}\d{7,8}")
SERVICE = re.compile(r"(?:400|800)\d{7}|95\d{3,4}|10\d{3}|12\d{3}|11\d")
SERVICE_400 = re.compile(r"(?:400|800)\d{7}")
URI_SCHEME = re.compile(r"(tel|sips?):", re.IGNORECASE | re.ASCII)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class NotANumber(ValueError):
    """The text is not a number (letters, a misplaced `+`, too many digits)."""


class _Malformed(NotANumber):
    """Digits, but no number: too many of them, or a country code with nothing after it.

    A caller is never refused for this (numbers.md): it is `unknown`, kept as given.
    """

    def __init__(self, message: str, given: str) -> None:
        super().__init__(message)
        self.given = given  # the digits as written, a `+` spelled `00`


class _NoUserPart(NotANumber):
    """A SIP URI with no user part (`sip:host`): no number. A caller shows none (anonymous)."""


@dataclass(frozen=True)
class Number:
    """A normalised number: national form (what rules and lists match on) and kind."""

    normalized: str
    kind: str  # mobile, landline, service, international, anonymous, unknown
    country_code: str = ""  # digits of the country code, international numbers only


ANONYMOUS = Number("", "anonymous")


def _national_kind(national: str) -> str:
    if MOBILE.fullmatch(national):
        return "mobile"
    if LANDLINE.fullmatch(national):
        return "landline"
    if SERVICE.fullmatch(national):
        return "service"
    return "unknown"


def _withheld(text: str) -> bool:
    return text.isascii() and text.lower() in WITHHELD


def _user_part(text: str) -> str:
    """The user part of a `tel:` / `sip:` / `sips:` URI (up to `@`, `;` or `?`), or the text itself."""
    scheme = URI_SCHEME.match(text)
    if scheme is None:
        return text
    rest = text[scheme.end() :]
    if scheme.group(1).lower() != "tel" and "@" not in rest:
        raise _NoUserPart(f"not a number: {text!r}: a sip URI without '@' has no user part")
    return re.split(r"[@;?]", rest, maxsplit=1)[0]


def _known_country_code(digits: str) -> str | None:
    """The country calling code `digits` start with, if phonenumbers knows it.

    Codes are prefix-free, so at most one of the 1..3-digit prefixes is known; none starts
    with 0 (decisions.md: `+01…` is not `+1`, `00 086…` is not China).
    """
    if digits.startswith("0"):
        return None
    for length in (1, 2, 3):
        cc = digits[:length]
        if len(cc) == length and int(cc) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return cc
    return None


def _after_international_prefix(rest: str) -> Number | None:
    """`rest` follows a `+` or `00`: a calling code and the number."""
    if rest.startswith("86"):
        return _from_china(rest[2:])
    cc = _known_country_code(rest)
    if cc is None or rest == cc:
        return Number("00" + rest, "unknown")  # unknown code, or nothing after it
    return Number("00" + rest, "international", cc)


def _from_china(rest: str) -> Number | None:
    """`rest` follows a `+86` / `0086` (or a bare `86` before a whole national number).

    None when nothing follows: a country code alone is not a number.
    """
    if not rest:
        return None
    if rest.startswith("00"):
        # `+86 0086 138…`, `+86 0044 20…`: an international prefix starts the number (decisions.md)
        return _after_international_prefix(rest[2:])
    kind = _national_kind(rest)
    if kind in ("mobile", "service"):
        return Number(rest, kind)
    # `+86 0755 …` is a common slip: the trunk 0 is already there (decisions.md).
    national = rest if rest.startswith("0") else "0" + rest
    return Number(national, "landline" if LANDLINE.fullmatch(national) else "unknown")


def _whole_national(rest: str) -> bool:
    """Whether `rest`, after a bare `86`, is a whole national number: a mobile, a 400/800 number,
    or a landline with or without its trunk 0 (never a short code: `86` before one may be a
    local subscriber number)."""
    return bool(
        MOBILE.fullmatch(rest)
        or SERVICE_400.fullmatch(rest)
        or LANDLINE.fullmatch(rest)
        or LANDLINE.fullmatch("0" + rest)
    )


def _parse(text: str) -> Number:
    if LONE_SURROGATE.search(text):
        raise NotANumber(f"not a number: {text!r}: not valid text (a lone surrogate)")
    stripped = text.strip(" ")
    if _withheld(stripped):
        return ANONYMOUS
    user = _user_part(stripped)
    if _withheld(user):
        return ANONYMOUS
    compact = "".join(ch for ch in user if ch not in FORMATTING)
    if not compact:
        return ANONYMOUS  # nothing but formatting characters: nothing is shown, as if withheld
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits or not digits.isascii() or not digits.isdigit():
        raise NotANumber(f"not a number: {text!r}")
    given = "00" + digits if plus else digits
    counted = len(digits) - 2 if not plus and digits.startswith("00") else len(digits)
    if counted > MAX_DIGITS:
        raise _Malformed(f"not a number: {text!r}: more than {MAX_DIGITS} digits", given)
    if plus or digits.startswith("00"):
        number = _after_international_prefix(digits if plus else digits[2:])
    elif digits.startswith("86") and _whole_national(digits[2:]):
        number = _from_china(digits[2:])
    else:
        number = Number(digits, _national_kind(digits))
    if number is None:
        raise _Malformed(f"not a number: {text!r}: nothing after the country code 86", given)
    return number


def normalize(text: str) -> Number:
    """Normalise one number as a switch passes it (the called number's rules).

    Raises:
        NotANumber: letters or other garbage, a second `+`, more than 20 digits (not counting an
            international prefix `00`), a country code alone, more than 256 bytes.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CALLED_BYTES:
        raise NotANumber(f"not a number: more than {MAX_CALLED_BYTES} bytes: {text[:40]!r}…")
    return _parse(text)


def normalize_caller(text: str) -> Number:
    """Like `normalize`, but a caller is refused only for garbage: too many digits or a country
    code alone make it `unknown`, kept as given (a `+` written `00`, at most its first 32 digits),
    whatever the length of the text.

    Raises:
        NotANumber: non-digit garbage.
    """
    try:
        return _parse(text)
    except _Malformed as malformed:
        return Number(malformed.given[:MAX_CALLER_DIGITS], "unknown")
    except _NoUserPart:
        return ANONYMOUS


# ---------------------------------------------------------------------------------------------
# Caller region


@dataclass(frozen=True)
class Region:
    province: str = ""
    city: str = ""
    carrier: str = ""
    virtual_operator: bool = False
    country: str = ""


PHONE_TYPES = {
    1: ("移动", False),
    2: ("联通", False),
    3: ("电信", False),
    4: ("电信", True),
    5: ("联通", True),
    6: ("移动", True),
    7: ("广电", False),
    8: ("广电", True),
}
CARRIERS = ("移动", "联通", "电信", "广电")


@dataclass
class _PhoneTables:
    segments: dict[int, tuple[str, str, int]]  # segment -> (province, city, phone type)
    area_codes: dict[str, list[tuple[str, str]]]  # "0755" -> [(province, city), ...] in table order
    cities: dict[str, set[str]]  # province -> its cities


@cache
def _phone_tables() -> _PhoneTables:
    from phone import Phone  # the `phone` package's segment table

    table = Phone()
    buf = table.buf
    start = table.first_phone_record_offset
    end = start + table.phone_record_count * 9
    records: dict[int, tuple[str, str, str]] = {}
    segments: dict[int, tuple[str, str, int]] = {}
    area_codes: dict[str, list[tuple[str, str]]] = {}
    cities: dict[str, set[str]] = {}
    for segment, offset, phone_type in struct.iter_unpack("<iiB", buf[start:end]):
        if offset not in records:
            text = buf[offset : buf.find(b"\x00", offset)].decode()
            province, city, _zip, area = text.split("|")
            records[offset] = (province, city, area)
        province, city, area = records[offset]
        segments[segment] = (province, city, phone_type)
        if (province, city) not in area_codes.setdefault(area, []):
            area_codes[area].append((province, city))
        cities.setdefault(province, set()).add(city)
    return _PhoneTables(segments, area_codes, cities)


def _pn_number(national_digits: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.PhoneNumber(country_code=86, national_number=int(national_digits))


def _split_description(description: str) -> tuple[str, list[str]]:
    """Map a phonenumbers Chinese description ('四川省成都市、资阳市') to a phone province and city tokens."""
    tables = _phone_tables()
    provinces = [p for p in tables.cities if description.startswith(p)]
    if not provinces:
        return "", []
    province = max(provinces, key=len)
    rest = description[len(province) :]
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"):
        if rest.startswith(suffix):
            rest = rest[len(suffix) :]
            break
    tokens = [t for t in rest.split("、") if t]
    return province, tokens


def _city_for(province: str, tokens: list[str], candidates: set[str]) -> str:
    for token in tokens:
        matches = [c for c in candidates if token.startswith(c)]
        if matches:
            return max(matches, key=len)
    if not tokens and province in candidates:
        return province  # a municipality: 北京市 -> 北京/北京
    return ""


@cache
def area_code_region(area: str) -> tuple[str, str]:
    """Province and city of a landline area code ('0755'), in phone's short names."""
    tables = _phone_tables()
    candidates = tables.area_codes.get(area, [])
    if len(candidates) == 1:
        return candidates[0]
    if area.startswith("01") and area != "010":
        # No area code but 10 starts with 1: phonenumbers would describe a mobile prefix (0138…).
        return "", ""
    description = pn_geocoder.description_for_valid_number(_pn_number(area[1:] + "0000000"), "zh")
    province, tokens = _split_description(description)
    if candidates:
        city = _city_for(province, tokens, {c for p, c in candidates if p == province})
        if city:
            return province, city
        return candidates[0]
    if not province:
        return "", ""
    return province, _city_for(province, tokens, tables.cities[province])


def _mobile_region(national: str) -> Region:
    tables = _phone_tables()
    found = tables.segments.get(int(national[:7]))
    if found is not None:
        province, city, phone_type = found
        carrier, virtual = PHONE_TYPES.get(phone_type, ("", False))
        return Region(province, city, carrier, virtual, "CN")
    number = _pn_number(national)
    province, tokens = _split_description(pn_geocoder.description_for_valid_number(number, "zh"))
    city = _city_for(province, tokens, tables.cities.get(province, set())) if province else ""
    name = pn_carrier.name_for_valid_number(number, "zh").removeprefix("中国")
    return Region(province, city, name if name in CARRIERS else "", False, "CN")


def _country(number: Number) -> str:
    """The ISO 3166 code of an international number's country (decisions.md, "Caller region").

    Where regions share a calling code, a prefix decides: for +1 the NANP area code (the region
    phonenumbers gives a number of that area code), elsewhere the leading digits a region
    declares (+7 7 KZ, +44 7624 IM); a region told apart only by validating the whole number
    (JE, GG, CC, CX, YT) is its code's main region. Non-geographic codes (+800) have none.
    """
    code = int(number.country_code)
    national = number.normalized[2 + len(number.country_code) :]
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    region = regions[0]
    if code == 1:
        if re.match(r"[2-9]\d\d", national):  # a NANP area code never starts with 0 or 1
            of_area = phonenumbers.PhoneNumber(country_code=1, national_number=int(national[:3] + "2345678"))
            region = phonenumbers.region_code_for_number(of_area) or region
    else:
        for candidate in regions:
            leading = getattr(PhoneMetadata.metadata_for_region(candidate), "leading_digits", None)
            if leading and re.match(leading, national):
                region = candidate
                break
    return "" if region in ("001", "ZZ") else region


def landline_area_code(national: str) -> str:
    """'01012345678' -> '010', '02887654321' -> '028', '075586000000' -> '0755'."""
    return national[:3] if national[1:3] == "10" or national[1] == "2" else national[:4]


def region(number: Number) -> Region:
    """The caller's region per numbers.md and semantics.md."""
    if number.kind == "mobile":
        return _mobile_region(number.normalized)
    if number.kind == "landline":
        province, city = area_code_region(landline_area_code(number.normalized))
        return Region(province, city, "", False, "CN")
    if number.kind == "service":
        return Region(country="CN")
    if number.kind == "international":
        return Region(country=_country(number))
    return Region()


# ---------------------------------------------------------------------------------------------
# 400/800 classes


def _run_at_end(s: str, step: int) -> int:
    """Length of the run at the end of `s` where each digit is the one before plus `step`."""
    n = 1
    while n < len(s) and int(s[-n]) - int(s[-n - 1]) == step:
        n += 1
    return n


def classify(national: str) -> tuple[str, list[str]]:
    """Class (top/special/ordinary) and tags of a 400/800 number; ("", []) for any other number."""
    if not SERVICE_400.fullmatch(national):
        return "", []
    s = national[3:]
    tags: list[str] = []
    repeat = _run_at_end(s, 0)
    if repeat >= 3:
        tags.append(f"repeat-{repeat}")
    a, b, c, d, e, f = tuple(s[-6:])
    if a == b and c == d and e == f and a != c and c != e:
        tags.append("AABBCC")
    if a == c == e and b == d == f and a != b:
        tags.append("ABABAB")
    if (a, b, c) == (d, e, f) and not a == b == c:
        tags.append("ABCABC")
    if c == d and e == f and c != e:
        tags.append("AABB")
    if c == e and d == f and c != d:
        tags.append("ABAB")
    ascending = _run_at_end(s, 1)
    if ascending >= 4:
        tags.append(f"ascending-{ascending}")
    descending = _run_at_end(s, -1)
    if descending >= 4:
        tags.append(f"descending-{descending}")
    top = repeat >= 5 or any(t in tags for t in ("AABBCC", "ABABAB", "ABCABC"))
    special = repeat == 4 or any(
        t in ("AABB", "ABAB") or t.startswith(("ascending-", "descending-")) for t in tags
    )
    return ("top" if top else "special" if special else "ordinary"), tags
