"""Price charts: what they draw (steps, gaps, exact ticks, a look of its own for each line,
"same as" for equal lines), the inline SVG the HTML pages embed (safe, deterministic, no
matplotlib), matplotlib's files for `catalog-etl chart`, and where the report puts them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from etl.ingest.money import DYNAMIC, Price
from etl.read.history import PriceSeries
from etl.read.queries import Filters, ModelInfo
from etl.reports import charts, report, svg_chart
from etl.reports.chart_lines import panels, steps
from tests.reports_helpers import SINCE, UNTIL

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=4, hours=12)
BIGGEST_MOVER = "meta-llama/llama-3.2-3b-instruct"


def series(
    model: str,
    component: str,
    *values: tuple[int, Price | None],
    name: str | None = None,
) -> PriceSeries:
    """A series of ``model``'s ``component``: ``(day, price per token)`` steps from START."""
    info = ModelInfo(1, "openrouter", model, model.split("/")[0], START, END, True)
    points = tuple((START + timedelta(days=day), value) for day, value in values)
    return PriceSeries(info, name, component, points, END)


TWINS = [
    series("acme/a", "prompt", (0, Decimal("0.0000004")), (2, Decimal("0.00000026"))),
    series("acme/a", "completion", (0, Decimal("0.0000004")), (2, Decimal("0.00000026"))),
    series("acme/a", "input_cache_read", (0, Decimal("0.0000004")), (3, Decimal(0))),
]


class TestLines:
    def test_equal_lines_each_have_their_own_look_and_say_so(self) -> None:
        """Every line of a panel differs in colour, width, dashes and marker, later lines
        narrower (drawn on top); a line equal to an earlier one everywhere says which."""
        (panel,) = panels(TWINS)
        prompt, completion, cache = panel.lines
        assert completion.same_as == "prompt" and completion.legend == "completion (same as prompt)"
        assert prompt.same_as is None and cache.same_as is None  # equal only for a while
        looks = [(line.style.color, line.style.dash, line.style.marker) for line in panel.lines]
        assert len(set(looks)) == 3
        assert prompt.style.width > completion.style.width > cache.style.width

    def test_steps_are_exact_with_gaps(self) -> None:
        """Prices per 1M tokens stay Decimals; unpriced and dynamic stretches are gaps; two
        stretches at one price in a row are one."""
        drawn = steps(
            series(
                "acme/a",
                "prompt",
                (0, Decimal("0.00000008333333333333334")),
                (1, None),
                (2, DYNAMIC),
                (3, Decimal("0.000002")),
                (4, Decimal("0.0000020")),
            )
        )
        assert [(s.start.day, s.end.day, s.value) for s in drawn] == [
            (1, 2, Decimal("0.08333333333333334")),
            (4, 5, Decimal("2")),
        ]
        assert all(isinstance(s.value, Decimal) for s in drawn)

    def test_units_get_panels_and_models_name_their_lines(self) -> None:
        """One panel per unit, tokens first; with several models a line names its model."""
        drawn = panels(
            [
                series("acme/a", "request", (0, Decimal("0.005"))),
                series("acme/a", "prompt", (0, Decimal("0.000001"))),
                series("_private/b", "prompt", (0, Decimal("0.000002"))),
            ]
        )
        assert [(p.unit, p.axis_label) for p in drawn] == [
            ("token", "USD per 1M tokens"),
            ("request", "USD per request"),
        ]
        assert [line.label for line in drawn[0].lines] == ["acme/a prompt", "_private/b prompt"]

    def test_ticks_are_round_exact_and_cover_the_prices(self) -> None:
        """Value ticks are 1, 2, 2.5 or 5 times a power of ten, exact, up past the highest
        price; time ticks are round days, hours or months, at most six."""
        assert svg_chart.value_ticks(Decimal("0.34")) == [Decimal(n) / 10 for n in range(5)]
        tiny = svg_chart.value_ticks(Decimal("0.0000065"))
        assert tiny[-1] >= Decimal("0.0000065") and tiny[1] == Decimal("0.000002")
        assert svg_chart.value_ticks(Decimal(0))[-1] == 1
        days = svg_chart.time_ticks(START, END)
        assert [label for _, label in days] == [f"2026-03-0{d}" for d in range(1, 6)]
        hours = svg_chart.time_ticks(START, START + timedelta(hours=5))
        assert [label for _, label in hours][:2] == ["03-01 00:00", "03-01 01:00"]
        months = svg_chart.time_ticks(START, START + timedelta(days=200))
        assert [label for _, label in months][:2] == ["2026-03", "2026-05"]  # every 2 months
        assert len(months) <= 6


