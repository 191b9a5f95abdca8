"""Type stubs of the Rust extension `routecore._routecore` (hand-written, checked by stubtest)."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self, final

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

    Raises:
        InvalidNumberError: `number` is not a number (the message says which character and why).
    """

def kind(number: str) -> str:
    """The kind of one number: mobile, landline, service, international, anonymous or unknown.

    Raises:
        InvalidNumberError: `number` is not a number.
    """

def normalize_many(numbers: Sequence[str]) -> list[str | None]:
    """Normalise many numbers with the GIL released; a number that is not one becomes `None`."""

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
    """Classify one number, matched as given: only `400`/`800` + 7 digits has a class (normalise first)."""

def classify_many(numbers: Sequence[str] | bytes) -> list[Classification]:
    """Classify many numbers with the GIL released.

    `numbers` is a sequence of str, or a bytes buffer of one number a line as read from a file
    (`\\n` or `\\r\\n`, spaces around a number ignored, blank lines skipped: one result per number).
    Equal results are the same shared object.

    Raises:
        TypeError: `numbers` is one str, or an item is not a str.
    """

def pool(
    numbers: Sequence[str] | bytes,
    *,
    class_: str | None = None,
    tag: str | None = None,
    pattern: str | Sequence[str] | PatternSet | None = None,
) -> list[str]:
    """Keep the numbers that satisfy every criterion given, in input order, with the GIL released.

    Args:
        numbers: as for `classify_many` (a bytes buffer is the fast path for millions of numbers).
        class_: `top`, `special` or `ordinary` (or `顶级号码`, `特号号码`, `普通号码`).
        tag: an exact tag (`repeat-4`, `AABB`; shape names in any case), or `repeat`, `ascending`,
            `descending` for a run of any length.
        pattern: a dial pattern or plain prefix (`_400XXX8888`), several (any may match), or a
            compiled `PatternSet`.

    Raises:
        InvalidArgumentError: an unknown class or tag name.
        PatternError: a pattern that does not compile.
        TypeError: `numbers` is one str, or an item is not a str.
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
