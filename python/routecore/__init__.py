"""routecore: the call-routing brain of a 400-number platform.

The Rust core (`routecore._routecore`) does normalisation, region lookup, lists,
dial patterns and the decision; this package loads data and plans, and serves.
"""

from routecore._routecore import NumberList, kind, normalize, normalize_many
from routecore.exceptions import (
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
    "NumberList",
    "PatternError",
    "PlanError",
    "RoutecoreError",
    "kind",
    "normalize",
    "normalize_many",
]
__version__ = "0.1.0"
