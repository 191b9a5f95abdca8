"""The exception hierarchy, rooted at `RoutecoreError` (defined in the Rust binding layer)."""

from routecore._routecore import (
    InvalidArgumentError,
    InvalidNumberError,
    ListError,
    NotFoundError,
    NotReadyError,
    PatternError,
    PlanError,
    RoutecoreError,
)

__all__ = [
    "InvalidArgumentError",
    "InvalidNumberError",
    "ListError",
    "NotFoundError",
    "NotReadyError",
    "PatternError",
    "PlanError",
    "RoutecoreError",
]
