"""Charts of capaian, drawn on the server as SVG with pygal: inlined in the pages (Dasbor) and
in the printed documents (the position report), which WeasyPrint typesets as they are.

A chart is self-contained markup: no script (pygal's tooltips need one; the numbers are in
the tables beside every chart), no comment, no external URL; only the SVG namespaces. Its
texts (titles, labels) are escaped by the XML writer, so a stored name prints as text. It is
an image with a title and an `aria-label` naming what it shows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

from app.core.text import indonesian_number
from app.schemas.achievements import AchievementPublic

TARGET = 100.0
"""Capaian equal to the target: the line every bar and point is read against."""

QUARTERS = ("TW I", "TW II", "TW III", "TW IV")

_STYLE = Style(
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#555555",
    opacity="1",
    opacity_hover="1",
    transition="0ms",
    colors=(
        "#13406b",
        "#b35806",
        "#1e6b34",
        "#8c1d18",
        "#5e3c99",
        "#0b7285",
        "#7f6d00",
        "#4d4d4d",
        "#c2185b",
        "#2e7d32",
        "#1565c0",
        "#6d4c41",
    ),
    guide_stroke_color="#c9ced6",
    major_guide_stroke_color="#b3261e",
    major_guide_stroke_dasharray="6,3",
    title_font_size=16,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=13,
    tooltip_font_size=13,
    no_data_font_size=18,
)


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its capaian (None: none, no bar) and its colour (e.g. the
    predikat's, `#rrggbb`; None: the chart's)."""

    label: str
    value: float | None
    color: str | None = None


@dataclass(frozen=True)
class Line:
    """One line: its label and its capaian at each quarter (None: a gap)."""

    label: str
    values: tuple[float | None, ...]


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def printable_color(color: str | None) -> str | None:
    """A rating's colour if it is a plain `#rrggbb` (what a style attribute may hold)."""
    return color if color and _COLOR.match(color) else None


def bars(items: Iterable[tuple[str, AchievementPublic]]) -> tuple[Bar, ...]:
    """A bar per item (e.g. an indicator by its code): its capaian, in its predikat's
    colour."""
    return tuple(
        Bar(
            label,
            found.achievement,
            printable_color(found.rating.color) if found.rating else None,
        )
        for label, found in items
    )


def lines(items: Iterable[tuple[str, Sequence[float | None]]]) -> tuple[Line, ...]:
    """A line per item (e.g. an indicator by its code): its capaian at each quarter."""
    return tuple(Line(label, tuple(values)) for label, values in items)


def percent(value: float | None) -> str:
    """A capaian as the charts print it: "93,8"."""
    return indonesian_number(value, 1)


def _top(values: Sequence[float | None]) -> float:
    """The top of the y axis: the target and every value, with some room above."""
    # An absurd capaian (a tiny target) goes off the top rather than squash every other bar.
    highest = min(max([v for v in values if v is not None] + [TARGET]), AXIS_CAP)
    return float(25 * (int(highest * 1.1) // 25 + 1))


AXIS_CAP = 100_000.0
"""The highest capaian (%) the y axis reaches."""


_STEPS = tuple(m * 10**k for k in range(1, 8) for m in (2.5, 5, 10, 20))
"""The steps between the y axis's labels: 25, 50, 100, 200, 250, 500 ..."""


def _y_labels(top: float) -> list[dict[str, Any]]:
    """At most six labels from 0 to `top`, and the target's line (unlabelled when its label
    would crowd the others: the captions say what the red line is)."""
    step = next(s for s in _STEPS if top / s <= 6)
    values = [step * i for i in range(math.ceil(top / step) + 1)]
    labels = [{"value": v, "label": indonesian_number(v, 0)} for v in values]
    if TARGET not in values:
        labels.append({"value": TARGET, "label": ""})
    return sorted(labels, key=lambda label: label["value"])


def _cleaned(label: str) -> Callable[[Any], Any]:
    """An XML filter of pygal: drop its comments (they carry its web address) and its
    script (the tooltips' configuration; nothing here runs a script), and name the image."""

    def clean(root: Any) -> Any:
        for node in list(root):
            if callable(node.tag):  # a comment
                root.remove(node)
        for parent in list(root.iter()):
            for node in list(parent):
                if not callable(node.tag) and str(node.tag).rsplit("}", 1)[-1] == "script":
                    parent.remove(node)
        root.set("role", "img")
        root.set("aria-label", label)
        return root

    return clean


def _config(title: str, values: Sequence[float | None]) -> dict[str, Any]:
    y_labels = _y_labels(_top(values))
    return {
        "title": title,
        "style": _STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "range": (0, y_labels[-1]["value"]),
        "y_labels": y_labels,
        "y_labels_major": [TARGET],
        "show_minor_y_labels": True,
        "value_formatter": lambda value: indonesian_number(value, 0),  # the y axis
        "formatter": percent,  # the values printed
        "no_data_text": "Belum ada capaian",
        "truncate_label": -1,
        "truncate_legend": -1,
    }


@lru_cache(maxsize=256)
def capaian_chart(
    title: str, bars: tuple[Bar, ...], *, width: int = 720, height: int = 320
) -> Markup:
    """Capaian against the target: a bar per item (a unit's mean capaian, an indicator's
    capaian) over the y axis in percent, with the target (100%) as a red dashed line and the
    value printed on each bar; an item without capaian has no bar. The same numbers always
    draw the same chart: it is drawn once (the page or report still computes them)."""
    values = [bar.value for bar in bars]
    chart = pygal.Bar(
        width=width,
        height=height,
        show_legend=False,
        print_values=True,
        print_values_position="top",
        x_label_rotation=30 if len(bars) * 90 > width else 0,
        **_config(title, values),
    )
    chart.add_xml_filter(
        _cleaned(f"{title}. Batang: capaian (%); garis putus-putus merah: target 100%.")
    )
    chart.x_labels = [bar.label for bar in bars]
    chart.add(
        "Capaian (%)",
        [{"value": bar.value, "color": bar.color} if bar.color else bar.value for bar in bars],
    )
    return Markup(chart.render(is_unicode=True))


@lru_cache(maxsize=256)
def trend_chart(
    title: str,
    lines: tuple[Line, ...],
    quarters: tuple[str, ...] = QUARTERS,
    *,
    width: int = 720,
    height: int = 320,
) -> Markup:
    """Capaian quarter by quarter (each year to date): a line per item over `quarters`,
    named in the legend, with the target (100%) as a red dashed line; a quarter without
    capaian is a gap in its line."""
    if not lines:  # pygal draws no line chart without a series: the empty chart says so
        return capaian_chart(title, (), width=width, height=height)
    chart = pygal.Line(
        width=width,
        height=height,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, min(len(lines), width // 160)),
        allow_interruptions=True,
        dots_size=3,
        **_config(title, [v for line in lines for v in line.values]),
    )
    chart.add_xml_filter(
        _cleaned(
            f"{title}. Garis: capaian (%) tiap triwulan, s.d. triwulan itu; "
            "garis putus-putus merah: target 100%."
        )
    )
    chart.x_labels = list(quarters)
    for line in lines:
        chart.add(line.label, list(line.values))
    return Markup(chart.render(is_unicode=True))