class TestInlineSvg:
    def test_safe_to_inline_and_the_same_every_time(self) -> None:
        """The SVG has no prolog, script, style, id or reference to anything outside it,
        and the same series give the same bytes."""
        svg = svg_chart.render(TWINS, "Acme A")
        assert svg == svg_chart.render(TWINS, "Acme A")
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
        for forbidden in ("<?xml", "<script", "<style", "style=", " id=", "href", "url(", "<!"):
            assert forbidden not in svg, forbidden
        assert svg.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0
        assert svg.count('class="line"') == 3 and "completion (same as prompt)" in svg

    def test_catalog_text_is_escaped_and_an_underscore_label_is_kept(self) -> None:
        """Labels are escaped and their controls shown as escapes; a label starting with
        "_" (which matplotlib would hide) is drawn; $ is plain text."""
        svg = svg_chart.render(
            [
                series("_private/b", "prompt", (0, Decimal("0.000001"))),
                series("<script>alert(1)</script>/x\x1b[31m", "prompt", (0, Decimal("0.000002"))),
                series("hostile/$\\frac{", "prompt", (0, Decimal("0.000003"))),
            ],
            "<b>title</b>\u202e",
        )
        assert ">_private/b prompt<" in svg
        assert "&lt;script&gt;alert(1)&lt;/script&gt;/x\\x1b[31m prompt" in svg
        assert "hostile/$\\frac{ prompt" in svg and "&lt;b&gt;title&lt;/b&gt;\\u202e" in svg
        assert "<script" not in svg and "\x1b" not in svg and "\u202e" not in svg

    def test_drawn_without_matplotlib(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With matplotlib's import failing, the inline chart is drawn, byte for byte the
        same; only chart files need it."""
        before = charts.to_svg(TWINS)
        block_matplotlib(monkeypatch)
        assert not charts.available()
        assert charts.to_svg(TWINS) == before
        with pytest.raises(charts.ChartsUnavailable, match="pip install 'catalog-etl"):
            charts.save(TWINS, Path("never.png"))


def block_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` (and its submodules) fail, as when it is not installed."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


class TestMatplotlibFiles:
    def test_legend_keeps_underscore_labels_and_says_same_as(self) -> None:
        """`catalog-etl chart`'s legend lists a line whose label starts with "_" (matplotlib
        drops such labels from a legend it builds itself) and names equal lines."""
        # matplotlib comes with the dev extra: this test runs in CI, never skipped.
        fig = charts.figure([*TWINS, series("_private/b", "prompt", (0, Decimal("0.000001")))])
        (legend,) = [ax.get_legend() for ax in fig.axes]
        assert legend is not None
        assert [text.get_text() for text in legend.get_texts()] == [
            "acme/a prompt",
            "acme/a completion (same as acme/a prompt)",
            "acme/a input_cache_read",
            "_private/b prompt",
        ]
        styles = {(line.get_color(), line.get_marker()) for line in fig.axes[0].get_lines()}
        assert len(styles) == 4


@pytest.fixture
def connection(history_engine: Engine) -> Iterator[Connection]:
    with history_engine.connect() as connection:
        yield connection


class TestReportCharts:
    def test_charts_come_before_the_first_table(self, connection: Connection) -> None:
        """The HTML report opens with the charts, the biggest mover first, then the tables."""
        page = report.render(report.build(connection, SINCE, UNTIL, Filters()), "html")
        assert page.count("<svg") == report.DEFAULT_CHARTS
        assert page.index('<section id="charts">') < page.index("<table")
        assert page.split("<figcaption>")[1].startswith(f"{BIGGEST_MOVER} (")
        assert report.CHARTS_LINE in page

    def test_without_matplotlib_the_report_draws_every_chart(
        self, connection: Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A base install (matplotlib's import fails) draws the same page, charts included."""
        document = report.build(connection, SINCE, UNTIL, Filters(), max_charts=3)
        with_matplotlib = report.render(document, "html")
        block_matplotlib(monkeypatch)
        page = report.render(document, "html")
        assert page == with_matplotlib and page.count("<svg") == 3
        assert "pip install" not in page and "left out" not in page

    def test_left_out_charts_say_why_and_count_nothing(self, connection: Connection) -> None:
        """With --charts 0 the page says the charts were left out and why; Markdown, which
        cannot hold charts, says so instead of counting charts it does not have."""
        document = report.build(connection, SINCE, UNTIL, Filters(), max_charts=0)
        page = report.render(document, "html")
        assert "<svg" not in page and report.LEFT_OUT in page
        assert report.LEFT_OUT in report.render(document, "markdown")
        text = report.render(report.build(connection, SINCE, UNTIL, Filters()), "markdown")
        (note,) = [line for line in text.splitlines() if "Price charts" in line]
        assert report.MARKDOWN_NOTE in note and not any(char.isdigit() for char in note)


def test_report_command_in_a_base_install(history_url: str, tmp_path: Path) -> None:
    """`catalog-etl report` in a process where matplotlib cannot be imported writes the
    HTML report with its charts, and its line counts the charts it drew."""
    out = tmp_path / "report.html"
    argv = ["catalog-etl", "report", "--since", "2026-03-01", "--until", "2026-03-05T12:00:00Z"]
    argv += ["--charts", "5", "--out", str(out), "--database-url", history_url]
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        f"sys.argv = {argv!r}; from etl.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    page = out.read_text("utf-8")
    assert page.count("<svg") == 5 and "pip install" not in page
    assert done.stdout.rstrip().endswith(", 5 charts)"), done.stdout
