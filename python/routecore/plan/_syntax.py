"""Syntax checks of the plan's small languages: numbers, dial patterns, hour ranges, menu keys,
the gateway.

Each check returns `None` when the text is fine, else the reason (a short English phrase) so that
the pydantic validators and the semantic checks share one wording.
"""

from __future__ import annotations

import ipaddress
import re

# Formatting characters a switch or an operator may leave in a number (numbers.md).
_SEPARATORS = " -.()"
_NUMBER = re.compile(r"\+?[0-9 \-.()]+")
_MAX_DIGITS = 20
_MIN_DIGITS = 3
# Up to 20 digits, after an optional `+` or international prefix `00` (`+` spelled in digits:
# `+` and 20 digits has the national form `00` and 20, which must read back as itself).
_PLAIN = re.compile(r"(?:\+|00)?[0-9]{3,20}")


def number_problem(text: str) -> str | None:
    """Why `text` is not a phone number in one of the accepted forms, or None.

    Accepted: digits with separators (space - . ( )), one leading `+`, a `tel:` URI, or a
    `sip:`/`sips:` URI whose user part is such a number. Only the format is checked here; the
    engine normalises (and classifies) the number.
    """
    if _PLAIN.fullmatch(text):
        return None
    body = text.strip()
    lower = body.lower()
    if lower.startswith("tel:"):
        body = body[4:].split(";", 1)[0]
    elif lower.startswith(("sip:", "sips:")):
        rest = body.split(":", 1)[1]
        if "@" not in rest:
            return "a sip: URI needs user@host"
        body = rest.split("@", 1)[0].split(";", 1)[0]
        if not body or not _NUMBER.fullmatch(body):
            return f"the SIP user part {body!r} is not a number (a SIP address target is written as `uri:`)"
    if not body:
        return "empty number"
    if not _NUMBER.fullmatch(body):
        for i, ch in enumerate(body):
            if not (ch.isdigit() and ch.isascii()) and ch not in _SEPARATORS and not (ch == "+" and i == 0):
                what = "a second '+'" if ch == "+" else repr(ch)
                allowed = f"a number has digits, an optional leading +, and {_SEPARATORS!r}"
                return f"{what} at character {i + 1} ({allowed})"
        return "not a number"
    digits = len(body) - sum(body.count(c) for c in _SEPARATORS + "+")
    if not body.startswith("+") and "".join(ch for ch in body if ch.isdigit()).startswith("00"):
        digits -= 2  # the international prefix, as the engine counts (rust/number.rs)
    if digits < _MIN_DIGITS:
        return f"only {digits} digit(s)"
    if digits > _MAX_DIGITS:
        return f"{digits} digits (at most {_MAX_DIGITS})"
    return None


def rough_national(text: str) -> str | None:
    """A national form good enough to spot the same number written twice, or None.

    Used only when the engine's normaliser is not available (its tables not loaded): drops
    separators and URI parts, strips +86 / 0086, and restores the trunk 0 of a landline.
    """
    if number_problem(text) is not None:
        return None
    body = text.strip()
    if body.lower().startswith("tel:"):
        body = body[4:].split(";", 1)[0]
    elif body.lower().startswith(("sip:", "sips:")):
        body = body.split(":", 1)[1].split("@", 1)[0]
    plus = body.startswith("+")
    digits = "".join(ch for ch in body if ch.isdigit())
    if plus and not digits.startswith("86"):
        return "00" + digits
    if plus:
        rest = digits[2:]
    elif digits.startswith("0086"):
        rest = digits[4:]
    else:
        return digits
    mobile = rest.startswith("1") and len(rest) == 11
    service = rest.startswith(("400", "800")) or (
        rest.startswith(("95", "10", "12", "11")) and len(rest) <= 6
    )
    if mobile or service:
        return rest
    return "0" + rest


