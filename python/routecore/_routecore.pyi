"""Type stubs of the Rust extension `routecore._routecore` (hand-written, checked by stubtest)."""

from collections.abc import Sequence
from typing import final

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
