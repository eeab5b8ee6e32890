"""Price step charts (matplotlib, an optional extra: ``pip install 'catalog-etl[charts]'``).

One panel per unit (USD per 1M tokens, per request, ...), one step line per model and
component. A gap in a line is a time the model was not listed, was unpriced, or was
priced dynamically. Decimals become floats here, for drawing only.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.read.history import PriceSeries
from etl.read.units import per_million
from etl.reports.safe_text import visible

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING = "charts need matplotlib: pip install 'catalog-etl[charts]'"
FORMATS = (".svg", ".png")
_UNIT_LABELS = {"token": "USD per 1M tokens"}
# Deterministic SVG (same ids every run) with text as text, not glyph paths: smaller, and
# it inherits the page's font.
_RC: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "catalog-etl", "font.size": 9}
_PROLOG = re.compile(r"<\?xml[^>]*>|<!DOCTYPE[^>]*>|<metadata>.*?</metadata>", re.S)


def _label(text: str) -> str:
    """Catalog text as matplotlib draws it literally: control characters made visible, and
    ``$`` escaped so that a name never turns into (or breaks) mathtext."""
    return visible(text).replace("$", r"\$")


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed."""


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _require() -> None:
    if not available():
        raise ChartsUnavailable(MISSING)


def _value(series: PriceSeries, value: Any) -> float:
    """What is plotted: per 1M tokens for token components, per unit otherwise; NaN (a gap)
    for dynamic and unpriced."""
    if not isinstance(value, Decimal):
        return math.nan
    million = per_million(value, series.component)
    return float(million if million is not None else value)


def figure(series: Sequence[PriceSeries], title: str | None = None) -> Figure:
    """A figure with one panel per unit, one step line per series."""
    _require()
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    units = sorted({s.unit for s in series}, key=lambda u: (u != "token", u))
    single_model = len({(s.info.provider, s.info.model) for s in series}) == 1
    fig = Figure(
        figsize=(6.4, 2.4 * max(len(units), 1) + (0.3 if title else 0)), layout="constrained"
    )
    axes = fig.subplots(max(len(units), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, unit in zip(axes, units, strict=False):
        for line in (s for s in series if s.unit == unit):
            times = [moment for moment, _ in line.points] + [line.end]
            values = [_value(line, value) for _, value in line.points]
            values.append(values[-1] if values else math.nan)
            label = line.component if single_model else f"{line.info.model} {line.component}"
            ax.step(times, values, where="post", label=_label(label), linewidth=1.8)
        ax.set_ylabel(_UNIT_LABELS.get(unit, f"USD per {unit}"))
        ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 0) * 1.08 or 1)
        ax.grid(True, alpha=0.3)
        # Outside the plot, so no line hides behind it.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
    if title:
        fig.suptitle(_label(title), fontsize=10)
    return fig


def to_svg(series: Sequence[PriceSeries], title: str | None = None) -> str:
    """The chart as an ``<svg>`` element to inline in HTML: no XML prolog, no metadata."""
    _require()
    import matplotlib

    with matplotlib.rc_context(_RC):
        buffer = io.StringIO()
        figure(series, title).savefig(buffer, format="svg")
    return _PROLOG.sub("", buffer.getvalue()).strip()


def save(series: Sequence[PriceSeries], path: Path, title: str | None = None) -> None:
    """Write the chart to ``path``: SVG or PNG, by its suffix."""
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
