"""Number normalisation and kinds (rust/number.rs) from Python, with the real calling-code table."""

import re
import time

import pytest
import routecore
from hypothesis import given
from hypothesis import strategies as st
from routecore import InvalidNumberError

KINDS = {"mobile", "landline", "service", "international", "anonymous", "unknown"}
SEPARATORS = ["", " ", "-", ".", "(", ")"]


def outcome(text: str) -> tuple[str, str] | str:
    """(national form, kind), or the error message without the input it quotes (formatting
    changes the quote, not the reason): two inputs agree iff their outcomes are equal."""
    try:
        return routecore.normalize(text), routecore.kind(text)
    except InvalidNumberError as e:
        return "error: " + re.sub(r'not a number: ".*?": ', "not a number: ", str(e), count=1)


@st.composite
def formatted(draw, digits: str) -> str:
    out = []
    for d in digits:
        out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(d)
    return "".join(out)


numbers = st.one_of(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"0[1-9][0-9]{9,10}", fullmatch=True),
    st.from_regex(r"(400|800)[0-9]{7}|95[0-9]{3,4}|1[02][0-9]{3}|11[0-9]", fullmatch=True),
    st.from_regex(r"(\+|00|86|0086)[0-9]{1,16}", fullmatch=True),
    st.text("0123456789", min_size=1, max_size=20),
)


@pytest.mark.parametrize(
    "form",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "+86 138 0013 8000",
        "tel:+86-138-0013-8000",
        "sip:13800138000@10.0.0.1;user=phone",
    ],
)
def test_every_accepted_form_of_one_mobile(form):
    assert outcome(form) == ("13800138000", "mobile")


@pytest.mark.parametrize(
    ("text", "national", "kind"),
    [
        ("+86 10 1234 5678", "01012345678", "landline"),
        ("+86 400 123 4567", "4001234567", "service"),
        ("+8612", "012", "unknown"),
        ("075586000000", "075586000000", "landline"),
        ("08981234567", "08981234567", "landline"),
        ("0014155550100", "0014155550100", "international"),
        ("+1 415 555 0100", "0014155550100", "international"),
        ("95588", "95588", "service"),
        ("110", "110", "service"),
        ("12", "12", "unknown"),
        ("", "", "anonymous"),
        ("Restricted", "", "anonymous"),
        ("sip:anonymous@anonymous.invalid", "", "anonymous"),
        ("--", "", "anonymous"),  # separators only: nothing shown, as if withheld
    ],
)
def test_spec_examples(text, national, kind):
    assert outcome(text) == (national, kind)


def test_an_unknown_calling_code_makes_the_caller_unknown():
    # 999 and 99 are not assigned; phonenumbers knows neither.
    assert routecore.kind("+999 1234 5678") == "unknown"
    # 1 is: the real table (from phonenumbers) is installed, not a stand-in.
    assert routecore.kind("+1 212 555 0100") == "international"
    assert routecore.kind("+297 521 2345") == "international"


@given(st.data(), numbers)
def test_formatting_never_changes_the_result(data, digits):
    plain = outcome(digits)
    assert outcome(data.draw(formatted(digits))) == plain
    assert outcome(f"  {digits}\t") == plain
    # numbers.md: the formatting characters are space, `-`, `.`, `(`, `)`; a tab inside is not
    # one (whitespace around a number, as a file's line has it, is dropped).
    if len(digits) > 3:
        assert outcome(f"{digits[:3]}\t{digits[3:]}").startswith("error: number: not a number")
    if not digits.startswith("+"):
        assert outcome(f"tel:{digits}") == plain
        assert outcome(f"sip:{digits}@10.0.0.1;user=phone") == plain


@given(numbers)
def test_normalising_twice_changes_nothing(text):
    first = outcome(text)
    # An empty national form is the one known exception, see the next test.
    if isinstance(first, tuple) and first[0]:
        assert outcome(first[0]) == first


@pytest.mark.parametrize("text", ["+86", "0086", "+86 0086", "tel:+86"])
def test_a_country_code_with_nothing_after_it_is_not_a_number(text):
    with pytest.raises(InvalidNumberError) as info:
        routecore.normalize(text)
    assert str(info.value) == f'number: not a number: "{text}": nothing after the country code 86'


