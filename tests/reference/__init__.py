"""Pure-Python reference model of routecore's routing decision (the differential test's oracle).

Written from the spec alone; it imports nothing from `routecore`.
"""

from .model import ReferenceError, ReferenceModel, ReferencePlanError
from .vectors import check_expect, run_case

__all__ = ["ReferenceError", "ReferenceModel", "ReferencePlanError", "check_expect", "run_case"]
