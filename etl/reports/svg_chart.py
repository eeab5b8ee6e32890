"""Price step charts as inline SVG, in plain Python: what the HTML pages embed.

No drawing library is needed, so every install draws the report's charts. The output is
an ``<svg>`` element to place inside an HTML page: no XML prolog, no script, no ``style``
element or attribute, no ``id`` (several charts share a page), no reference to anything
outside it, and the same bytes for the same history. Catalog text (legend labels, the
title) is made visible (:func:`etl.reports.safe_text.visible`) and escaped. Prices are
exact decimals until a coordinate is computed: tick labels are decimal text, never a
float's digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from html import escape

from etl.ingest.money import canonical
from etl.read.history import PriceSeries
from etl.reports.chart_lines import Line, Panel, Style, panels
from etl.reports.safe_text import visible

WIDTH = 640
LEFT, RIGHT = 66, 12
PLOT_HEIGHT = 150
TICKS_BELOW = 20
LEGEND_ROW = 18
CHAR_WIDTH = 6.2
"""About the width of one character at 11 px, to lay out the legend."""
MAX_LABEL = 60
INK, MUTED, FRAME, GRID = "#1f2328", "#59636e", "#d1d9e0", "#eaeef2"
_HOURS = (1, 2, 3, 6, 12, 24, 48, 168, 336)
_MONTHS = (1, 2, 3, 6, 12, 24, 60, 120)
_NICE = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def _n(value: float) -> str:
    """A coordinate: two decimals at most, the same text for the same value."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(value: str, limit: int = MAX_LABEL) -> str:
    shown = visible(value)
    return escape(shown if len(shown) <= limit else shown[: limit - 1] + "…")


def value_ticks(top: Decimal) -> list[Decimal]:
    """Round ticks from 0 past ``top`` (and a little headroom): 1, 2, 2.5 or 5 times a
    power of ten apart, exact."""
    headroom = top * Decimal("1.05") if top > 0 else Decimal(1)
    rough = headroom / 5
    step = next(n.scaleb(rough.adjusted()) for n in _NICE if n.scaleb(rough.adjusted()) >= rough)
    count = int((headroom / step).to_integral_value(ROUND_CEILING))
    return [step * i for i in range(count + 1)]


def time_ticks(start: datetime, end: datetime, most: int = 6) -> list[tuple[datetime, str]]:
    """Round times between ``start`` and ``end`` (UTC), at most ``most`` of them, labelled."""
    span = (end - start).total_seconds()
    for hours in _HOURS:
        if span <= most * hours * 3600:
            size = hours * 3600
            first = math.ceil(start.timestamp() / size) * size
            moments = [
                datetime.fromtimestamp(t, UTC) for t in range(first, int(end.timestamp()) + 1, size)
            ]
            shape = "%Y-%m-%d" if hours >= 24 else "%m-%d %H:%M"
            return [(m, m.strftime(shape)) for m in moments] or [
                (m, m.strftime("%m-%d %H:%M")) for m in (start, end)
            ]
    months = next((m for m in _MONTHS if span <= most * m * 30.44 * 86400), _MONTHS[-1])
    index = math.ceil((start.year * 12 + start.month - 1) / months) * months
    found = []
    while (moment := datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)) <= end:
        if moment >= start:
            found.append((moment, moment.strftime("%Y-%m")))
        index += months
    return found


def _marker(style: Style, x: float, y: float) -> str:
    size = 2.5 + style.width / 2
    paint = f'fill="{style.color}" stroke="#fff" stroke-width="0.8"'
    if style.marker == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(size)}" {paint}/>'
    if style.marker == "square":
        return (
            f'<rect x="{_n(x - size)}" y="{_n(y - size)}" width="{_n(2 * size)}"'
            f' height="{_n(2 * size)}" {paint}/>'
        )
    corners: tuple[tuple[float, float], ...]
    if style.marker == "triangle":
        corners = ((x, y - size), (x + size, y + size), (x - size, y + size))
    else:
        corners = ((x, y - size), (x + size, y), (x, y + size), (x - size, y))
    d = "M" + "L".join(f"{_n(cx)} {_n(cy)}" for cx, cy in corners) + "Z"
    return f'<path d="{d}" {paint}/>'


def _stroke(style: Style) -> str:
    dash = f' stroke-dasharray="{" ".join(_n(d) for d in style.dash)}"' if style.dash else ""
    return f'fill="none" stroke="{style.color}" stroke-width="{_n(style.width)}"{dash}'


