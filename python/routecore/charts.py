"""Charts for `routecore stats` and `routecore simulate`: hourly volume, calls by region, answer
rate over the day, as PNG files and as one self-contained HTML report that opens offline.

matplotlib draws them (headless Agg backend): it is the long-kept standard for static charts,
writes PNG without a browser or a network, and needs no JavaScript in the report. The report
inlines every image as base64 `data:` URIs and its CSS in a `<style>` element: nothing is fetched.
Chinese place names need a CJK font: the first installed of `CJK_FONTS` is used (the Debian
package `fonts-wqy-microhei`, installed by `tools/system-deps.sh`); without one, labels fall back
to the default font and missing glyphs are drawn as boxes (never a crash).
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

__all__ = ["Chart", "answer_rate_chart", "hourly_volume_chart", "html_report", "region_chart", "write_pngs"]

CJK_FONTS: Final = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei")


@dataclass(frozen=True)
class Chart:
    """One chart: a file stem (`hourly_volume`), a title, and the PNG bytes."""

    name: str
    title: str
    png: bytes


@cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    installed = {f.name for f in font_manager.fontManager.ttflist}
    families = [f for f in CJK_FONTS if f in installed]
    plt.rcParams["font.sans-serif"] = [*families, *plt.rcParams["font.sans-serif"]]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Without a CJK font, a Chinese label draws boxes and warns; the chart is still wanted.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        # A fixed creation date: the same figures give the same bytes.
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def hourly_volume_chart(
    offered: Sequence[int], answered: Sequence[int], title: str = "Calls by hour"
) -> Chart:
    """Bars of calls per hour of day, answered calls overlaid."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    hours = list(range(len(offered)))
    ax.bar(hours, offered, color="#9ecae1", label="calls")
    ax.bar(hours, answered, color="#3182bd", width=0.5, label="answered")
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("calls")
    ax.set_title(title)
    ax.legend()
    return Chart("hourly_volume", title, _png(fig))


def region_chart(counts: Mapping[str, int], title: str = "Calls by province", top: int = 15) -> Chart:
    """Horizontal bars of the `top` provinces (largest first)."""
    plt = _pyplot()
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(items), 3) + 1))
    names = [k for k, _ in items][::-1]
    ax.barh(names, [v for _, v in items][::-1], color="#31a354")
    ax.set_xlabel("calls")
    ax.set_title(title)
    return Chart("regions", title, _png(fig))


def answer_rate_chart(
    offered: Sequence[int], answered: Sequence[int], title: str = "Answer rate over the day"
) -> Chart:
    """Answered / calls per hour of day, in percent (hours without calls are left out)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    points = [(h, 100.0 * a / o) for h, (o, a) in enumerate(zip(offered, answered, strict=True)) if o]
    ax.plot([h for h, _ in points], [r for _, r in points], marker="o", color="#e6550d")
    ax.set_xticks(range(len(offered)))
    ax.set_ylim(0, 105)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("answered, %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return Chart("answer_rate", title, _png(fig))


def write_pngs(charts: Sequence[Chart], directory: str | Path) -> list[Path]:
    """Writes `<name>.png` for every chart into `directory` (created if missing)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in charts:
        p = out / f"{c.name}.png"
        p.write_bytes(c.png)
        paths.append(p)
    return paths


_STYLE: Final = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
"""


def html_report(
    title: str,
    summary: Sequence[tuple[str, str]],
    charts: Sequence[Chart],
    tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
) -> str:
    """One self-contained HTML page: a summary table, the charts inlined as base64 PNG, and
    `tables` (title, header, rows). Every text is escaped."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<table>",
        *(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in summary),
        "</table>",
    ]
    for c in charts:
        data = base64.b64encode(c.png).decode("ascii")
        parts.append(f'<h2>{e(c.title)}</h2><img alt="{e(c.title)}" src="data:image/png;base64,{data}">')
    for name, header, rows in tables:
        parts.append(f"<h2>{e(name)}</h2><table><tr>{''.join(f'<th>{e(h)}</th>' for h in header)}</tr>")
        parts.extend("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
