"""The Python-level fuzz targets (atheris): the plan loader and the HTTP request path.

    python tests/fuzz_targets.py plan [libFuzzer flags] [corpus dirs]
    python tests/fuzz_targets.py http -max_total_time=600 /tmp/corpus fuzz/seeds/http

Each target's `check_*` takes raw bytes and raises `Broken` (or lets an unexpected exception
escape) only when a documented behaviour is broken; bad input must end in the documented
error. `tests/test_fuzz.py` runs each target for a bounded number of inputs and replays
`fuzz/regressions/<target>/`; docs/fuzzing.md has the long runs.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-11T10:00:00+08:00"


class Broken(AssertionError):
    """A documented behaviour does not hold for this input."""


# --- plan: the loader (YAML/JSON, models, checks), check_plan, the Rust compiler, decisions ----


def check_plan(data: bytes) -> None:
    """`load_plan` accepts or raises `PlanError` (every issue placed in the file); `check_plan`
    never raises; a plan that loads compiles (`Engine.from_loaded`) and decides every sample
    request for each of its numbers."""
    import routecore
    from routecore.exceptions import PlanError
    from routecore.plan import check_plan as check
    from routecore.plan import load_plan
    from routecore.plan._yaml import line_count

    path = ROOT / "fuzz" / "<fuzz>.yaml"  # list files resolve beside it: none exist
    report = check(data, path=path)
    try:
        loaded = load_plan(data, path=path)
    except PlanError as exc:
        errors = getattr(exc, "errors", None)
        if errors is not None:
            if not errors or report.ok:
                raise Broken(f"PlanError {exc} but check_plan says ok={report.ok}") from exc
            text = data.decode("utf-8-sig", errors="replace")
            for issue in errors:
                if issue.line is not None and not 1 <= issue.line <= line_count(text):
                    raise Broken(f"{issue}: line {issue.line} is outside the text") from exc
        return
    if not report.ok:
        raise Broken(f"load_plan accepted what check_plan refuses: {report.errors}")
    try:
        engine = routecore.Engine.from_loaded(loaded)
    except PlanError as exc:
        # The compiler is the last line of defence: what it refuses, the checks missed.
        raise Broken(f"passed the checks but did not compile: {exc}") from exc
    for called in engine.numbers()[:8]:
        for caller in ("13800138000", "075586000000", ""):
            for digits in ("", "1", "9T"):
                engine.route(called, caller, digits, AT)


# --- http: a request head and body, parsed and answered ----------------------------------------


@cache
def _app() -> Any:
    import routecore
    from routecore.http import HttpLimits, _App, default_make_event
    from routecore.metrics import Metrics

    return _App(routecore.Engine.demo(), None, HttpLimits(), Metrics(), default_make_event)


# What the framing and field parsers answer (docs/errors.md): 505 for an HTTP version other than
# 1.0 and 1.1, a 4xx for everything else.
_HTTP_ERRORS = frozenset({400, 405, 408, 411, 413, 431, 505})


def check_http(data: bytes) -> None:
    """The request head parser and the body's fields (JSON or form, route or event) raise only
    the HTTP error they answer with (docs/errors.md); what parses is answered by the engine with 200,
    400 or 404 and a JSON body, never 500."""
    import orjson
    from routecore import http

    app = _app()
    mode, body = (data[0] if data else 0), data[1:]
    try:
        if mode % 4 == 0:
            http._Head(body, app.limits)
            return
        ctype = b"application/x-www-form-urlencoded" if mode % 4 == 1 else b"application/json"
        if mode % 4 == 3:
            fields, form = http._parse_query(body), True
            args = http._route_args(fields, form)
        elif mode & 8:
            event = http._event_fields(*http._body_fields(body, ctype))
            status, payload = app.event_now(event)
            if status not in (200, 400):
                raise Broken(f"event {event}: {status} {payload!r}")
            return
        else:
            args = http._route_args(*http._body_fields(body, ctype))
    except http._HttpError as exc:
        if exc.status not in _HTTP_ERRORS or not exc.message:
            raise Broken(f"HTTP error {exc.status} {exc.message!r}") from exc
        return
    status, payload = app.route(args)
    if status not in (200, 400, 404):
        raise Broken(f"route {args}: {status} {payload!r}")
    answer = orjson.loads(payload)
    if status != 200 and not answer["error"]["message"]:
        raise Broken(f"route {args}: an error without a message")


TARGETS = {"plan": check_plan, "http": check_http}


def main() -> None:
    import atheris

    name, argv = sys.argv[1], [sys.argv[0], *sys.argv[2:]]
    check = TARGETS[name]
    with atheris.instrument_imports(include=["routecore"]):
        import routecore.http
        import routecore.plan.checks
        import routecore.plan.loader  # noqa: F401
    if name == "http":
        _app()  # the demo plan compiled once, before fuzzing starts
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
