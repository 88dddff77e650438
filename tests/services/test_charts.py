"""The charts of capaian: SVG drawn by pygal, self-contained (no script, no external
address), an image named in words, with a bar or point per value and the target line."""

from __future__ import annotations

import re

import pytest

from app.services.charts import Bar, Line, capaian_chart, trend_chart

SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
BAR = re.compile(r'<rect [^>]*class="rect reactive tooltip-trigger"')
DOT = re.compile(r'<circle [^>]*class="dot reactive tooltip-trigger"')


def assert_self_contained(svg: str) -> None:
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "<!--" not in svg and "<?" not in svg
    assert set(re.findall(r"https?://[^\s\"'<>)]+", svg)) <= SVG_NAMESPACES
    assert "//" not in re.sub(r"http://www\.w3\.org/[0-9]{4}/(?:svg|xlink)", "", svg)
    assert not re.search(r'(?:href|src)="', svg)


def test_a_bar_per_value_with_its_number_and_the_target_line():
    svg = capaian_chart(
        "Capaian per unit", (Bar("BID_PSM", 93.75), Bar("BID_PP", 120.0, "#1a9850"))
    )
    assert_self_contained(svg)
    assert len(BAR.findall(svg)) == 2
    assert 'class="value">93,8<' in svg and 'class="value">120,0<' in svg  # Indonesian
    assert ">BID_PSM<" in svg and ">BID_PP<" in svg
    assert "#1a9850" in svg  # the bar in its predikat's colour
    # The target: a major guide line at 100 on the y axis.
    assert re.search(r'<path [^>]*class="major guide line"', svg)
    assert 'class="major">100<' in svg
    head = svg[: svg.index(">") + 1]
    assert 'role="img"' in head and 'aria-label="Capaian per unit. Batang: capaian' in head
    assert "<title>Capaian per unit</title>" in svg


def test_a_value_without_capaian_has_no_bar():
    svg = capaian_chart("Capaian", (Bar("A", 50.0), Bar("B", None), Bar("C", None)))
    assert len(BAR.findall(svg)) == 1
    assert ">B<" in svg and ">C<" in svg  # the item is still named on the axis
    nothing = capaian_chart("Kosong", (Bar("A", None),))
    assert_self_contained(nothing)
    assert not BAR.findall(nothing) and "Belum ada capaian" in nothing


def y_labels(svg: str) -> list[int]:
    axis = svg[svg.index('class="axis y') : svg.index('class="axis x')]
    return [int(x.replace(".", "")) for x in re.findall(r'class="(?:major)?">([0-9.]+)<', axis)]


def test_the_axis_reaches_above_the_highest_value_with_the_target_line():
    labels = y_labels(capaian_chart("Tinggi", (Bar("A", 340.0),)))
    assert labels[0] == 0 and max(labels) >= 340 and 100 in labels
    # Far above: a few round labels (1.000, 2.000 ...), the target still a line of its own.
    wide = capaian_chart("Jauh", (Bar("A", 2600.0),))
    labels = y_labels(wide)
    assert max(labels) >= 2600 and len(labels) <= 7 and 100 not in labels
    assert len(re.findall(r'<path [^>]*class="major guide line"', wide)) == 1


def test_a_line_per_item_with_a_gap_for_a_missing_quarter():
    svg = trend_chart(
        "Tren KADIS",
        (Line("KADIS.1.1", (50.0, 75.5, None, 101.0)), Line("KADIS.1.2", (None, None, 20.0, 40.0))),
    )
    assert_self_contained(svg)
    assert len(DOT.findall(svg)) == 5  # a point per value, none for a missing one
    assert ">KADIS.1.1<" in svg and ">KADIS.1.2<" in svg  # the legend
    assert all(f">{q}<" in svg for q in ("TW I", "TW II", "TW III", "TW IV"))
    assert 'class="major">100<' in svg
    assert 'aria-label="Tren KADIS. Garis: capaian' in svg


def test_the_quarters_of_a_report_up_to_its_quarter():
    svg = trend_chart("Tren", (Line("X", (10.0, 20.0)),), ("TW I", "TW II"))
    assert ">TW II<" in svg and ">TW III<" not in svg
    assert len(DOT.findall(svg)) == 2


@pytest.mark.parametrize("chart", ["bars", "lines"])
def test_texts_are_escaped(chart):
    label = "<script>alert(1)</script>"
    svg = (
        capaian_chart(label, (Bar(label, 10.0),))
        if chart == "bars"
        else trend_chart(label, (Line(label, (10.0, 20.0, 30.0, 40.0)),))
    )
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert_self_contained(svg)


def test_a_trend_without_any_line_is_the_empty_chart_not_an_error():
    # A position without indicators in the year: pygal draws no line chart without a series.
    svg = trend_chart("Tren capaian KOSONG", ())
    assert "Belum ada capaian" in svg and "<svg" in svg


def test_an_absurd_capaian_draws_on_a_bounded_axis():
    huge = (Bar("A", 1e300), Bar("B", float(10**20)), Bar("C", 90.0))
    assert "<svg" in capaian_chart("Capaian besar", huge)
    trend = (Line("A", (1e300, -5.0, None, 1e15)),)
    assert "<svg" in trend_chart("Tren besar", trend)
