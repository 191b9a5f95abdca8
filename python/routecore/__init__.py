"""routecore: the call-routing brain of a 400-number platform.

The Rust core (`routecore._routecore`) does normalisation, region lookup, lists,
dial patterns and the decision; this package loads data and plans, and serves.
"""

from routecore._regiondata import load_tables, place_names
from routecore._routecore import NumberList, Region, kind, normalize, normalize_many, region, region_many
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
    "Region",
    "RoutecoreError",
    "kind",
    "load_tables",
    "normalize",
    "normalize_many",
    "place_names",
    "region",
    "region_many",
]
__version__ = "0.1.0"

# The region tables back normalisation too (which calling codes exist): install them now.
load_tables()
