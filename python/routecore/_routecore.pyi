"""Type stubs of the Rust extension `routecore._routecore` (hand-written, checked by stubtest)."""

from collections.abc import Sequence

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
