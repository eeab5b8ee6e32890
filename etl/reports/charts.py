"""Price step charts: inline SVG for the HTML pages, SVG or PNG files for ``catalog-etl chart``.

* :func:`to_svg` draws the ``<svg>`` element the HTML pages embed, with
  :mod:`etl.reports.svg_chart`: plain Python, so every install draws the report's charts,
  and the same bytes whatever else is installed.
* :func:`save` and :func:`figure` draw with matplotlib, an optional extra
  (``pip install 'catalog-etl[charts]'``), for ``catalog-etl chart`` (PNG and SVG files).

Both draw what :mod:`etl.reports.chart_lines` lays out: one panel per unit (USD per 1M
tokens, per request, ...), one step line per model and component, each line with its own
colour, width, dashes and marker so that equal prices never hide a line. A gap in a line is
a time the model was not listed, was unpriced, or was priced dynamically. Decimals become
floats only to be drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.read.history import PriceSeries
from etl.reports import svg_chart
from etl.reports.chart_lines import Line, panels
from etl.reports.safe_text import visible

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MISSING = "charts need matplotlib: pip install 'catalog-etl[charts]'"
"""Why ``catalog-etl chart`` cannot write a file; the HTML pages' charts need nothing."""
FORMATS = (".svg", ".png")
# Deterministic SVG (same ids every run) with text as text, not glyph paths: smaller, and
# it inherits the page's font.
_RC: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "catalog-etl", "font.size": 9}
_MARKERS = {"circle": "o", "square": "s", "triangle": "^", "diamond": "D"}
_POINTS_PER_PIXEL = 0.6


def _label(text: str) -> str:
    """Catalog text as matplotlib draws it literally: control characters made visible, and
    ``$`` escaped so that a name never turns into (or breaks) mathtext."""
    return visible(text).replace("$", r"\$")


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed: ``catalog-etl chart`` cannot write a file."""


def available() -> bool:
    """Whether matplotlib is installed, for :func:`save`. :func:`to_svg` never needs it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _require() -> None:
    if not available():
        raise ChartsUnavailable(MISSING)


def to_svg(series: Sequence[PriceSeries], title: str | None = None) -> str:
    """The chart as an ``<svg>`` element to inline in HTML (:mod:`etl.reports.svg_chart`)."""
    return svg_chart.render(series, title)


def _points(line: Line) -> tuple[list[datetime], list[float], list[int]]:
    """The line as matplotlib plots it: corners of the steps, NaN across a gap; and the
    indices where a price starts (its markers)."""
    times: list[datetime] = []
    values: list[float] = []
    starts = []
    for step in line.steps:
        if times and times[-1] != step.start:
            times.append(times[-1])
            values.append(math.nan)
        starts.append(len(times))
        times += [step.start, step.end]
        values += [float(step.value)] * 2
    return times, values, starts


def _draw_panel(ax: Axes, lines: Sequence[Line]) -> None:
    import matplotlib.dates as mdates

    handles = []
    for order, line in enumerate(lines):
        moments, values, starts = _points(line)
        times = mdates.date2num(moments)  # type: ignore[no-untyped-call]
        width = line.style.width * _POINTS_PER_PIXEL
        dash = tuple(d / line.style.width for d in line.style.dash)
        (handle,) = ax.plot(
            times,
            values,
            color=line.style.color,
            linewidth=width,
            linestyle=(0, dash) if dash else "-",
            marker=_MARKERS[line.style.marker],
            markevery=starts,
            markersize=3 + width,
            markeredgecolor="white",
            markeredgewidth=0.5,
            zorder=2 + order,  # later, narrower lines on top
        )
        handles.append(handle)
    # Handles and labels given explicitly: matplotlib leaves out of a legend it builds itself
    # every label that starts with "_", and model ids or components may.
    ax.legend(
        handles,
        [_label(line.legend) for line in lines],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),  # outside the plot, so no line hides behind it
        fontsize=8,
        frameon=False,
    )


def figure(series: Sequence[PriceSeries], title: str | None = None) -> Figure:
    """A figure with one panel per unit, one step line per series."""
    _require()
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    drawn = panels(series)
    fig = Figure(
        figsize=(6.4, 2.4 * max(len(drawn), 1) + (0.3 if title else 0)), layout="constrained"
    )
    axes = fig.subplots(max(len(drawn), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, drawn, strict=False):
        _draw_panel(ax, panel.lines)
        ax.set_ylabel(panel.axis_label)
        ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 0) * 1.08 or 1)
        ax.grid(True, alpha=0.3)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
    if title:
        fig.suptitle(_label(title), fontsize=10)
    return fig


def save(series: Sequence[PriceSeries], path: Path, title: str | None = None) -> None:
    """Write the chart to ``path`` with matplotlib: SVG or PNG, by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot write a chart as {suffix or 'a file without suffix'}: use .svg or .png"
        )
    _require()
    import matplotlib

    with matplotlib.rc_context(_RC):
        # No creation date in the file: the same history gives the same bytes.
        metadata = {"Date": None} if suffix == ".svg" else {}
        figure(series, title).savefig(path, format=suffix[1:], dpi=150, metadata=metadata)
