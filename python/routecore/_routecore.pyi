"""Type stubs of the Rust extension `routecore._routecore` (hand-written, checked by stubtest)."""

import datetime
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self, TypeAlias, final

from typing_extensions import disjoint_base

# --- errors (rust/bindings/error.rs) ---------------------------------------------------------

class RoutecoreError(Exception):
    """Root of every routecore error."""

class InvalidNumberError(RoutecoreError):
    """A number that is not a number: which field, and why."""

class InvalidArgumentError(RoutecoreError):
    """A malformed argument other than a number (digits, time, event)."""

class NotFoundError(RoutecoreError):
    """The called number is not served by the plan."""

class PatternError(RoutecoreError):
    """A dial pattern that does not compile: position and reason."""

class ListError(RoutecoreError):
    """A list file or entry that cannot be loaded: source, line and reason."""

class PlanError(RoutecoreError):
    """A plan that fails its checks; `errors` lists every problem."""

class NotReadyError(RoutecoreError):
    """Data needed for the call is not loaded yet."""

# --- numbers (rust/bindings/numbers.rs) ------------------------------------------------------

def normalize(number: str) -> str:
    """Normalise one number to its national form (`+86 138 0013 8000` -> `13800138000`).

    Up to 20 digits, not counting an international prefix `00`: `+` and 20 digits gives a
    national form of 22 (`00` and the 20), which normalises to itself.

    Raises:
        InvalidNumberError: `number` is not a number: the message says which character and why,
            or that it has more than 20 digits, nothing after the country code (`+86`, `0086`),
            or lone surrogates (text that was not decoded with its real encoding).
        TypeError: `number` is not a str.
    """

def kind(number: str) -> str:
    """The kind of one number: mobile, landline, service, international, anonymous or unknown.

    Raises:
        InvalidNumberError: `number` is not a number (as for `normalize`).
        TypeError: `number` is not a str.
    """

MAX_CALL_ID: int
"""The longest call id a route request or a call event may carry, in characters."""

EMPTY_TIME: str
"""Why a time given empty is refused (left out, it is the current time)."""

def check_call_id(call_id: str) -> None:
    """Refuses a call id its events could not report, as every route request does: longer than
    `MAX_CALL_ID` characters, or holding a character that is not printable (`first_unprintable`).

    Raises:
        InvalidArgumentError: `call_id: longer than 256 characters`, or `call_id: U+202E at
            position 4 is a control or invisible character; a call id is printable text`.
        TypeError: `call_id` is not a str.
        UnicodeEncodeError: `call_id` holds a lone surrogate.
    """

def unprintable_message(field: str, at: int, code: int, what: str) -> str:
    """The engine's words for `field` refused for the character of code point `code` at
    position `at`: `field: U+001B at position 4 is a control or invisible character; what`."""

def first_unprintable(text: str) -> tuple[int, str] | None:
    """The first character of `text` that is not printable, as (position in characters,
    character), or None: a control, format, private-use or unassigned character, or a separator
    other than the space (the rule of `str.isprintable()`, with the Rust crate's Unicode data).

    Raises:
        TypeError: `text` is not a str.
        UnicodeEncodeError: `text` holds a lone surrogate.
    """

def group_key(tenant: str, group: str) -> str:
    """The key a group's state is kept under, and its label in statistics: `tenant/group`, with
    `%`, `/` and `#` in either name escaped (`a%2Fb/c`), so that no two groups share one.

    Raises:
        TypeError: `tenant` or `group` is not a str.
    """

def slot_key(target: str) -> str:
    """The key the engine counts a target's calls under: a URI's normalised number when its user
    part is a mobile, landline, international or 400/800 number, else the URI as written; a
    number's national form; what is no number, as given.

    Raises:
        InvalidNumberError: `target` is not valid text.
        TypeError: `target` is not a str.
    """

def normalize_many(numbers: Sequence[str]) -> list[str | None]:
    """Normalise many numbers with the GIL released; a number that is not one becomes `None`.

    Text with lone surrogates is not a number either: its entry is `None`, the batch goes on.

    Raises:
        TypeError: `numbers` is one str, or an item is not a str.
    """

