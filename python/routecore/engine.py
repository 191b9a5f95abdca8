"""`Engine`: a plan loaded, checked and compiled into the Rust core, ready to route.

The heavy lifting is in `routecore._routecore.Engine`; this subclass adds the ways to build
one (file, text, dict, the embedded demo plan) and live reload.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from routecore._routecore import Engine as _CoreEngine
from routecore._routecore import InvalidArgumentError
from routecore.calendar import cn_special_days, official_years
from routecore.plan import LoadedPlan, load_plan

__all__ = ["Engine", "demo_plan_text"]


@cache
def _cn_days() -> list[tuple[dt.date, str]]:
    years = sorted(official_years())
    if not years:
        return []
    return sorted(cn_special_days(years[0], years[-1]).items())


def demo_plan_text() -> str:
    """The embedded demo plan (YAML): a realistic platform of several tenants."""
    return resources.files("routecore").joinpath("demo_plan.yaml").read_text(encoding="utf-8")


@contextlib.contextmanager
def switch_time_field() -> Iterator[None]:
    """Around the handling of an event a switch sent (gRPC or HTTP): a bad time is named by the
    field the switch sent, `time`, rather than `at`, the argument of `Engine.report` and
    `CallEvent.create`."""
    try:
        yield
    except InvalidArgumentError as exc:
        message = str(exc)
        if not message.startswith("at: "):
            raise
        raise InvalidArgumentError("time: " + message.removeprefix("at: ").removeprefix("time ")) from None


def _compile_args(loaded: LoadedPlan) -> tuple[bytes, dict[str, str], list[tuple[dt.date, str]], str]:
    return loaded.to_engine_json(), dict(loaded.list_texts), _cn_days(), loaded.checksum


class Engine(_CoreEngine):
    """A compiled routing plan plus its decision state (round robin, slots, caller windows)."""

    loaded: LoadedPlan

    @classmethod
    def from_loaded(
        cls, loaded: LoadedPlan, *, state: str | None = None, state_prefix: str = "routecore"
    ) -> Engine:
        """Compile a loaded plan. `state`: None keeps the decision state in this process; a
        Redis URL (`redis://host:port/db`) shares it with every engine (node) using the same
        URL and `state_prefix` (see docs/deployment.md).

        Raises:
            NotReadyError: Redis cannot be reached.
        """
        engine = cls(*_compile_args(loaded), state=state, state_prefix=state_prefix)
        engine.loaded = loaded
        return engine

    @classmethod
    def from_file(
        cls, path: str | Path, *, state: str | None = None, state_prefix: str = "routecore"
    ) -> Engine:
        """Load, check and compile a YAML or JSON plan file (list files relative to it).

        Raises:
            PlanError: the plan fails its checks (`errors` lists every problem with its place).
        """
        return cls.from_loaded(load_plan(Path(path)), state=state, state_prefix=state_prefix)

    @classmethod
    def from_text(cls, text: str, *, base_dir: str | Path | None = None, name: str = "<text>") -> Engine:
        """Load a plan from YAML or JSON text; list files are relative to `base_dir`."""
        return cls.from_loaded(load_plan(text, path=Path(base_dir or ".") / name))

    @classmethod
    def from_dict(cls, plan: dict[str, Any], *, base_dir: str | Path | None = None) -> Engine:
        """Load a plan given as a dict (the parsed YAML/JSON document)."""
        return cls.from_loaded(load_plan(plan, path=Path(base_dir or ".") / "<dict>"))

    @classmethod
    def demo(cls, *, state: str | None = None, state_prefix: str = "routecore") -> Engine:
        """The embedded demo plan."""
        loaded = load_plan(demo_plan_text(), path=Path(".") / "<demo plan>")
        return cls.from_loaded(loaded, state=state, state_prefix=state_prefix)

    def reload(self, source: str | Path | dict[str, Any] | LoadedPlan) -> str:
        """Check and compile a new plan beside the current one and swap it in atomically.

        Decision state (round-robin positions, slots, caller windows) is kept. A plan that
        fails leaves the current one serving.

        Returns:
            The new plan's version.

        Raises:
            PlanError: the new plan fails its checks; nothing changed.
        """
        return self.reload_with_lists(source, ())[0]

    def reload_with_lists(
        self,
        source: str | Path | dict[str, Any] | LoadedPlan,
        lists: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    ) -> tuple[str, list[tuple[str, str]]]:
        """`reload`, with live list updates (name, add, remove) applied to the new plan before it
        serves: no call is ever routed on the new plan without them.

        Returns:
            The new plan's version, and the updates the new plan refused (list name, message),
            e.g. because it no longer has that list; the others were applied.

        Raises:
            PlanError: the new plan fails its checks; nothing changed.
        """
        loaded = source if isinstance(source, LoadedPlan) else load_plan(source)
        _, refused = self._reload(*_compile_args(loaded), list(lists))
        self.loaded = loaded
        return loaded.checksum, refused