class _Frame:
    """Where times and prices land in one panel."""

    def __init__(self, panel: Panel, top: float, ticks: Sequence[Decimal]) -> None:
        self.panel, self.top, self.max = panel, top, float(ticks[-1])
        self.width = WIDTH - LEFT - RIGHT
        self.span = max((panel.end - panel.start).total_seconds(), 1.0)

    def x(self, moment: datetime) -> float:
        return LEFT + (moment - self.panel.start).total_seconds() / self.span * self.width

    def y(self, value: Decimal) -> float:
        return self.top + PLOT_HEIGHT * (1 - float(value) / self.max)


def _line(frame: _Frame, line: Line) -> list[str]:
    """The step path (a gap where there is no price) and a marker where each price starts."""
    d, markers, previous = [], [], None
    for step in line.steps:
        x0, x1, y = frame.x(step.start), frame.x(step.end), frame.y(step.value)
        d.append(f"V{_n(y)}H{_n(x1)}" if previous == step.start else f"M{_n(x0)} {_n(y)}H{_n(x1)}")
        markers.append(_marker(line.style, x0, y))
        previous = step.end
    if not d:
        return []
    return [f'<path class="line" d="{"".join(d)}" {_stroke(line.style)}/>', *markers]


def _axes(frame: _Frame, ticks: Sequence[Decimal]) -> list[str]:
    top, bottom, right = frame.top, frame.top + PLOT_HEIGHT, WIDTH - RIGHT
    out = [
        f'<rect class="plot" x="{LEFT}" y="{_n(top)}" width="{frame.width}"'
        f' height="{PLOT_HEIGHT}" fill="#fff" stroke="{FRAME}"/>'
    ]
    for tick in ticks:
        y = _n(frame.y(tick))
        out.append(f'<path d="M{LEFT} {y}H{right}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end">{canonical(tick)}</text>'
        )
    for moment, label in time_ticks(frame.panel.start, frame.panel.end):
        x = _n(frame.x(moment))
        out.append(f'<path d="M{x} {_n(bottom)}v4" stroke="{MUTED}"/>')
        out.append(f'<text x="{x}" y="{_n(bottom + 16)}" text-anchor="middle">{label}</text>')
    middle = _n(top + PLOT_HEIGHT / 2)
    out.append(
        f'<text x="14" y="{middle}" text-anchor="middle" transform="rotate(-90 14 {middle})">'
        f"{escape(frame.panel.axis_label)}</text>"
    )
    return out


def _legend(lines: Sequence[Line], top: float) -> tuple[list[str], float]:
    """Legend entries flowed into rows under the panel; and the height they take."""
    out, x, row = [], float(LEFT), 0
    for line in lines:
        label = _text(line.legend)
        width = 34 + CHAR_WIDTH * len(visible(line.legend)[:MAX_LABEL]) + 16
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, row = float(LEFT), row + 1
        y = top + row * LEGEND_ROW + 9
        out.append(f'<path d="M{_n(x)} {_n(y)}h28" {_stroke(line.style)}/>')
        out.append(_marker(line.style, x + 14, y))
        out.append(f'<text x="{_n(x + 34)}" y="{_n(y)}" dy="4" fill="{INK}">{label}</text>')
        x += width
    return out, (row + 1) * LEGEND_ROW if lines else 0


def render(series: Sequence[PriceSeries], title: str | None = None) -> str:
    """The chart of ``series``: one panel per unit, one step line per series."""
    body: list[str] = []
    top = 28.0 if title else 8.0
    if title:
        body.append(
            f'<text x="{WIDTH // 2}" y="18" text-anchor="middle" fill="{INK}"'
            f' font-weight="600">{_text(title, 120)}</text>'
        )
    drawn = panels(series)
    for panel in drawn:
        ticks = value_ticks(panel.top)
        frame = _Frame(panel, top, ticks)
        body += _axes(frame, ticks)
        for line in panel.lines:
            body += _line(frame, line)
        legend, legend_height = _legend(panel.lines, top + PLOT_HEIGHT + TICKS_BELOW + 4)
        body += legend
        top += PLOT_HEIGHT + TICKS_BELOW + 4 + legend_height + 14
    names = ", ".join(line.legend for panel in drawn for line in panel.lines)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(top)}"'
        f' width="{WIDTH}" height="{_n(top)}" role="img"'
        f' aria-label="{_text("Price step chart: " + names, 400)}"'
        f' font-size="11" fill="{MUTED}">' + "".join(body) + "</svg>"
    )
