"""Charts and the self-contained HTML report (python/routecore/charts.py)."""

from __future__ import annotations

import base64
import re
import warnings
from pathlib import Path

from routecore import charts

HOURS = [0, 0, 0, 1, 2, 5, 9, 20, 40, 60, 80, 70, 50, 55, 65, 70, 60, 50, 30, 20, 10, 5, 2, 1]
ANSWERED = [max(0, n - n // 5) for n in HOURS]


def test_charts_are_png_and_reproducible() -> None:
    a = charts.hourly_volume_chart(HOURS, ANSWERED)
    b = charts.hourly_volume_chart(HOURS, ANSWERED)
    assert a.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert a.png == b.png, "the same figures give the same bytes"
    assert a.png != charts.hourly_volume_chart(ANSWERED, ANSWERED).png
    rate = charts.answer_rate_chart(HOURS, ANSWERED)
    assert rate.name == "answer_rate" and rate.png.startswith(b"\x89PNG")


def test_chinese_labels_draw_with_a_cjk_font() -> None:
    # fonts-wqy-microhei is installed by tools/system-deps.sh: no glyph is missing.
    plt = charts._pyplot()
    assert any(f in plt.rcParams["font.sans-serif"] for f in charts.CJK_FONTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chart = charts.region_chart({"北京": 30, "广东": 50, "(unknown)": 3, "四川": 1})
    assert chart.png.startswith(b"\x89PNG")


def test_region_chart_keeps_the_top() -> None:
    many = {f"p{i:02d}": i for i in range(40)}
    small = charts.region_chart(many, top=5)
    large = charts.region_chart(many, top=30)
    # Taller for more bars: the PNG's height (IHDR bytes 20..24) grows.
    height = lambda png: int.from_bytes(png[20:24], "big")  # noqa: E731
    assert height(large.png) > height(small.png)


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    drawn = [charts.hourly_volume_chart(HOURS, ANSWERED), charts.region_chart({"北京": 3})]
    page = charts.html_report(
        "calls <today>",
        [("answered", "80%"), ("note", "a & b")],
        drawn,
        [("targets", ["target", "calls"], [["sip:desk@x", 3], ["<b>", 1]])],
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "calls &lt;today&gt;" in page and "a &amp; b" in page and "&lt;b&gt;" in page
    assert "<b>" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(i) for i in images] == [c.png for c in drawn]
    # Nothing to fetch: no external reference of any kind.
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "<script" not in page
    paths = charts.write_pngs(drawn, tmp_path / "out")
    assert [p.name for p in paths] == ["hourly_volume.png", "regions.png"]
    assert paths[0].read_bytes() == drawn[0].png
