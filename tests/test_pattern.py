"""PatternSet (rust/pattern.rs): the dial-pattern language, errors, order of matches, batches."""

import re
import threading

import pytest
import routecore
from hypothesis import given
from hypothesis import strategies as st
from routecore import InvalidArgumentError, PatternError, PatternSet

CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


def reference(pattern: str, number: str) -> bool:
    """The spec read literally, via Python `re` (sets copied into a character class)."""
    if not pattern.startswith("_"):
        return number.startswith(pattern.replace("-", ""))
    out = []
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch.upper() in CLASSES:
            out.append(CLASSES[ch.upper()])
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "-":
            pass
        elif ch == "[":
            end = pattern.index("]", i)
            out.append("[" + pattern[i + 1 : end].replace("*", r"\*").replace("#", r"\#") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), number, re.DOTALL) is not None


def test_spec_patterns():
    virtual = PatternSet(["_170XXXXXXXX", "_171XXXXXXXX"])
    assert virtual.matches("17012345678")
    assert virtual.first_match("17112345678") == 1
    assert not virtual.matches("1701234567")
    assert not virtual.matches("17212345678")
    vip = PatternSet(["_1380013XXXX", "0755"])
    assert vip.first_match("13800131234") == 0
    assert vip.first_match("075586000000") == 1
    assert vip.first_match("0755") == 1
    assert vip.first_match("10755") is None


@pytest.mark.parametrize(
    ("pattern", "number", "expected"),
    [
        ("_NXX", "200", True),
        ("_NXX", "100", False),
        ("_ZX", "10", True),
        ("_ZX", "01", False),
        ("_[1-5]X", "59", True),
        ("_[1-5]X", "69", False),
        ("_[137]", "7", True),
        ("_[137]", "2", False),
        ("_1.", "1", False),
        ("_1.", "12", True),
        ("_1!", "1", True),
        ("_1!", "1234", True),
        ("_*9X#", "*95#", True),
        ("_X", "*", False),
        ("_138-0013-XXXX", "13800131234", True),
    ],
)
def test_language(pattern, number, expected):
    assert PatternSet([pattern]).matches(number) is expected
    assert reference(pattern, number) is expected


@pytest.mark.parametrize(
    ("pattern", "position", "words"),
    [
        ("_", 0, "needs a pattern"),
        ("", 0, "empty"),
        ("_12[34", 3, "unclosed"),
        ("_12[]", 3, "empty set"),
        ("_1[5-1]", 3, "5-1"),
        ("_1[5-]", 4, "without an end"),
        ("_12A", 3, "unexpected character"),
        ("_12]", 3, "`]`"),
        ("138XXXX", 3, "starts with `_`"),
    ],
)
def test_errors_name_position_and_reason(pattern, position, words):
    with pytest.raises(PatternError) as err:
        PatternSet(["_1X", pattern])
    text = str(err.value)
    assert f"position {position}" in text
    assert words in text
    assert repr(pattern) in text or f'"{pattern}"' in text
    assert isinstance(err.value, routecore.RoutecoreError)


def test_order_and_all_matches():
    s = PatternSet(["_400XXX8888", "_4001238888", "400", "_170XXXXXXXX"])
    assert len(s) == 4
    assert s.patterns == ["_400XXX8888", "_4001238888", "400", "_170XXXXXXXX"]
    assert s.matching("4001238888") == [0, 1, 2]
    assert s.first_match("4001238888") == 0
    assert s.matching("4009998888") == [0, 2]
    assert s.matching("13800138000") == []
    assert repr(s) == "PatternSet(['_400XXX8888', '_4001238888', '400', '_170XXXXXXXX'])"
    assert not PatternSet([]).matches("1")


def test_match_many_lists_and_bytes():
    s = PatternSet(["_1X", "2"])
    assert s.match_many(["10", "20", "3", "1"]) == [0, 1, None, None]
    assert s.match_many(b"10\r\n\n 20 \n3") == [0, 1, None]
    assert s.match_many(("10",)) == [0]
    with pytest.raises(TypeError, match="not one str"):
        s.match_many("10")
    with pytest.raises(TypeError, match=r"numbers\[1\]"):
        s.match_many(["10", 20])
    with pytest.raises(TypeError, match="got one str"):
        PatternSet("_1X")
    with pytest.raises(TypeError, match=r"^patterns\[1\]: expected a str, got int"):
        PatternSet(["_1X", 1])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match=r"^patterns\[0\]: not valid text"):
        PatternSet(["\udcff"])


def test_shared_between_threads():
    s = PatternSet([f"_1{i:03}XXXXXXX" for i in range(300)])
    numbers = [f"1{i:03}1234567" for i in range(300)]
    results = []

    def work():
        results.append(s.match_many(numbers))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [list(range(300))] * 4


element = st.one_of(
    st.sampled_from(list("0123456789*#XZNxzn.!-")),
    st.tuples(st.integers(0, 9), st.integers(0, 9)).map(lambda p: f"[{min(p)}-{max(p)}]"),
    st.text("0123456789", min_size=1, max_size=3).map(lambda s: f"[{s}]"),
)
patterns = st.one_of(
    st.lists(element, min_size=1, max_size=8).map(lambda e: "_" + "".join(e)),
    st.text("0123456789", min_size=1, max_size=5),
).filter(lambda p: p.lstrip("_").replace("-", ""))
numbers = st.text("0123456789", max_size=12) | st.text("0123456789*#a", max_size=6)


@given(st.lists(patterns, max_size=30), st.lists(numbers, min_size=1, max_size=10))
def test_set_agrees_with_reference(pats, nums):
    s = PatternSet(pats)
    for n in nums:
        want = [i for i, p in enumerate(pats) if reference(p, n)]
        assert s.matching(n) == want, (pats, n)
        assert s.first_match(n) == (want[0] if want else None)
        assert s.matches(n) is bool(want)
    assert s.match_many(nums) == [s.first_match(n) for n in nums]


@given(st.text(max_size=16), st.text(max_size=16))
def test_arbitrary_text_compiles_or_raises_pattern_error(pattern, number):
    try:
        s = PatternSet([pattern])
    except PatternError:
        return
    s.matching(number)
