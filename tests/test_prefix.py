"""PrefixTable (rust/prefix.rs): longest-prefix match to Python values."""

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from routecore import InvalidArgumentError, PrefixTable


def test_area_codes():
    t = PrefixTable({"010": "北京", "020": "广州", "0755": "深圳", "075": "广东"})
    assert len(t) == 4
    assert t.longest_match("075586000000") == ("0755", "深圳")
    assert t.longest_match("07571234567") == ("075", "广东")
    assert t.longest_match("01012345678") == ("010", "北京")
    assert t.longest_match("13800138000") is None
    assert t.longest_match("") is None
    assert "075" in t and "07" not in t
    assert t.get("0755") == "深圳"
    assert t.get("07") is None
    assert t.get("07", "none") == "none"


def test_values_are_any_python_object_and_replace():
    rate = {"mobile": 0.2}
    t = PrefixTable([("1", rate), ("", "default")])
    assert t.longest_match("13800138000")[1] is rate
    assert t.longest_match("95588") == ("", "default")
    t.insert("1", None)
    assert len(t) == 2
    assert t.longest_match("13800138000") == ("1", None)


def test_refuses_non_digit_prefixes():
    t = PrefixTable()
    with pytest.raises(InvalidArgumentError, match="position 2"):
        t.insert("07a5", 1)
    with pytest.raises(InvalidArgumentError):
        PrefixTable({"+86": 1})
    with pytest.raises(TypeError):
        PrefixTable([(86, 1)])
    # Text that is not text (lone surrogates) is named, not Python's UnicodeEncodeError.
    for call, field in (
        (lambda: t.insert("\udcff", 1), "prefix"),
        (lambda: t.get("\udcff"), "prefix"),
        (lambda: "\udcff" in t, "prefix"),
        (lambda: t.longest_match("\udcff"), "number"),
        (lambda: PrefixTable({"\udcff": 1}), "items"),
    ):
        with pytest.raises(InvalidArgumentError, match=f"^{field}: not valid text"):
            call()
    assert len(t) == 0


def test_batch_lists_and_bytes():
    t = PrefixTable({"010": 1, "0755": 2})
    assert t.longest_match_many(["01012345678", "075586000000", "4001234567"]) == [
        ("010", 1),
        ("0755", 2),
        None,
    ]
    assert t.longest_match_many(b"01012345678\n\n075586000000\r\n") == [("010", 1), ("0755", 2)]
    with pytest.raises(TypeError, match="not one str"):
        t.longest_match_many("010")


def test_concurrent_insert_and_lookup():
    t = PrefixTable({"1": 0})
    numbers = [f"1{i:06}" for i in range(2000)]
    errors = []

    def reader():
        for _ in range(20):
            for hit in t.longest_match_many(numbers):
                if hit is None or not numbers[0].startswith(hit[0][:1]):
                    errors.append(hit)

    def writer():
        for i in range(2000):
            t.insert(f"1{i:06}", i)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(t) == 2001
    assert t.longest_match_many(numbers) == [(n, i) for i, n in enumerate(numbers)]


@given(
    st.dictionaries(st.text("0123456789", max_size=5), st.integers(), max_size=40),
    st.lists(st.text("0123456789", max_size=8), min_size=1, max_size=20),
)
def test_agrees_with_naive_scan(entries, numbers):
    t = PrefixTable(entries)
    assert len(t) == len(entries)
    for n in numbers:
        hits = [p for p in entries if n.startswith(p)]
        want = (max(hits, key=len), entries[max(hits, key=len)]) if hits else None
        assert t.longest_match(n) == want
    assert t.longest_match_many(numbers) == [t.longest_match(n) for n in numbers]
