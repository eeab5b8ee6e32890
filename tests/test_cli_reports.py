"""The report commands end to end: diff's formats and filters, history, prices, report,
chart, their errors, and the HTML report rendered by a real headless browser."""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.reports import charts, html
from tests.chromium import chromium, open_page, render_in_chromium
from tests.test_charts import block_matplotlib

WINDOW = ("--since", "2026-03-01", "--until", "2026-03-05T12:00:00Z")
QWEN = "qwen/qwen3.5-35b-a3b"


@pytest.fixture
def url(history_url: str) -> str:
    return history_url


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


class TestDiff:
    def test_every_format(self, url: str) -> None:
        """Each format prints the same changes in its own syntax."""
        base = ("diff", *WINDOW, "--model", QWEN, "--database-url", url, "--format")
        document = json.loads(run(*base, "json"))
        assert [c["change_percent"] for c in document["price_changes"]] == ["-35", "-35"]
        rows = list(csv.DictReader(io.StringIO(run(*base, "csv"))))
        assert [(r["section"], r["component"] or r["field"]) for r in rows] == [
            ("price", "prompt"),
            ("price", "completion"),
            ("capability", "supported_parameters"),
        ]
        assert "| `qwen/qwen3.5-35b-a3b` | `completion` | 0.000002 | 0.0000013 |" in run(
            *base, "markdown"
        )
        page = run(*base, "html")
        assert page.startswith("<!DOCTYPE html>") and "0.0000001625" in page
        table = run(*base, "table")
        assert "price changes (2)" in table and "capability changes (1)" in table

    def test_events_and_movers(self, url: str) -> None:
        """--events lists each step with its time; --sort movers puts the biggest first."""
        events = json.loads(
            run(
                "diff",
                *WINDOW,
                "--model",
                QWEN,
                "--events",
                "--database-url",
                url,
                "--format",
                "json",
            )
        )
        assert [(c["at"], c["component"]) for c in events["price_changes"]] == [
            ("2026-03-03T01:05:30Z", "completion"),
            ("2026-03-04T01:02:00Z", "prompt"),
            ("2026-03-04T01:02:00Z", "completion"),
        ]
        movers = json.loads(
            run("diff", *WINDOW, "--sort", "movers", "--database-url", url, "--format", "json")
        )
        assert movers["price_changes"][0]["change_percent"] == "1600"

    def test_relative_times_and_filters(self, url: str) -> None:
        """Ages such as 30d are accepted; filters narrow, and are echoed in the JSON."""
        document = json.loads(
            run(
                "diff",
                "--since",
                "3650d",
                "--vendor",
                "mistralai",
                "--component",
                "prompt",
                "--category",
                "text",
                "--database-url",
                url,
                "--format",
                "json",
            )
        )
        assert document["filters"] == {
            "vendor": ["mistralai"],
            "model": [],
            "category": ["text"],
            "component": ["prompt"],
        }
        assert {item["model"].split("/")[0] for item in document["added"]} == {"mistralai"}

    def test_bad_sort_is_a_usage_error(self, url: str) -> None:
        """An unknown --sort or --format is refused with exit code 2."""
        run("diff", *WINDOW, "--sort", "cheapest", "--database-url", url, expect=2)
        run("diff", *WINDOW, "--format", "xml", "--database-url", url, expect=2)


