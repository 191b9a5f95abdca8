"""Asterisk-style dial patterns (`_1380013XXXX`) and plain prefixes, via Python `re`."""

from __future__ import annotations

import re
from functools import cache

CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Translate a dial pattern (with its leading `_`) to a regular expression matched in full.

    Raises:
        ValueError: an unclosed or empty `[...]` set.
    """
    if not pattern.startswith("_"):
        raise ValueError(f"not a dial pattern (no leading '_'): {pattern!r}")
    out: list[str] = []
    i = 1
    body = pattern
    while i < len(body):
        ch = body[i]
        if ch.upper() in CLASSES:
            out.append(CLASSES[ch.upper()])
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.find("]", i + 1)
            if end <= i + 1:
                raise ValueError(f"bad set in dial pattern {pattern!r}")
            members = body[i + 1 : end]
            parts: list[str] = []
            j = 0
            while j < len(members):
                if j + 2 < len(members) and members[j + 1] == "-":
                    lo, hi = members[j], members[j + 2]
                    if lo > hi:
                        raise ValueError(f"bad range {lo}-{hi} in dial pattern {pattern!r}")
                    parts.append(re.escape(lo) + "-" + re.escape(hi))
                    j += 3
                else:
                    parts.append(re.escape(members[j]))
                    j += 1
            out.append("[" + "".join(parts) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def matches(pattern: str, number: str) -> bool:
    """Dial pattern (leading `_`, whole number) or plain prefix; an empty number matches nothing."""
    if not number:
        return False
    if pattern.startswith("_"):
        return compile_pattern(pattern).fullmatch(number) is not None
    return number.startswith(pattern)