# --- region (rust/bindings/region.rs) --------------------------------------------------------

@final
class Region:
    """Where a caller is from (`numbers.md`, "Caller region"); empty strings where unknown.

    Domestic kinds (mobile, landline, service) have country `CN`; an international caller has its
    ISO 3166 code (`001` for non-geographic codes such as +800); unknown and anonymous have none.
    """

    @property
    def normalized(self) -> str:
        """The national form (`13800138000`)."""
    @property
    def kind(self) -> str:
        """mobile, landline, service, international, anonymous or unknown."""
    @property
    def province(self) -> str:
        """Short province name as the `phone` data spells it (`广东`, `内蒙古`)."""
    @property
    def city(self) -> str:
        """Short city name as the `phone` data spells it (`深圳`, `延边`)."""
    @property
    def carrier(self) -> str:
        """移动, 联通, 电信 or 广电 (original allocation), for mobiles."""
    @property
    def virtual_operator(self) -> bool:
        """Whether the mobile segment belongs to a virtual operator (虚拟运营商)."""
    @property
    def country(self) -> str:
        """ISO 3166 code of the caller's country."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def region(number: str) -> Region:
    """Normalise one number and look up its region in O(1).

    Raises:
        InvalidNumberError: `number` is not a number (as for `normalize`).
        TypeError: `number` is not a str.
        NotReadyError: the region tables are not installed (`routecore` installs them at import).
    """

def region_many(numbers: Sequence[str]) -> list[Region | None]:
    """The regions of many numbers with the GIL released; a number that is not one becomes `None`.

    Text with lone surrogates is not a number either: its entry is `None`, the batch goes on.

    Raises:
        NotReadyError: the region tables are not installed.
        TypeError: `numbers` is one str, or an item is not a str.
    """

def install_region_tables(phone_dat: bytes, phonenumbers: str) -> None:
    """Build the region tables from `phone.dat`'s bytes and the `phonenumbers` material, and install them.

    Raises:
        InvalidArgumentError: either input is malformed (the message says where).
    """

def region_places() -> list[tuple[str, str]]:
    """Every (province, city) pair the `phone` data names, in its order.

    Raises:
        NotReadyError: the region tables are not installed.
    """

def match_place(description: str) -> tuple[str, str] | None:
    """`phone`'s (province, city) for a `phonenumbers` zh description (`广东省深圳市` -> 广东, 深圳).

    The city is empty where `phone` names none in the description; `None` if no province is named.

    Raises:
        NotReadyError: the region tables are not installed.
    """

def region_stats() -> list[tuple[str, int]]:
    """Counts of where the installed tables' facts came from (segments, area codes, calling codes).

    Raises:
        NotReadyError: the region tables are not installed.
    """

# --- lists (rust/bindings/lists.rs) ----------------------------------------------------------

@final
class NumberList:
    """A named set of numbers, any size (10 million in under 10 bytes a number), exact.

    A blocked Bloom filter answers "not listed" from one cache line; every "listed" is
    confirmed against the exact store, so a false positive never reaches a decision.
    Numbers are normalised (`numbers.md`) on the way in and on lookup, so every accepted
    form of a number finds it. Thread-safe: lookups take no lock while no live change is
    pending, and `add`/`remove` work while other threads read.

    Args:
        numbers: Numbers in any accepted input form.
        expected: How many numbers the filter is sized for (at least those given), so that
            live adds up to it keep `fp_rate`.
        fp_rate: Target false-positive rate of the filter; it affects speed only. A list of
            scattered numbers keeps a filter word in each bucket's line with its numbers, which
            the same line confirms (a rate near 1 in 6 at millions of numbers, whatever is
            asked); `fp_rate` then sizes the live filter.

    Raises:
        InvalidNumberError: An entry is not a number, or is anonymous (`numbers[i]` names it).
        InvalidArgumentError: `fp_rate` is not strictly between 0 and 1.
        TypeError: `numbers` is a single string, or holds something other than `str`.
    """

    def __new__(
        cls, numbers: Iterable[str] | None = None, expected: int = 0, fp_rate: float = 0.01
    ) -> Self: ...
    @staticmethod
    def from_text(
        text: str, source: str = "<text>", *, strict: bool = False, expected: int = 0, fp_rate: float = 0.01
    ) -> NumberList:
        """Load a list file's text: one number per line in any accepted form; `#` starts a comment.

        Blank and comment-only lines are skipped. A line that is not a number, or is anonymous
        (`anonymous`, `unknown`, ...), is skipped and recorded in `problems` as `(line, reason)`;
        every other line still loads.

        Raises:
            ListError: `strict` is set and a line is bad (the first one, with the count of others).
            InvalidArgumentError: `fp_rate` is not strictly between 0 and 1.
        """

    @staticmethod
    def from_file(
        path: str | os.PathLike[str], *, strict: bool = False, expected: int = 0, fp_rate: float = 0.01
    ) -> NumberList:
        """Read and load a list file (see `from_text`); its name is the `source`.

        Raises:
            OSError: The file cannot be read.
            ListError: `strict` is set and a line is bad.
            InvalidArgumentError: `fp_rate` is not strictly between 0 and 1.
        """

    @staticmethod
    def from_bytes(data: bytes, expected: int = 0) -> NumberList:
        """Read the form written by `to_bytes`, checking every entry.

        Raises:
            InvalidArgumentError: `data` is not a saved list.
        """

    def to_bytes(self) -> bytes:
        """The persistent form (format 2; format 1 still loads): a 32-byte header, then 8 bytes a
        number, and 22 bytes (digits padded with NUL) for each number of 20 to 22 digits."""

    @property
    def source(self) -> str:
        """Where the list came from: a file name, `<text>`, `<numbers>` or `<bytes>`."""

    @property
    def problems(self) -> list[tuple[int, str]]:
        """The bad lines skipped at load: `(line, reason)`, lines numbered from 1."""

    @property
    def fp_rate(self) -> float:
        """The filter's target false-positive rate."""

    def add(self, number: str, /) -> bool:
        """List a number live; `False` if it was already listed.

        Raises:
            InvalidNumberError: `number` is not a number, or is anonymous.
        """

    def remove(self, number: str, /) -> bool:
        """Unlist a number live; `False` if it was not listed.

        Raises:
            InvalidNumberError: `number` is not a number.
        """

    def __contains__(self, number: object, /) -> bool:
        """Whether `number` (any accepted form) is listed; the anonymous caller never is.

        Raises:
            InvalidNumberError: `number` is not a number.
            TypeError: `number` is not a `str`.
        """

    def contains_many(self, numbers: Sequence[str], /) -> list[bool]:
        """`number in self` for each number, with the GIL released.

        Raises:
            InvalidNumberError: One of `numbers` is not a number (`numbers[i]` names it).
        """

    def compact(self) -> None:
        """Fold live changes into the bulk store, so lookups are lock-free again."""

    def numbers(self) -> list[str]:
        """Every listed number in national form, shortest first, then in numeric order."""

    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def memory_bytes(self) -> int:
        """Bytes used by the filter, the keys, the bucket offsets, a large list's recent answers
        and the live overlay."""