@pytest.mark.parametrize(
    ("text", "national", "kind"),
    [
        ("008612", "012", "unknown"),  # numbers.md: `+8612` -> unknown, trunk `0` gained
        ("(010)", "010", "unknown"),  # digits only, none of the kinds
        ("00", "00", "unknown"),
        ("86", "86", "unknown"),
    ],
)
def test_short_numbers_after_a_country_code_are_unknown(text, national, kind):
    assert outcome(text) == (national, kind)


@pytest.mark.parametrize(
    ("text", "national"),
    [
        ("00012345678", "00012345678"),
        ("+014155550100", "00014155550100"),
        ("000861380013800", "000861380013800"),
        ("+0086 138 0013 8000", "000086" + "13800138000"),
    ],
)
def test_no_calling_code_starts_with_zero(text, national):
    assert outcome(text) == (national, "unknown")
    assert outcome(national) == (national, "unknown")
    assert routecore.region(text).country == ""


@pytest.mark.parametrize(
    ("text", "national"),
    [
        ("8601012345678", "01012345678"),
        ("86075586000000", "075586000000"),
        ("86 0898 1234567", "08981234567"),
    ],
)
def test_a_bare_86_before_a_landline_keeping_its_trunk(text, national):
    assert outcome(text) == (national, "landline")


@given(st.from_regex(r"0[1-9][0-9]{9,10}|1[3-9][0-9]{9}|(400|800)[0-9]{7}|[0-9]{0,14}", fullmatch=True))
def test_a_bare_86_is_stripped_only_from_what_is_no_national_number(rest):
    got = outcome("86" + rest)
    if isinstance(got, tuple) and got[0] != "86" + rest:
        assert routecore.kind("86" + rest) != "unknown"
        # no number of any kind starts with 86 and then a whole national number
        assert got[0] in (rest, "0" + rest)


@pytest.mark.parametrize("n", [19, 20])
def test_plus_and_19_or_20_digits_is_a_number(n):
    text = "+1" + "2" * (n - 1)
    national = "00" + text[1:]
    assert outcome(text) == (national, "international")
    assert len(national) == n + 2
    assert outcome(national) == (national, "international"), "the national form is itself a number"
    assert routecore.region(text).country == "US"
    listed = routecore.NumberList([text])
    assert national in listed
    assert routecore.NumberList.from_bytes(listed.to_bytes()).numbers() == [national]


def test_more_than_20_digits_after_a_prefix_is_not_a_number():
    assert outcome("+1" + "2" * 20).endswith("21 digits: a number has at most 20")
    too_long = outcome("001" + "2" * 20)
    assert too_long.endswith("23 digits: a number has at most 20 after the international prefix 00")


@given(numbers)
def test_kind_and_shape_agree(text):
    first = outcome(text)
    if isinstance(first, str):
        return
    national, kind = first
    assert kind in KINDS
    assert national.isascii() and (national.isdigit() or national == "")
    if kind == "mobile":
        assert len(national) == 11 and national[0] == "1" and national[1] in "3456789"
    if kind == "landline":
        assert national[0] == "0" and len(national) in (11, 12)
    if kind == "international":
        assert national.startswith("00") and not national.startswith("0086")


@given(st.text(max_size=300))
def test_any_text_is_a_number_or_a_precise_error(text):
    try:
        national = routecore.normalize(text)
    except InvalidNumberError as e:
        assert str(e).startswith("number: not a number: ")
    else:
        assert national == "" or national.isdigit()


@given(st.binary(max_size=64))
def test_any_bytes_decoded_never_crash(raw):
    outcome(raw.decode("utf-8", errors="replace"))
    outcome(raw.decode("latin-1"))


@given(st.text(st.characters(categories=["Nd"]), min_size=1, max_size=15))
def test_non_ascii_digits_are_refused_by_name(digits):
    if digits.isascii():
        return
    with pytest.raises(InvalidNumberError, match="not an ASCII digit"):
        routecore.normalize(digits)