class TestHistoryAndPrices:
    def test_history(self, url: str) -> None:
        """`history` shows the versions and the price changes of one model."""
        out = run("history", QWEN, "--database-url", url, "--format", "markdown")
        assert "## Versions (3)" in out and "## Price changes (3)" in out
        assert "| 2026-03-03 01:05 | `completion` | 0.000002 | 0.000001 | 2 | 1 | **−50%** |" in out
        document = json.loads(run("history", QWEN, "--database-url", url, "--format", "json"))
        assert document["model"] == QWEN and len(document["versions"]) == 3

    def test_history_html_has_a_chart(self, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """The HTML timeline embeds the price chart, matplotlib installed or not."""
        page = run("history", QWEN, "--database-url", url, "--format", "html")
        assert page.count("<svg") == 1 and "Price charts" in page
        block_matplotlib(monkeypatch)
        assert run("history", QWEN, "--database-url", url, "--format", "html") == page

    def test_unknown_model(self, url: str) -> None:
        """An unknown id exits 1 with close matches."""
        out = run("history", "qwen/qwen3.5-35b", "--database-url", url, expect=1)
        assert "no model 'qwen/qwen3.5-35b'" in out and QWEN in out

    def test_prices(self, url: str) -> None:
        """`prices` sorts by a component per 1M tokens and honours the limit and filters."""
        out = run(
            "prices",
            "--as-of",
            "2026-03-05T12:00:00Z",
            "--model",
            "qwen/qwen3.5-*",
            "--sort",
            "prompt",
            "--min-context",
            "500000",
            "--limit",
            "1",
            "--database-url",
            url,
            "--format",
            "csv",
        )
        assert out.splitlines() == [
            "provider,model,vendor,name,context_length,prompt,prompt_per_million,completion,"
            "completion_per_million",
            "openrouter,qwen/qwen3.5-flash-02-23,qwen,Qwen: Qwen3.5-Flash,1000000,0.0000001,0.1,"
            "0.0000004,0.4",
        ]


class TestReportAndChart:
    def test_report_files(self, url: str, tmp_path: Path) -> None:
        """`report` writes HTML with charts, or Markdown, and says what it wrote."""
        out = run(*("report", *WINDOW), "--out", str(tmp_path / "r.html"), "--database-url", url)
        assert "models repriced" in out and "12 charts" in out
        page = (tmp_path / "r.html").read_text()
        assert page.count("<svg") == 12
        run(*("report", *WINDOW), "--out", str(tmp_path / "r.md"), "--database-url", url)
        assert (tmp_path / "r.md").read_text().startswith("# Model catalog changes")

    def test_report_needs_a_known_suffix(self, url: str, tmp_path: Path) -> None:
        """A report file other than .html or .md is a usage error."""
        out = run(
            *("report", *WINDOW), "--out", str(tmp_path / "r.pdf"), "--database-url", url, expect=2
        )
        assert "use .html or .md" in out

    def test_chart(self, url: str, tmp_path: Path) -> None:
        """`chart` draws several models into one SVG or PNG."""
        out = run(
            "chart", QWEN, "z-ai/glm-5", "--out", str(tmp_path / "c.png"), "--database-url", url
        )
        assert "4 price lines" in out
        assert (tmp_path / "c.png").stat().st_size > 10_000

    def test_chart_without_matplotlib(
        self, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without matplotlib, `chart` fails with one line saying how to get it."""
        monkeypatch.setattr(charts, "available", lambda: False)
        out = run("chart", QWEN, "--out", str(tmp_path / "c.svg"), "--database-url", url, expect=1)
        assert "charts need matplotlib: pip install 'catalog-etl[charts]'" in out


def near(pixel: tuple[int, int, int], colour: str, tolerance: int = 40) -> bool:
    """Whether ``pixel`` is close to ``colour`` (``#rrggbb``): antialiasing blends edges."""
    wanted = bytes.fromhex(colour[1:])
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, wanted, strict=True))


class TestBrowser:
    def test_html_report_renders_in_chromium(self, url: str, tmp_path: Path) -> None:
        """Headless Chromium opens the self-contained report offline and draws it, under
        its Content-Security-Policy: the inline CSS and SVG charts render, nothing is
        blocked; a script slipped into the page would be."""
        browser = chromium()
        report = tmp_path / "report.html"
        run(*("report", *WINDOW), "--charts", "4", "--out", str(report), "--database-url", url)
        page = report.read_text("utf-8")
        assert f'<meta http-equiv="Content-Security-Policy" content="{escape(html.CSP)}">' in page
        png, log = render_in_chromium(browser, report, tmp_path)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # A blank page compresses to a few kilobytes; tables and charts do not.
        assert len(png) > 50_000
        assert "Content Security Policy" not in log, log
        # Pixel for pixel what the page draws without the policy: it blocks nothing it uses.
        unguarded = tmp_path / "unguarded.html"
        unguarded.write_text(page.replace(f'content="{escape(html.CSP)}"', 'content=""'))
        assert render_in_chromium(browser, unguarded, tmp_path)[0] == png
        # The policy is in force: the same page with a script in it has the script refused.
        probe = tmp_path / "probe.html"
        probe.write_text(page.replace("</main>", "<script>document.title='ran'</script></main>"))
        _, log = render_in_chromium(browser, probe, tmp_path)
        assert "violates the following Content Security Policy directive" in log, log

    def test_charts_come_first_and_equal_prices_show_both_lines(
        self, url: str, tmp_path: Path
    ) -> None:
        """In the drawn page the charts sit above the first change table, the biggest mover
        first; where two lines of a chart hold the same price (Llama 3.2 3B's prompt and
        completion, both 0.02 per 1M tokens until 03-03) both colours are on screen."""
        browser = chromium()
        report = tmp_path / "report.html"
        run(*("report", *WINDOW), "--charts", "4", "--out", str(report), "--database-url", url)
        page = report.read_text("utf-8")
        first = page[page.index("<figure>") : page.index("</figure>")]
        assert "<figcaption>meta-llama/llama-3.2-3b-instruct (" in first
        # The premise: the chart's two lines start with the same stretch at the same height.
        lines = re.findall(r'<path class="line" d="(M[\d.]+ [\d.]+H[\d.]+)', first)
        assert len(lines) == 2 and lines[0] == lines[1], lines
        colours = re.findall(
            r'<path class="line" d="[^"]*" fill="none" stroke="(#[0-9a-f]{6})"', first
        )
        with open_page(browser, report.as_uri(), tmp_path / "profile") as shown:
            figures, tables = shown.boxes("#charts figure"), shown.boxes("table")
            assert len(figures) == 4 and tables
            assert figures[0][3] < tables[0][1]  # the first chart ends above the first table
            assert all(figure[3] < tables[0][1] for figure in figures)
            plot = shown.boxes("#charts figure svg rect.plot")[0]
            # From past the first markers to 40% of the window, before either price moved:
            # only the two lines, one over the other.
            left, top, right, bottom = plot
            pixels = shown.pixels((left + 12, top, left + 0.4 * (right - left), bottom - 1))
        counts = [sum(near(pixel, colour) for pixel in pixels) for colour in colours]
        assert colours[0] != colours[1] and min(counts) > 50, (colours, counts)