def list_file_text(data: bytes, /) -> tuple[str, list[tuple[int, str]]]:
    """A list file's bytes as text, line for line, as `NumberList.from_file` reads them.

    Each line's entry (before any `#`) must be UTF-8; a comment need not be, and is dropped. A
    line whose entry is not UTF-8 is kept empty (the lines after it keep their numbers) and comes
    back as `(line, reason)`, lines counted from 1.
    """

# --- patterns and 400/800 classes (rust/bindings/patterns.rs) ----------------------------------

@final
class Classification:
    """The class and tags of a 400/800 number (frozen; equal results compare and hash equal).

    The class is spelled `class_` because `class` is a Python keyword.
    """

    @property
    def class_(self) -> str:
        """`top`, `special`, `ordinary`, or `""` for a number that is not 400/800 + 7 digits."""
    @property
    def tags(self) -> list[str]:
        """`repeat-N`, `AABBCC`, `ABABAB`, `ABCABC`, `AABB`, `ABAB`, `ascending-N`, `descending-N`,
        in that order; several may hold at once."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def classify(number: str) -> Classification:
    """Classify one number, normalised first: only a national form `400`/`800` + 7 digits has a class.

    `400-888-8888`, `+86 400 888 8888` and `4008888888` are the same number. An empty or withheld
    number has no class.

    Raises:
        InvalidNumberError: `number` is not a number (as for `normalize`).
        TypeError: `number` is not a str.
    """

def classify_many(numbers: Sequence[str] | bytes) -> list[Classification]:
    """Classify many numbers, each normalised first as by `classify`, with the GIL released.

    `numbers` is a sequence of str, or a bytes buffer of one number a line as read from a file
    (`\\n` or `\\r\\n`, spaces around a number ignored, `#` comments, blank lines and a UTF-8
    byte-order mark skipped, as in list files: one result per number).
    Equal results are the same shared object. Plain digits skip the normaliser (the bulk case).

    Raises:
        InvalidNumberError: an item (or line) is not a number; the message names it
            (`numbers[3]`, counting results) and says why.
        TypeError: `numbers` is one str, or an item is not a str.
    """

def pool(
    numbers: Sequence[str] | bytes,
    *,
    class_: str | None = None,
    tag: str | None = None,
    pattern: str | Sequence[str] | PatternSet | None = None,
) -> list[str]:
    """Keep the numbers that satisfy every criterion given, in input order and as given, with the
    GIL released. Class, tags and patterns are judged on each number's national form
    (`400-123-8888` matches `_400XXX8888`); what is not a number (or is withheld) is never kept.

    Args:
        numbers: as for `classify_many` (a bytes buffer is the fast path for millions of numbers).
        class_: `top`, `special` or `ordinary` (or `顶级号码`, `特号号码`, `普通号码`).
        tag: an exact tag (`repeat-4`, `AABB`; shape names in any case), or `repeat`, `ascending`,
            `descending` for a run of any length.
        pattern: a dial pattern or plain prefix (`_400XXX8888`), several (any may match), or a
            compiled `PatternSet`.

    Raises:
        InvalidArgumentError: an unknown class or tag name.
        InvalidNumberError: an item is text with lone surrogates (named `numbers[i]`).
        PatternError: a pattern that does not compile.
        TypeError: `numbers` is one str, or an item is not a str.
    """

def pool_lines(
    data: bytes,
    *,
    class_: str | None = None,
    tag: str | None = None,
    pattern: str | Sequence[str] | PatternSet | None = None,
) -> tuple[list[str], list[tuple[int, str]]]:
    """Filter the numbers of a file's bytes, read as a list file is (one a line in any accepted
    form, `#` comments, blank lines and a UTF-8 byte-order mark skipped), with the GIL released.
    Class, tags and patterns are judged on each number's national form (`400-123-4567` matches
    `_400XXX4567`). The `routecore pool FILE` command.

    Returns:
        The matches in national form, in file order; and `(line, reason)` for every line that is
        not a number (garbage, an anonymous entry, bytes that are not UTF-8), which is skipped.

    Raises:
        InvalidArgumentError: an unknown class or tag name.
        PatternError: a pattern that does not compile.
    """

@final
class PatternSet:
    """Dial patterns (`_1380013XXXX`, `_[1-5]XX.`, plain prefix `0755`) compiled together.

    Numbers are matched as given (normalise first). Immutable and safe to share between threads.
    """

    def __new__(cls, patterns: Iterable[str]) -> Self:
        """Compile the patterns, in order.

        Raises:
            PatternError: a pattern that does not compile (the message gives the position and why).
            TypeError: `patterns` is one str.
        """
    @property
    def patterns(self) -> list[str]:
        """The patterns as given, in order."""
    def matches(self, number: str) -> bool:
        """Whether any pattern matches the whole number (a plain prefix: its start)."""
    def first_match(self, number: str) -> int | None:
        """Index of the first pattern, in the order given, that matches; `None` if none does."""
    def matching(self, number: str) -> list[int]:
        """Indices of every matching pattern, ascending."""
    def match_many(self, numbers: Sequence[str] | bytes) -> list[int | None]:
        """`first_match` of every number (input as for `classify_many`), with the GIL released.

        Raises:
            InvalidNumberError: an item is text with lone surrogates (named `numbers[i]`).
            TypeError: `numbers` is one str, or an item is not a str.
        """
    def __len__(self) -> int: ...

# --- prefix tables (rust/bindings/prefix.rs) ---------------------------------------------------

@final
class PrefixTable:
    """Digit prefix -> any value, with longest-prefix match (area codes, rate tables). Thread-safe."""

    def __new__(cls, items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> Self:
        """Start empty, or with the (prefix, value) pairs of `items`.

        Raises:
            InvalidArgumentError: a prefix that is not all digits.
            TypeError: a prefix that is not a str.
        """
    def insert(self, prefix: str, value: Any) -> None:
        """Set the value of `prefix` (ASCII digits; `""` is the default for every number).

        Raises:
            InvalidArgumentError: `prefix` is not all digits.
        """
    def get(self, prefix: str, default: Any = None) -> Any:
        """The value stored for exactly `prefix`, else `default`."""
    def longest_match(self, number: str) -> tuple[str, Any] | None:
        """The longest stored prefix of `number` and its value; the walk stops at a non-digit."""
    def longest_match_many(self, numbers: Sequence[str] | bytes) -> list[tuple[str, Any] | None]:
        """`longest_match` of every number (input as for `classify_many`), the walk without the GIL.

        Hits on the same prefix share one tuple object.

        Raises:
            TypeError: `numbers` is one str, or an item is not a str.
        """
    def __len__(self) -> int: ...
    def __contains__(self, prefix: str, /) -> bool: ...

# --- engine (rust/bindings/engine.rs) ----------------------------------------------------------

@final
class Target:
    """One target of a FORWARD decision: a number or a URI."""

    @property
    def number(self) -> str: ...
    @property
    def uri(self) -> str: ...
    @property
    def ring_seconds(self) -> int: ...
    @property
    def rate_per_minute(self) -> float: ...

@final
class Menu:
    """The menu a MENU decision plays: its prompt and the keys it accepts."""

    @property
    def id(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def keys(self) -> list[str]: ...

@final
class Reject:
    """The SIP code and reason of a REJECT decision."""

    @property
    def sip_code(self) -> int: ...
    @property
    def reason(self) -> str: ...

@final
class Display:
    """The caller-ID display: certified name (only while certified) and the tag valid now."""

    @property
    def name(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def certified(self) -> bool: ...

@final
class Caller:
    """The caller as normalised, with its kind and region."""

    @property
    def normalized(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def province(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def virtual_operator(self) -> bool: ...
    @property
    def country(self) -> str: ...

@final
class CalledClass:
    """The called number's 400/800 class (`class_` is "" for other numbers) and tags."""

    @property
    def class_(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...

@final
class ErrorInfo:
    """Why a request in a batch failed: a gRPC status name and a message."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...

@final
class Decision:
    """One routing decision; fields follow the proto's `RouteDecision`."""

    @property
    def call_id(self) -> str: ...
    @property
    def action(self) -> str:
        """FORWARD, MENU, ANNOUNCE, VOICEMAIL or REJECT ("" when `error` is set)."""
    @property
    def targets(self) -> list[Target]: ...
    @property
    def parallel(self) -> bool: ...
    @property
    def menu(self) -> Menu | None: ...
    @property
    def prompt(self) -> str: ...
    @property
    def voicemail_box(self) -> str: ...
    @property
    def reject(self) -> Reject | None: ...
    @property
    def display(self) -> Display: ...
    @property
    def caller(self) -> Caller: ...
    @property
    def called_class(self) -> CalledClass: ...
    @property
    def called(self) -> str:
        """The called number, normalised."""
    @property
    def tenant(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def plan_version(self) -> str: ...
    @property
    def trace(self) -> list[str]:
        """Every rule considered and why it held or not (only when asked with `explain`)."""
    @property
    def error(self) -> ErrorInfo | None:
        """Set when this decision stands for a request that failed (batch calls only)."""

@final
class DecisionBatch:
    """The decisions of `route_many`, in request order. Holds them in Rust: a `Decision`
    object is made only when one is read."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> Decision:
        """The decision of request `index` (negative counts from the end).

        Raises:
            IndexError: out of range.
        """
    def actions(self) -> list[str]:
        """Every decision's action, in order ("" for a failed request)."""
    def error_count(self) -> int:
        """How many requests failed (their decisions carry `error`)."""

_Time: TypeAlias = datetime.datetime | str | float | int | None

@disjoint_base
class Engine:
    """A compiled routing plan plus its decision state. Use `routecore.Engine` (its subclass)."""

    def __new__(
        cls,
        doc_json: bytes,
        list_texts: Mapping[str, str],
        cn_days: Sequence[tuple[datetime.date, str]],
        version: str,
        *,
        state: str | None = None,
        state_prefix: str = "routecore",
        state_timeout: float = 0.25,
    ) -> Self:
        """Compile a plan document (plan-format JSON with defaults filled).

        `state`: None for the in-process decision state, or a Redis URL shared by every engine
        (node) with the same URL and `state_prefix`; `state_timeout` bounds each Redis step (s).

        Raises:
            PlanError: the document does not compile; `issues` holds (path, message) pairs.
            NotReadyError: Redis cannot be reached.
            InvalidArgumentError: a bad `state_prefix` or `state_timeout`.
        """
    @property
    def state_backend(self) -> str:
        """Where the decision state lives."""
    def state_status(self) -> dict[str, Any] | None:
        """The shared state's health and counters (`healthy`, `fallbacks`, `outages`,
        `replayed`, `dropped`, `journaled`, `last_error`); None for the in-process state."""
    def _reload(
        self,
        doc_json: bytes,
        list_texts: Mapping[str, str],
        cn_days: Sequence[tuple[datetime.date, str]],
        version: str,
        lists: Sequence[tuple[str, Sequence[str], Sequence[str]]] = ...,
    ) -> tuple[str, list[tuple[str, str]]]:
        """Compile a new plan beside the current one, apply the live list updates `lists`
        (name, add, remove) to it, and swap it in.

        Returns:
            The old version, and the updates the new plan refused as (list name, message).

        Raises:
            PlanError: the new plan does not compile; the current one keeps serving.
        """
    @property
    def version(self) -> str:
        """The plan's version: a checksum of the plan and its list files."""
    @property
    def timezone(self) -> str: ...
    @property
    def gateway(self) -> str: ...
    def instant(self, at: str | float | datetime.datetime | None, /) -> datetime.datetime:
        """The instant `at` names, read as `route` and `report` read it (an ISO 8601 string
        or naive datetime without offset in the plan's timezone, seconds since the epoch, None
        for now), as an aware UTC datetime."""
    def numbers(self) -> list[str]:
        """The served numbers, normalised and sorted."""
    def route(
        self,
        called: str,
        caller: str,
        digits: str | None = None,
        at: _Time = None,
        call_id: str | None = None,
        explain: bool = False,
    ) -> Decision:
        """Decide one call.

        Args:
            called: the called number, any accepted form.
            caller: the caller, any accepted form ("" or a withheld word for anonymous).
            digits: menu keys collected so far (0-9, *, #, T for a timeout).
            at: the call time: an aware datetime, a naive one (plan timezone), an ISO 8601 string,
                seconds since the epoch, or None for now.
            call_id: the switch's call id (slot leases use it).
            explain: fill `trace`.

        Raises:
            InvalidNumberError: a number that is not a number (which field, and why).
            InvalidArgumentError: bad digits or time, or a call id its events could not report
                (`check_call_id`).
            NotFoundError: the called number is not served by the plan.
        """
    def route_many(
        self,
        requests: Sequence[Mapping[str, Any]] | None = None,
        *,
        called: Sequence[str] | None = None,
        caller: Sequence[str] | None = None,
        digits: Sequence[str] | None = None,
        at: Sequence[_Time] | None = None,
        call_id: Sequence[str] | None = None,
        explain: bool = False,
    ) -> DecisionBatch:
        """Decide many calls with the GIL released: dicts of request fields, or columns.

        A request that fails yields a decision whose `error` is set instead of raising. Columns
        may be numpy arrays: `str_` items, `datetime64` times (naive: the plan's zone) and integer
        or float seconds; numbers as integers are refused (a landline's leading 0 would be lost).

        Raises:
            InvalidArgumentError: a request dict with a key that is no field (`requests[3]:
                'calller': not a field of a route request (fields: …)`).
            ValueError: neither requests nor columns, or columns of different lengths.
            TypeError: a column item that is not a `str` (which column and index).
        """
    def recall(self, call_id: str) -> Decision | None:
        """The decision of a forwarded call with this id, kept (bounded) for its call records."""
    def report(
        self,
        call_id: str,
        type: str,
        target: str | None = None,
        at: _Time = None,
        duration_seconds: int = 0,
    ) -> None:
        """Report a call event: ANSWERED takes a slot of `target`, ENDED frees it (without a
        target: the slots the call took, by the decision kept for it).

        Duplicate, late or out-of-order events change nothing.

        Raises:
            InvalidArgumentError: unknown event type, empty call id, a call id `check_call_id`
                refuses, negative duration.
            InvalidNumberError: `target` is neither a number nor a URI.
        """
    def update_list(
        self, name: str, add: Sequence[str] = ..., remove: Sequence[str] = ...
    ) -> tuple[int, int, int]:
        """Add and remove numbers of the current plan's number list `name`, live.

        Every number is checked before anything changes. A reload compiles the lists afresh.

        Returns:
            `(size, added, removed)`: the list's size after, numbers newly listed, numbers unlisted.

        Raises:
            NotFoundError: the plan has no list `name`.
            InvalidArgumentError: `name` is a pattern-only list, or an entry has no digits.
            InvalidNumberError: an entry is not a number (`add[i]` / `remove[i]` says which).
        """

# ---- wire: the gRPC/HTTP hot path (bytes in, bytes out) ----

@final
class RouteStats:
    """Decision counters since creation: by action, tenant, reject reason and error status."""

    def __new__(cls) -> Self: ...
    def snapshot(self) -> dict[str, Any]:
        """`decisions`, `errors` (ints) and `by_action`, `by_tenant`, `by_reason`, `by_error` (str -> int)."""

def route_wire(
    engine: Engine, request: bytes, *, embed_errors: bool = False, stats: RouteStats | None = None
) -> bytes:
    """Decide one serialised `routecore.v1.RouteRequest`; answer the serialised `RouteDecision`.

    Args:
        engine: the engine whose current plan decides.
        request: the request's protobuf bytes.
        embed_errors: answer a failed request as a decision carrying `error` instead of raising.
        stats: counters to count the outcome in.

    Raises:
        InvalidArgumentError: bytes that are not a RouteRequest, bad digits or time, a call id
            `check_call_id` refuses.
        InvalidNumberError: a number that is not a number (which field, and why).
        NotFoundError: the called number is not served by the plan.
    """

def route_batch_wire(
    engine: Engine, request: bytes, *, stats: RouteStats | None = None, max_requests: int | None = None
) -> bytes:
    """Decide a serialised `RouteBatchRequest` with the GIL released; answer a `RouteBatchResponse`.

    A request that fails yields a decision carrying `error` (its status name and message).

    Raises:
        InvalidArgumentError: bytes that are not a RouteBatchRequest, or more than `max_requests`
            requests (`requests: 40000 in one batch, at most 32768 …`; none is decided).
    """

def decision_json(
    engine: Engine,
    called: str,
    caller: str,
    digits: str = "",
    call_id: str = "",
    time: str | None = None,
    *,
    explain: bool = False,
    stats: RouteStats | None = None,
) -> bytes:
    """One decision as UTF-8 JSON: the proto's field names plus the top-level `uri` and `uris`.

    A target's SIP URI is `sip:NUMBER@GATEWAY` for a number (the plan's gateway; "" when the plan
    has none) and its own URI for a SIP target. `uris` lists them for every target in order;
    `uri` is the first one, "" with no target.

    Raises:
        InvalidNumberError: a number that is not a number (which field, and why).
        InvalidArgumentError: bad digits or time.
        NotFoundError: the called number is not served by the plan.
    """

def route_json(
    engine: Engine,
    called: str,
    caller: str,
    digits: str = "",
    at: datetime.datetime | str | float | None = None,
    call_id: str = "",
    explain: bool = False,
    *,
    keep: bool = False,
) -> tuple[bytes, str, str, str, Decision | None]:
    """Decide one call and answer it as `decision_json` does, in one call (the HTTP hot path).

    Returns:
        `(json, action, tenant, reject_reason, decision)`: the JSON bytes, what the metrics
        count ("" for no reject reason), and the `Decision` when `keep` (else None).

    Raises:
        InvalidNumberError: a number that is not a number (which field, and why).
        InvalidArgumentError: bad digits or time (`at`: a datetime, ISO 8601 or epoch seconds).
        NotFoundError: the called number is not served by the plan.
    """

def plan_counts(engine: Engine) -> dict[str, int]:
    """Sizes of the current plan: `numbers`, `tenants`, `lists`, `groups`, `menus`."""

# --- plan YAML fast reader (rust/bindings/yaml.rs) --------------------------------------------

def yaml_to_json(text: str, /) -> tuple[bytes, list[tuple[str | int, ...]]] | str:
    """Read plan YAML as PyYAML's `SafeLoader` would (YAML 1.1 scalars), with the GIL released.

    Returns:
        `(json, dates)`: the document as compact JSON (keys in document order) and the path of
        every value PyYAML reads as a `datetime.date` (written in the JSON as `YYYY-MM-DD`); or,
        as a `str`, why the fast reader declines the text (anchors, tags, duplicate keys, YAML
        1.1 scalars such as `0755`, a root that is not a mapping, not YAML...): read it with
        PyYAML then.
    """

def yaml_lines(text: str, paths: Sequence[Sequence[object]], /) -> list[int | None] | None:
    """The 1-based line of each path (keys and list indices) in a text `yaml_to_json` accepts.

    As the loader's PyYAML node index places a path: the line of the key that leads to where the
    path ends (or stops matching), or of the node itself for a list item or the root; `None` for
    every path of an empty document. One pass that stops once every path is placed. `None` when
    the text fails the fast reader's checks of characters or does not parse.
    """

# --- traffic simulation (rust/bindings/sim.rs) -------------------------------------------------

@final
class Simulation:
    """A running traffic simulation (rust/sim.rs): arrivals routed by an engine, played out.

    Use `routecore.simulate(...)`; this is the engine room it drives hour by hour.
    """

    def __new__(
        cls,
        engine: Engine,
        *,
        start: float,
        span_seconds: float,
        seed: int = 0,
        answer_probability: float = 0.9,
        mean_ring_seconds: float = 6.0,
        mean_handling_seconds: float = 180.0,
        handling: str = "exponential",
        handling_cv: float = 1.0,
        mean_patience_seconds: float | None = None,
        menu_key_seconds: float = 8.0,
        call_id_prefix: str = ...,
        arrivals: tuple[Sequence[float], Sequence[str], Sequence[str], Sequence[str]] | None = None,
        calls_per_day: float | None = None,
        hourly_weights: Sequence[float] | None = None,
        numbers: Sequence[str] | None = None,
        regions: Sequence[tuple[float, Sequence[str]]] | None = None,
        anonymous_share: float = 0.0,
        listed: Sequence[str] = ...,
        listed_share: float = 0.0,
    ) -> Simulation:
        """A simulation from `start` (epoch seconds; local midnight makes hours local) over
        `span_seconds`: replay `arrivals` (columns at, called, caller, digits; `at` in seconds
        from `start`) or generate `calls_per_day` with the traffic shape (`regions`: weight and
        7-digit mobile segments; `listed`: callers drawn with `listed_share`).

        Raises:
            InvalidArgumentError: a bad argument (the message names it).
        """

    def advance(self, until: float) -> None:
        """Plays every arrival and event before `until` seconds from the start (GIL released)."""

    @property
    def done(self) -> bool:
        """Every arrival and event has been played."""

    @property
    def arrived(self) -> int:
        """Arrivals decided so far."""

    @property
    def total_calls(self) -> int:
        """All arrivals of the run."""

    def outcome_json(self) -> bytes:
        """The figures so far as JSON (complete once `done`); maps sorted by key."""
