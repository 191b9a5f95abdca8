"""`routecore check` output: every error and warning with its place, then a summary (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from routecore.plan.loader import CheckReport, PlanIssue


def _issue_line(issue: PlanIssue, style: str, label: str) -> Text:
    where = f"{issue.file}:{issue.line}" if issue.line is not None else issue.file
    text = Text()
    text.append(f"{label} ", style=f"bold {style}")
    text.append(where, style="cyan")
    if issue.path:
        text.append("  ")
        text.append(issue.path, style="bold")
    text.append(f"\n    {issue.message}")
    return text


def render_report(report: CheckReport, console: Console) -> None:
    """Print a check report: errors (red), warnings (yellow), and the plan's summary."""
    for issue in report.errors:
        console.print(_issue_line(issue, "red", "error"))
    for issue in report.warnings:
        console.print(_issue_line(issue, "yellow", "warning"))
    if report.summary is not None:
        s = report.summary
        table = Table(title=f"plan {report.source}", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        table.add_row("version", s.checksum)
        table.add_row("tenants", f"{s.tenants:,}")
        table.add_row("numbers", f"{s.numbers:,}")
        for name, size in sorted(s.lists.items()):
            table.add_row(f"list {name}", f"{size:,} entries")
        console.print(table)
    n_err, n_warn = len(report.errors), len(report.warnings)
    if report.ok:
        console.print(f"[bold green]ok[/]: no errors, {n_warn} warning{'s' if n_warn != 1 else ''}")
    else:
        console.print(
            f"[bold red]{n_err} error{'s' if n_err != 1 else ''}[/], "
            f"{n_warn} warning{'s' if n_warn != 1 else ''}: the plan would be refused"
        )
