"""The printable-text rule (`rust/text.rs`) that call ids, targets and dispositions are held to."""

import re
import sys
import unicodedata

import pytest
from routecore import InvalidArgumentError
from routecore._routecore import first_unprintable
from routecore.records import check_call_id, check_event_text


def test_the_rule_is_str_isprintable_wherever_python_knows_the_character() -> None:
    """Every code point Python's Unicode data assigns: the Rust rule and `str.isprintable()`
    agree. Characters assigned after Python's Unicode version (its `Cn`) may differ, and only those."""
    differ = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        c = chr(code)
        if (first_unprintable(c) is None) != c.isprintable():
            differ.append(c)
    # Newly assigned characters: printable to Rust, unassigned to this Python.
    assert all(unicodedata.category(c) == "Cn" and first_unprintable(c) is None for c in differ), [
        hex(ord(c)) for c in differ if unicodedata.category(c) != "Cn"
    ][:20]


def test_the_first_unprintable_is_named_by_character_position() -> None:
    assert first_unprintable("呼叫-1") is None
    assert first_unprintable("呼叫\u202e1\n") == (2, "\u202e")
    assert first_unprintable("a\tb") == (1, "\t")


@pytest.mark.parametrize(
    ("value", "at"),
    [
        ("c\ud800x", "U+D800 at position 1"),
        ("\n\ud800", "U+000A at position 0"),
        ("ok\udfff", "U+DFFF at position 2"),
    ],
)
def test_a_lone_surrogate_is_unprintable_and_found_in_order(value: str, at: str) -> None:
    """Only a Python str holds one (a JSON `"\\ud800"`); the first unprintable character is named."""
    with pytest.raises(InvalidArgumentError, match=re.escape(f"call_id: {at} is a control or invisible")):
        check_call_id(value)
    with pytest.raises(InvalidArgumentError, match=re.escape(f"target: {at} is a control or invisible")):
        check_event_text("c1", value, "")
