"""Type stubs of the Rust extension `routecore._routecore` (hand-written, checked by stubtest)."""

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Self, final

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
        InvalidNumberError: `number` is not a number.
        NotReadyError: the region tables are not installed (`routecore` installs them at import).
    """

def region_many(numbers: Sequence[str]) -> list[Region | None]:
    """The regions of many numbers with the GIL released; a number that is not one becomes `None`.

    Raises:
        NotReadyError: the region tables are not installed.
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
        fp_rate: Target false-positive rate of the filter; it affects speed only.

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
        """The persistent form: a 32-byte header, then 8 bytes a number."""

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
        """Bytes used by the filter, the keys, the bucket offsets and the live overlay."""
