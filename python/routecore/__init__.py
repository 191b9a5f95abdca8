"""routecore: the call-routing brain of a 400-number platform.

The Rust core (`routecore._routecore`) does normalisation, region lookup, lists,
dial patterns and the decision; this package loads data and plans, and serves.
"""

from routecore._routecore import (
    Classification,
    PatternSet,
    PrefixTable,
    classify,
    classify_many,
    kind,
    normalize,
    normalize_many,
    pool,
)
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
    "Classification",
    "InvalidArgumentError",
    "InvalidNumberError",
    "ListError",
    "NotFoundError",
    "NotReadyError",
    "PatternError",
    "PatternSet",
    "PlanError",
    "PrefixTable",
    "RoutecoreError",
    "classify",
    "classify_many",
    "kind",
    "normalize",
    "normalize_many",
    "pool",
]
__version__ = "0.1.0"
