"""400/800 classes (rust/classify.rs): tags, class, bulk classification and pool filtering."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference.numbers import classify as reference
from routecore import (
    Classification,
    InvalidArgumentError,
    InvalidNumberError,
    PatternError,
    PatternSet,
    classify,
    classify_many,
    pool,
)
from routecore._routecore import pool_lines


@pytest.mark.parametrize(
    ("number", "klass", "tag"),
    [
        ("4008888888", "top", "repeat-7"),
        ("4001234567", "special", "ascending-7"),
        ("4001238888", "special", "repeat-4"),
        ("4001112233", "top", "AABBCC"),
        ("4001121212", "top", "ABABAB"),
        ("4001123123", "top", "ABCABC"),
        ("4001235566", "special", "AABB"),
        ("4001231212", "special", "ABAB"),
        ("8007654321", "special", "descending-7"),
        ("4001266666", "top", "repeat-5"),
    ],
)
def test_spec_examples(number, klass, tag):
    c = classify(number)
    assert c.class_ == klass
    assert tag in c.tags
    assert (c.class_, c.tags) == reference(number)


def test_ordinary_and_unclassified():
    assert classify("4001689527").class_ == "ordinary"
    assert classify("4001689527").tags == []
    repeat3 = classify("4001234555")
    assert (repeat3.class_, repeat3.tags) == ("ordinary", ["repeat-3"])
    for other in ["13800138000", "95588", "", "anonymous", "40012345678", "+1 400 123 4567"]:
        c = classify(other)
        assert (c.class_, c.tags) == ("", []), other


@pytest.mark.parametrize(
    "form",
    [
        "400-888-8888",
        "400 888 8888",
        "+86 400 888 8888",
        "+864008888888",
        "0086 400 888 8888",
        "864008888888",
        "tel:+86-400-888-8888",
        "sip:4008888888@10.0.0.1;user=phone",
    ],
)
def test_numbers_are_normalised_first(form):
    assert classify(form) == classify("4008888888")
    assert classify_many([form, "4001689527"]) == [classify("4008888888"), classify("4001689527")]
    assert classify_many(f"{form}\n4001689527\n".encode()) == classify_many(["4008888888", "4001689527"])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("400-888-888x", "character 'x' at position 11"),
        ("+86", "nothing after the country code"),
        ("1" * 21, "21 digits"),
        ("\udcff1", "lone surrogate at position 0"),
    ],
)
def test_what_is_not_a_number_is_refused(text, why):
    with pytest.raises(InvalidNumberError, match=f"^number: not a number: .*{re.escape(why)}"):
        classify(text)
    with pytest.raises(InvalidNumberError, match=f"^numbers\\[1\\]: not a number: .*{re.escape(why)}"):
        classify_many(["4008888888", text, "4001234567"])


def test_a_line_that_is_not_a_number_is_named():
    with pytest.raises(InvalidNumberError, match=r"^numbers\[2\]: .*byte 4 is not valid UTF-8"):
        classify_many(b"4008888888\n\n4001234567\n400\xff8888888\n")
    with pytest.raises(InvalidNumberError, match=r"^numbers\[0\]: .*character 'a'"):
        classify_many(b"  abc  \n")


@pytest.mark.parametrize("call", [classify_many, pool, PatternSet(["_400!"]).match_many])
def test_lone_surrogates_in_a_batch_are_named(call):
    with pytest.raises(InvalidNumberError, match=r"^numbers\[1\]: not a number: .*lone surrogate"):
        call(["4008888888", "\udcff1"])


def test_no_wrap():
    assert classify("4005678901").tags == []
    assert classify("4005890123").tags == ["ascending-4"]


def test_acceptance_vectors_agree(spec_dir):
    seen = 0
    for line in (spec_dir / "acceptance" / "vectors.jsonl").read_text().splitlines():
        case = json.loads(line)
        for step in case.get("steps", [case]):
            want = step.get("expect", {}).get("called_class")
            if want is None:
                continue
            got = classify(step["request"]["called"])
            assert got.class_ == want["class"], case["name"]
            assert set(want.get("tags_include", [])) <= set(got.tags), case["name"]
            seen += 1
    assert seen >= 3


def test_classification_value_semantics():
    a, b = classify("4008888888"), classify("8001111111")
    assert a == b and hash(a) == hash(b)
    assert a != classify("4001234567")
    assert repr(a) == "Classification(class_='top', tags=['repeat-7'])"
    assert isinstance(a, Classification)
    with pytest.raises(AttributeError):
        a.class_ = "ordinary"  # type: ignore[misc]


def test_classify_many_lists_and_bytes():
    numbers = ["4008888888", "4001234567", "4001689527", "13800138000", "4008888888"]
    got = classify_many(numbers)
    assert [c.class_ for c in got] == ["top", "special", "ordinary", "", "top"]
    assert got[0] is got[4], "equal results are one shared object"
    from_bytes = classify_many(("\r\n".join(numbers) + "\n\n").encode())
    assert from_bytes == got
    assert classify_many([]) == []
    assert classify_many(b"") == []
    with pytest.raises(TypeError, match="not one str"):
        classify_many("4008888888")


def test_pool_filters():
    numbers = ["4008888888", "4001234567", "4001689527", "4001238888", "4005558888", "13800138000"]
    buf = "\n".join(numbers).encode()
    for src in (numbers, buf):
        assert pool(src, class_="top") == ["4008888888"]
        assert pool(src, class_="特号号码") == ["4001234567", "4001238888", "4005558888"]
        assert pool(src, tag="repeat-4") == ["4001238888", "4005558888"]
        assert pool(src, tag="repeat") == ["4008888888", "4001238888", "4005558888"]
        assert pool(src, tag="ascending") == ["4001234567"]
        assert pool(src, pattern="_400XXX8888") == ["4008888888", "4001238888", "4005558888"]
        assert pool(src, pattern=["_4001X!", "138"]) == [
            "4001234567",
            "4001689527",
            "4001238888",
            "13800138000",
        ]
        assert pool(src, pattern=PatternSet(["_400[5-9]!"])) == ["4008888888", "4005558888"]
        assert pool(src, class_="special", pattern="_4001!") == ["4001234567", "4001238888"]
        assert pool(src) == numbers


def test_pool_refuses_unknown_names():
    with pytest.raises(InvalidArgumentError, match="class_"):
        pool([], class_="gold")
    with pytest.raises(InvalidArgumentError, match="tag"):
        pool([], tag="repeat-9")
    with pytest.raises(PatternError):
        pool([], pattern="_[")


subscriber = st.one_of(st.text("0123456789", min_size=7, max_size=7), st.text("012", min_size=7, max_size=7))


@given(st.sampled_from(["400", "800"]), subscriber)
def test_agrees_with_reference(prefix, s):
    c = classify(prefix + s)
    assert (c.class_, c.tags) == reference(prefix + s)


@given(
    st.lists(
        st.sampled_from(["400", "800", "138"]).flatmap(lambda p: subscriber.map(lambda s: p + s)), max_size=40
    )
)
def test_bulk_agrees_with_single(numbers):
    assert classify_many(numbers) == [classify(n) for n in numbers]
    for klass in ("top", "special", "ordinary"):
        want = [n for n in numbers if reference(n)[0] == klass]
        assert pool(numbers, class_=klass) == want
        assert pool("\n".join(numbers).encode(), class_=klass) == want


def test_pool_judges_class_and_tags_as_classify_does() -> None:
    """`pool`'s numbers are "as for `classify_many`": normalised before their class and tags are
    judged (what is not a number has neither); they come back as given."""
    given = ["400-888-8888", "4008888888", "+86 400 888 8888", "4001234567"]
    assert [c.class_ for c in classify_many(given)][:3] == ["top"] * 3
    assert pool(given, class_="top") == given[:3]
    # Patterns too are matched on the national form; what is no number never matches.
    assert pool([*given, "abc"], pattern="_400XXX8888") == given[:3]
    assert pool("\n".join(given).encode(), pattern="_400XXX8888") == given[:3]


def test_pool_lines_reads_a_file_as_list_files_are_read() -> None:
    # `routecore pool FILE`: comments, blank lines and a BOM skipped; every number judged and
    # returned in national form; each line that is no number named with its line number.
    data = "\ufeff# candidates\n400-888-8888  # top\n\n+86 400 123 4567\nabc\nanonymous\n4001230000\n"
    data_bytes = data.encode() + b"\xd6\xd0\n800 888 8888\n"
    found, problems = pool_lines(data_bytes, pattern="_400!")
    assert found == ["4008888888", "4001234567", "4001230000"]
    assert [line for line, _ in problems] == [5, 6, 8]
    assert "'a' at position 0" in problems[0][1]
    assert "anonymous or withheld" in problems[1][1]
    assert problems[2][1].startswith("not UTF-8 text (GBK perhaps?): byte 1 of the line is not UTF-8")
    assert pool_lines(data_bytes, class_="top")[0] == ["4008888888", "8008888888"]
    assert pool_lines(data_bytes, pattern="_400XXX4567", tag="ascending")[0] == ["4001234567"]
    assert pool_lines(b"", class_="top") == ([], [])