def uri_problem(text: str) -> str | None:
    """Why `text` is not a SIP URI (`sip:user@host[:port]`, `sips:` too), or None."""
    lower = text.strip().lower()
    if not lower.startswith(("sip:", "sips:")):
        return "a target uri starts with sip: or sips: (a number target is written as `number:`)"
    rest = text.split(":", 1)[1]
    if not rest or any(ch.isspace() for ch in rest):
        return "a SIP URI needs a user or host and no spaces"
    return None


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_PARAM = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+(?:=[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+)?")


def gateway_problem(text: str) -> str | None:
    """Why `text` is not a SIP trunk to write after `sip:NUMBER@` (interfaces.md, the HTTP `uri`),
    or None: a host name, an IPv4 address or an IPv6 address in brackets, then an optional
    `:port` (1-65535) and optional URI parameters (`;transport=tcp`), as RFC 3261's hostport
    and uri-parameters. O(len).
    """
    if any(ch.isspace() for ch in text):
        return "no spaces"
    if text.lower().startswith(("sip:", "sips:")):
        rest = text.split(":", 1)[1]
        return f"write the host and port only ({rest}): routecore writes sip:NUMBER@ before it"
    if "@" in text:
        return "no user part (routecore writes sip:NUMBER@ before the gateway)"
    for ch in "?<>\"'":
        if ch in text:
            return f"{ch!r} has no place in a gateway (host[:port][;param=value])"
    hostport, _, params = text.partition(";")
    if _:
        for param in params.split(";"):
            if not param:
                return "empty URI parameter (';' with nothing after it)"
            if not _PARAM.fullmatch(param):
                return f"bad URI parameter {param!r} (name or name=value)"
    if hostport.startswith("["):
        inside, bracket, after = hostport[1:].partition("]")
        if not bracket:
            return "'[' without its ']' (an IPv6 address is written [2001:db8::1])"
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            return f"{inside!r} is not an IPv6 address"
        if "%" in inside:
            return f"{inside!r}: a zone index (%) has no place in a SIP URI"
        if after and not after.startswith(":"):
            return "after ']' comes ':' and a port, or nothing"
        return _port_problem(after[1:]) if after else None
    if hostport.count(":") > 1:
        return f"an IPv6 address is written in brackets: [{hostport}] or [{hostport}]:5060"
    host, colon, port = hostport.partition(":")
    if colon:
        problem = _port_problem(port)
        if problem:
            return problem
    return _host_problem(host)


def _port_problem(port: str) -> str | None:
    if not port:
        return "':' is not followed by a port"
    if not (port.isascii() and port.isdigit()):
        return f"port {port!r} is not a number"
    if not 1 <= int(port) <= 65535:
        return f"port {int(port)} is not from 1 to 65535"
    return None


def _host_problem(host: str) -> str | None:
    if not host:
        return "no host"
    labels = host.removesuffix(".").split(".")
    if labels[-1][:1].isdigit():  # a name's last label starts with a letter: this is an address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not an IPv4 address (four numbers 0-255, e.g. 10.0.0.1)"
        return None
    if len(host.removesuffix(".")) > 253:
        return "a host name has at most 253 characters"
    for label in labels:
        if not label:
            return "empty label in the host name ('..' or a leading '.')"
        if not label.isascii():
            return (
                f"label {label!r} of the host name: ASCII letters, digits and '-' "
                "(an internationalised name in its xn-- form)"
            )
        if len(label) > 63 or not _LABEL.fullmatch(label):
            return (
                f"label {label!r} of the host name: letters, digits and '-', not starting or "
                "ending with '-', at most 63 characters"
            )
    return None


def pattern_problem(text: str) -> str | None:
    """Why `text` is neither an Asterisk dial pattern nor a plain prefix, or None.

    Pattern: `_` then X (0-9) Z (1-9) N (2-9), digits, `*`, `#`, sets `[137]` / `[1-5]`, and a
    final `.` (one or more of anything) or `!` (zero or more). A string with no `_` is a plain
    prefix: digits only. Positions are 1-based characters of `text`.
    """
    if not text:
        return "empty pattern"
    if not text.startswith("_"):
        for i, ch in enumerate(text):
            if not ("0" <= ch <= "9"):
                return (
                    f"character {i + 1} {ch!r}: a plain prefix is digits only "
                    "(a dial pattern starts with '_')"
                )
        return None
    if len(text) == 1:
        return "empty pattern after '_'"
    i = 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "0123456789*#XxZzNn":
            i += 1
        elif ch in ".!":
            if i != n - 1:
                return f"character {i + 1} {ch!r}: '.' and '!' may only end a pattern"
            i += 1
        elif ch == "[":
            end = text.find("]", i + 1)
            if end < 0:
                return f"character {i + 1} '[': set not closed with ']'"
            body = text[i + 1 : end]
            if not body:
                return f"character {i + 1} '[': empty set"
            j = 0
            while j < len(body):
                c = body[j]
                pos = i + 2 + j
                if not c.isdigit():
                    return f"character {pos} {c!r}: a set holds digits and ranges like 1-5"
                if j + 1 < len(body) and body[j + 1] == "-":
                    if j + 2 >= len(body) or not body[j + 2].isdigit():
                        return f"character {pos + 1} '-': a range needs a digit on each side"
                    if body[j + 2] < c:
                        return f"character {pos} {c}-{body[j + 2]}: a range must go upwards"
                    j += 3
                else:
                    j += 1
            i = end + 1
        elif ch == "]":
            return f"character {i + 1} ']': no '[' opened this set"
        else:
            return (
                f"character {i + 1} {ch!r}: a dial pattern holds digits, * #, X Z N, [sets], "
                "and a final . or !"
            )
    return None


_RANGE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")  # ASCII digits, as the engine reads them


def parse_range(text: str) -> tuple[int, int] | str:
    """`HH:MM-HH:MM` → (start, end) in minutes of the day, or the reason it is not one.

    Start included, end excluded; `24:00` only as an end; the end must be after the start.
    """
    m = _RANGE.fullmatch(text)
    if not m:
        return "an hours range is written HH:MM-HH:MM (e.g. 09:00-18:00)"
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59:
        return f"start {m.group(1)}:{m.group(2)} is not a time of day (00:00 to 23:59)"
    if m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        return f"end {m.group(3)}:{m.group(4)} is not a time of day (00:00 to 24:00)"
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return (
            f"end {m.group(3)}:{m.group(4)} is not after start {m.group(1)}:{m.group(2)} "
            "(a night shift is written as two ranges, e.g. 18:00-24:00 and 00:00-09:00)"
        )
    return start, end


MENU_KEYS = "0123456789*#"


def menu_key_problem(text: str) -> str | None:
    """Why `text` is not one menu key (a single 0-9, * or #), or None."""
    if len(text) != 1 or text not in MENU_KEYS:
        return f"a menu key is one of 0-9, * or #, not {text!r}"
    return None
