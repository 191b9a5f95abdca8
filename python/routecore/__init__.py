"""routecore: the call-routing brain of a 400-number platform.

The Rust core (`routecore._routecore`) does normalisation, region lookup, lists,
dial patterns and the decision; this package loads data and plans, and serves.
"""

from typing import Any

from routecore._regiondata import load_tables, place_names
from routecore._routecore import (
    Classification,
    NumberList,
    PatternSet,
    PrefixTable,
    Region,
    classify,
    classify_many,
    kind,
    normalize,
    normalize_many,
    pool,
    region,
    region_many,
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
    "Engine",
    "InvalidArgumentError",
    "InvalidNumberError",
    "ListError",
    "NotFoundError",
    "NotReadyError",
    "NumberList",
    "PatternError",
    "PatternSet",
    "PlanError",
    "PrefixTable",
    "Region",
    "RoutecoreError",
    "classify",
    "classify_many",
    "kind",
    "load_tables",
    "normalize",
    "normalize_many",
    "place_names",
    "pool",
    "region",
    "region_many",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # `Engine` pulls in the plan loader (pydantic, yaml): imported on first use, so that
    # `import routecore` for the primitives stays light.
    if name == "Engine":
        from routecore.engine import Engine

        return Engine
    if name == "simulate":
        # The function (the module is `routecore.simulation`); lazy for the same reason.
        from routecore.simulation import simulate

        return simulate
    raise AttributeError(f"module 'routecore' has no attribute {name!r}")


# The region tables back normalisation too (which calling codes exist): install them now.
load_tables()
