"""What a price chart draws, before any drawing library: panels of step lines, each with
its own look, and which lines repeat another.

Both renderers use it: :mod:`etl.reports.svg_chart` (the HTML pages' inline charts, no
dependency) and :mod:`etl.reports.charts` (``catalog-etl chart`` files, matplotlib). Values
stay exact decimals here; a renderer turns them into floats only to place them.

Two lines of one chart often hold the same price for a while (prompt and cache reads, a
model and its ``:thinking`` twin), and a line drawn on top would hide the other. So each
line of a panel has its own colour, width, dash pattern and marker: the first is wide and
solid, the next ones narrower and dashed, drawn on top, so the colours alternate wherever
two lines meet. A line equal to an earlier one over the whole window says so in its label
(``completion (same as prompt)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from etl.read.history import PriceSeries
from etl.read.units import per_million
from etl.times import as_utc

UNIT_LABELS = {"token": "USD per 1M tokens"}


@dataclass(frozen=True)
class Style:
    color: str
    width: float
    """Stroke width in pixels (SVG) or points (matplotlib)."""
    dash: tuple[float, ...]
    """Dash and gap lengths, in the units of ``width``; ``()`` is solid."""
    marker: str
    """``circle``, ``square``, ``triangle`` or ``diamond``, at each step's start."""


STYLES = (
    # Okabe and Ito's colour-blind-safe palette; widths shrink so a later line sits inside
    # an earlier one it coincides with.
    Style("#0072b2", 4.0, (), "circle"),
    Style("#d55e00", 2.4, (7.0, 4.0), "square"),
    Style("#009e73", 1.8, (2.0, 3.0), "triangle"),
    Style("#cc79a7", 1.6, (9.0, 3.0, 2.0, 3.0), "diamond"),
    Style("#e69f00", 1.4, (4.0, 2.0), "circle"),
    Style("#56b4e9", 1.2, (1.0, 2.0), "square"),
)


@dataclass(frozen=True)
class Step:
    start: datetime
    end: datetime
    value: Decimal
    """Per 1M tokens for token components, per unit otherwise; exact."""


@dataclass(frozen=True)
class Line:
    label: str
    """Catalog text as is: each renderer makes it visible and escapes it its own way."""
    steps: tuple[Step, ...]
    """The priced stretches; a time between two steps is a gap (unlisted, unpriced or
    dynamic)."""
    style: Style
    same_as: str | None = None
    """The label of an earlier line of the panel that this one equals everywhere."""

    @property
    def legend(self) -> str:
        return f"{self.label} (same as {self.same_as})" if self.same_as else self.label


@dataclass(frozen=True)
class Panel:
    unit: str
    lines: tuple[Line, ...]
    start: datetime
    end: datetime

    @property
    def axis_label(self) -> str:
        return UNIT_LABELS.get(self.unit, f"USD per {self.unit}")

    @property
    def top(self) -> Decimal:
        """The highest price drawn (0 when nothing is)."""
        return max((step.value for line in self.lines for step in line.steps), default=Decimal(0))


def steps(series: PriceSeries) -> tuple[Step, ...]:
    """The stretches of ``series`` with a price; dynamic and unpriced ones are left out."""
    found: list[Step] = []
    ends = [moment for moment, _ in series.points[1:]] + [series.end]
    for (start, value), end in zip(series.points, ends, strict=True):
        if not isinstance(value, Decimal) or end <= start:
            continue
        million = per_million(value, series.component)
        step = Step(as_utc(start), as_utc(end), million if million is not None else value)
        if found and found[-1].end == step.start and found[-1].value == step.value:
            step = Step(found.pop().start, step.end, step.value)  # one stretch, one price
        found.append(step)
    return tuple(found)


def panels(series: Sequence[PriceSeries]) -> tuple[Panel, ...]:
    """One panel per unit (tokens first), one line per series, in the order given."""
    if not series:
        return ()
    units = sorted({s.unit for s in series}, key=lambda u: (u != "token", u))
    single_model = len({(s.info.provider, s.info.model) for s in series}) == 1
    start = min(as_utc(s.points[0][0]) if s.points else as_utc(s.end) for s in series)
    end = max(as_utc(s.end) for s in series)
    found: list[Panel] = []
    for unit in units:
        lines: list[Line] = []
        for one in (s for s in series if s.unit == unit):
            label = one.component if single_model else f"{one.info.model} {one.component}"
            drawn = steps(one)
            twin = next((line.label for line in lines if drawn and line.steps == drawn), None)
            lines.append(Line(label, drawn, STYLES[len(lines) % len(STYLES)], twin))
        found.append(Panel(unit, tuple(lines), start, end))
    return tuple(found)