@pytest.mark.parametrize("size", [257, 10_000, 10_000_000])
def test_huge_inputs_are_refused_at_once(size):
    text = "1" * size
    start = time.perf_counter()
    with pytest.raises(InvalidNumberError, match=f"{size} bytes long"):
        routecore.normalize(text)
    assert time.perf_counter() - start < 0.5
    # The message shows the input cut short, never all of it.
    with pytest.raises(InvalidNumberError) as info:
        routecore.kind(text)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("138abc", "character 'a' at position 3 is not a digit or a separator"),
        ("+86+138", "'+' at position 3: only one leading '+' is allowed"),
        ("123456789012345678901", "21 digits: a number has at most 20"),
        (
            "１３８",
            "character '１' at position 0 is not an ASCII digit"
            " (full-width or other script digits are not accepted)",
        ),
        ("sip:example.com", "sip URI has no user part"),
        ("+", "'+' with no digits after it"),
    ],
)
def test_precise_error_messages(text, message):
    with pytest.raises(InvalidNumberError) as info:
        routecore.normalize(text)
    assert str(info.value) == f'number: not a number: "{text}": {message}'


def test_errors_are_routecore_errors():
    with pytest.raises(routecore.RoutecoreError):
        routecore.normalize("not a number")


@given(st.lists(st.one_of(numbers, st.text(max_size=30)), max_size=50))
def test_normalize_many_is_normalize_one_by_one(texts):
    expected = []
    for text in texts:
        got = outcome(text)
        expected.append(got[0] if isinstance(got, tuple) else None)
    assert routecore.normalize_many(texts) == expected


LONE_SURROGATE = "\udcff1"


@pytest.mark.parametrize("call", [routecore.normalize, routecore.kind, routecore.region])
def test_lone_surrogates_are_not_a_number(call):
    why = r'^number: not a number: "\ufffd1": not valid text: a lone surrogate at position 0'
    with pytest.raises(InvalidNumberError, match=why):
        call(LONE_SURROGATE)
    with pytest.raises(TypeError, match="number: expected a str, got bytes"):
        call(b"13800138000")


@pytest.mark.parametrize("call", [routecore.normalize_many, routecore.region_many])
def test_lone_surrogates_in_a_batch_are_none(call):
    got = call(["13800138000", LONE_SURROGATE, "x", "+86 10 1234 5678"])
    assert [g if g is None or isinstance(g, str) else g.normalized for g in got] == [
        "13800138000",
        None,
        None,
        "01012345678",
    ]
    with pytest.raises(TypeError, match=r"numbers\[1\]: expected a str, got int"):
        call(["1", 2])
    with pytest.raises(TypeError, match="got one str"):
        call("13800138000")


# --- the caller (Engine.route): only garbage is refused ----------------------------------------


@pytest.fixture(scope="module")
def demo():
    return routecore.Engine.demo()


@pytest.mark.parametrize(
    ("caller", "national", "kind"),
    [
        ("1" * 21, "1" * 21, "unknown"),
        ("1" * 33, "1" * 32, "unknown"),  # kept as given, its first 32 digits
        ("9" * 100_000, "9" * 32, "unknown"),
        (" " * 300 + "13800138000", "13800138000", "mobile"),
        ("sip:" + "2" * 40 + "@10.0.0.1", "2" * 32, "unknown"),
        ("+86", "0086", "unknown"),
        ("00012345678", "00012345678", "unknown"),
        # A SIP URI with no user part shows no number, as `sip:@host` does: the call goes on.
        ("sip:example.com", "", "anonymous"),
        ("sip:anonymous", "", "anonymous"),
        ("sips:10.0.0.1;transport=tls", "", "anonymous"),
    ],
)
def test_a_malformed_caller_is_unknown_not_an_error(demo, caller, national, kind):
    d = demo.route("4001234567", caller)
    assert (d.caller.normalized, d.caller.kind) == (national, kind)


def test_a_huge_caller_costs_linear_time(demo):
    start = time.perf_counter()
    assert demo.route("4001234567", "1" * 10_000_000).caller.kind == "unknown"
    assert time.perf_counter() - start < 0.5


def test_garbage_callers_and_long_called_numbers_are_still_refused(demo):
    with pytest.raises(InvalidNumberError, match=r"caller: .*character 'x' at position 33"):
        demo.route("4001234567", "1" * 33 + "x")
    with pytest.raises(InvalidNumberError, match=r"called: .*33 digits: a number has at most 20"):
        demo.route("1" * 33, "13800138000")
    with pytest.raises(InvalidNumberError, match=r"called: .*nothing after the country code"):
        demo.route("+86", "13800138000")
