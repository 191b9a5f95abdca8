"""`python -m routecore.plan schema` rewrites routecore/plan_schema.json; `check FILE` checks a plan."""

from __future__ import annotations

import sys

from rich.console import Console

from routecore.plan import SCHEMA_PATH, check_plan, plan_json_schema_text, render_report


def main(argv: list[str]) -> int:
    if argv[:1] == ["schema"]:
        SCHEMA_PATH.write_text(plan_json_schema_text(), encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
        return 0
    if len(argv) == 2 and argv[0] == "check":
        report = check_plan(argv[1])
        render_report(report, Console())
        return 0 if report.ok else 1
    print("usage: python -m routecore.plan schema | check FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
