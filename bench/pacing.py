"""What the load generators share (`load.py`, `soak.py`, `overload_h2load.py`): the open-loop
pacer, percentiles, the status an RPC failed with and the overload options. Run as scripts, they
import it from their own directory."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path


def add_overload_options(parser: argparse.ArgumentParser) -> None:
    """The options `soak.py` and `overload_h2load.py` share: the overload and recovery phases."""
    parser.add_argument("--overload-seconds", type=float, default=20.0)
    parser.add_argument("--overload-share", type=float, default=1.5, help="of the measured peak")
    parser.add_argument("--recovery-seconds", type=float, default=10.0, help="at 50%% of peak, after")
    parser.add_argument("--json", type=Path, help="also write the raw results here")


def pct(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank); NaN when there is none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def status_name(exc: BaseException) -> str:
    """The status name an RPC failed with (errors are counted by status, never abort a run)."""
    code = getattr(exc, "code", None)
    return code().name if callable(code) else type(exc).__name__


async def open_loop(one: Callable[[int], Awaitable[None]], rate: float, seconds: float) -> tuple[int, float]:
    """Start `one(i)` for i in 0..rate*seconds at `rate`/s, not waiting for answers (an open loop:
    a slow server meets the same offered load), then wait for every call.

    Returns the number of calls and the seconds it took to start them all (the offered rate is
    their ratio: lower than `rate` when this client could not keep up)."""
    n = int(rate * seconds)
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    offered_in = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return n, offered_in
