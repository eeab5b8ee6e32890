"""The report layer on a small real history: net differences, events, timelines, price
tables and series, and every output format pinned on the same data, on both backends."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from etl.ingest.money import DYNAMIC
from etl.pipeline import sync_bytes
from etl.read.change_events import change_events
from etl.read.history import ModelNotFound, find_model, model_history, price_series
from etl.read.net_changes import diff_report, net_changes
from etl.read.prices import price_table
from etl.read.queries import Filters
from etl.read.units import change_percent, per_million, percent_text, price_value_text, unit
from etl.reports import charts, csv_out, html, markdown, report
from etl.reports.change_document import change_document
from etl.reports.history_document import history_document
from etl.reports.price_document import price_document
from etl.reports.terminal import document as print_document
from etl.times import parse_time
from tests.helpers import make_model, payload
from tests.reports_helpers import SINCE, UNTIL

QWEN = "qwen/qwen3.5-35b-a3b"
OLMO = "allenai/olmo-3.1-32b-think"
TRINITY = "arcee-ai/trinity-mini"
NARROW = Filters(models=(QWEN, "allenai/olmo-3.1*"))


@pytest.fixture
def connection(history_engine: Engine) -> Iterator[Connection]:
    with history_engine.connect() as connection:
        yield connection


def models(items: object) -> list[str]:
    return [item.model for item in items]  # type: ignore[attr-defined]


class TestUnits:
    def test_token_components_are_shown_per_million(self) -> None:
        """Per 1M tokens is an exact exponent shift, for token components only."""
        assert per_million(Decimal("0.00000008333333333333334"), "prompt") == Decimal(
            "0.08333333333333334"
        )
        assert per_million(Decimal("0.0000025"), "input_cache_read") == Decimal("2.5")
        assert per_million(Decimal("0.005"), "web_search") is None
        assert per_million(DYNAMIC, "prompt") is None
        assert (unit("request"), unit("image"), unit("web_search"), unit("new_thing")) == (
            "request",
            "image",
            "search",
            "unit",
        )

    def test_percent_is_exact_until_shown(self) -> None:
        """The change is a Decimal (28 digits), rounded half up to two places only as text."""
        third = change_percent(Decimal("0.000003"), Decimal("0.000004"))
        assert third == Decimal(100) / 3
        assert percent_text(third) == "33.33"
        assert percent_text(change_percent(Decimal("0.000008"), Decimal("0.000001"))) == "-87.5"
        assert percent_text(Decimal("0.005")) == "0.01"
        assert change_percent(Decimal(0), Decimal("0.000001")) is None
        assert change_percent(Decimal("0.000001"), DYNAMIC) is None
        assert change_percent(None, Decimal("0.000001")) is None


class TestNetChanges:
    def test_sections(self, connection: Connection) -> None:
        """Added, removed and returned are told apart; a model gone and back inside the window
        is no net change."""
        result = net_changes(connection, SINCE, UNTIL)
        assert models(result.added) == [
            "google/gemini-3.1-flash-lite-preview",
            "openai/gpt-5.3-chat",
            "upstage/solar-pro-3",
        ]
        assert models(result.removed) == [
            "mistralai/mistral-7b-instruct",
            "mistralai/mistral-7b-instruct-v0.3",
            "opengvlab/internvl3-78b",
            "upstage/solar-pro-3:free",
        ]
        assert models(result.returned) == [OLMO]
        everything = models(result.added) + models(result.removed) + models(result.returned)
        assert TRINITY not in everything
        assert result.summary() == {
            "added": 3,
            "removed": 4,
            "returned": 1,
            "repriced_models": 20,
            "price_changes": 48,
            "price_cuts": 36,
            "price_increases": 12,
            "rounding_noise": 0,
            "capability_changes": 41,
            "other_changes": 7,
        }

    def test_price_change_per_unit_per_million_and_percent(self, connection: Connection) -> None:
        """A price change carries exact per-unit values, per-1M values and the percentage."""
        result = net_changes(connection, SINCE, UNTIL, Filters(models=(QWEN,)))
        assert [change.to_json() for change in result.price_changes] == [
            {
                "provider": "openrouter",
                "model": QWEN,
                "component": component,
                "old": old,
                "new": new,
                "vendor": "qwen",
                "name": "Qwen: Qwen3.5-35B-A3B",
                "unit": "token",
                "old_per_million": old_million,
                "new_per_million": new_million,
                "change_percent": "-35",
            }
            for component, old, new, old_million, new_million in (
                ("prompt", "0.00000025", "0.0000001625", "0.25", "0.1625"),
                ("completion", "0.000002", "0.0000013", "2", "1.3"),
            )
        ]

    def test_biggest_movers_first(self, connection: Connection) -> None:
        """`movers` orders finite changes by their size, then changes from 0."""
        changes = net_changes(connection, SINCE, UNTIL, sort="movers").price_changes
        assert [(c.model, c.component) for c in changes[:2]] == [
            ("meta-llama/llama-3.2-3b-instruct", "completion"),
            ("meta-llama/llama-3.2-3b-instruct", "prompt"),
        ]
        sizes = [abs(c.percent) for c in changes if c.percent is not None]
        assert sizes == sorted(sizes, reverse=True)
        assert all(c.percent is None for c in changes[len(sizes) :])
        assert changes[-1].old == 0 and changes[-1].component == "input_cache_read"

    def test_filters(self, connection: Connection) -> None:
        """Vendor, model glob, category and component narrow the report."""
        by_vendor = net_changes(connection, SINCE, UNTIL, Filters(vendors=("MISTRALAI",)))
        assert models(by_vendor.removed) == [
            "mistralai/mistral-7b-instruct",
            "mistralai/mistral-7b-instruct-v0.3",
        ]
        assert not by_vendor.added and not by_vendor.price_changes
        by_glob = net_changes(connection, SINCE, UNTIL, Filters(models=("*:free",)))
        assert models(by_glob.removed) == ["upstage/solar-pro-3:free"]
        by_component = net_changes(connection, SINCE, UNTIL, Filters(components=("prompt",)))
        assert {c.component for c in by_component.price_changes} == {"prompt"}
        assert len(by_component.added) == 3
        images = net_changes(connection, SINCE, UNTIL, Filters(categories=("image",)))
        assert "google/gemini-3.1-flash-image-preview" in models(images.price_changes)
        assert QWEN not in models(images.price_changes)

    def test_compact_document_is_diff_report(self, connection: Connection) -> None:
        """`diff_report` is the compact projection of the same result."""
        compact = diff_report(connection, SINCE, UNTIL)
        assert compact == net_changes(connection, SINCE, UNTIL).to_json(compact=True)
        assert compact["returned"] == [{"provider": "openrouter", "model": OLMO}]
        assert set(compact["price_changes"][0]) == {"provider", "model", "component", "old", "new"}


class TestEvents:
    def test_every_change_with_its_time(self, connection: Connection) -> None:
        """Events list each removal and return, and every price change, with its time."""
        result = change_events(connection, SINCE, UNTIL, Filters(models=(TRINITY, QWEN)))
        assert [(c.kind, c.model, c.at) for c in (*result.removed, *result.returned)] == [
            ("removed", TRINITY, parse_time("2026-03-03T01:05:30Z")),
            ("returned", TRINITY, parse_time("2026-03-04T01:02:00Z")),
        ]
        assert [
            (c.component, price_value_text(c.old), price_value_text(c.new), c.at)
            for c in result.price_changes
        ] == [
            ("completion", "0.000002", "0.000001", parse_time("2026-03-03T01:05:30Z")),
            ("prompt", "0.00000025", "0.0000001625", parse_time("2026-03-04T01:02:00Z")),
            ("completion", "0.000001", "0.0000013", parse_time("2026-03-04T01:02:00Z")),
        ]

    def test_components_appearing_and_dropping_to_zero(self, connection: Connection) -> None:
        """A component a priced model starts or stops listing changes from or to 0."""
        result = change_events(connection, SINCE, UNTIL, Filters(components=("input_cache_read",)))
        changes = {c.model: (c.old, c.new) for c in result.price_changes}
        assert changes["inception/mercury"] == (Decimal(0), Decimal("0.000000025"))
        assert changes["qwen/qwen3.5-397b-a17b"] == (Decimal("0.00000055"), Decimal(0))

    def test_new_models_first_prices_are_not_price_changes(self, connection: Connection) -> None:
        """A model's first prices belong to its `added` entry."""
        result = change_events(connection, SINCE, UNTIL)
        added = set(models(result.added))
        assert added == {
            "upstage/solar-pro-3",
            "google/gemini-3.1-flash-lite-preview",
            "openai/gpt-5.3-chat",
        }
        assert not added & set(models(result.price_changes))

    def test_events_compose_to_the_net_difference(self, connection: Connection) -> None:
        """Chaining each component's events gives the net price change, and nothing else."""
        net = net_changes(connection, SINCE, UNTIL)
        events = change_events(connection, SINCE, UNTIL, sort="time")
        chained: dict[tuple[str, str], list[object]] = {}
        for change in events.price_changes:
            key = (change.model, change.component)
            chained.setdefault(key, [change.old, change.new])[1] = change.new
        common = set(models(net.price_changes)) | {
            model for model, _ in chained if model not in models(events.added)
        }
        composed = {
            key: (old, new)
            for key, (old, new) in chained.items()
            if old != new and key[0] in common
        }
        assert composed == {(c.model, c.component): (c.old, c.new) for c in net.price_changes}


class TestHistory:
    def test_timeline_of_a_repriced_model(self, connection: Connection) -> None:
        """Versions say what changed; price changes come with time and percent."""
        timeline = model_history(connection, QWEN)
        assert [v.version for v in timeline.versions] == [1, 2, 3]
        assert [[c.field for c in v.changes] for v in timeline.versions] == [
            [],
            ["max_completion_tokens", "supported_parameters"],
            ["max_completion_tokens", "supported_parameters"],
        ]
        document = timeline.to_json()
        assert [c["change_percent"] for c in document["price_changes"]] == ["-50", "-35", "30"]
        assert [(p["component"], p["price"], p["valid_to"]) for p in document["prices"]] == [
            ("prompt", "0.00000025", "2026-03-04T01:02:00Z"),
            ("prompt", "0.0000001625", None),
            ("completion", "0.000002", "2026-03-03T01:05:30Z"),
            ("completion", "0.000001", "2026-03-04T01:02:00Z"),
            ("completion", "0.0000013", None),
        ]

    def test_availability_intervals(self, connection: Connection) -> None:
        """A model that left and came back has two intervals."""
        document = model_history(connection, OLMO).to_json()
        assert document["availability"] == [
            {
                "from": "2026-02-27T23:49:02Z",
                "until": "2026-02-27T23:54:12Z",
                "last_seen_at": "2026-02-27T23:49:02Z",
            },
            {"from": "2026-03-03T01:05:30Z", "until": None, "last_seen_at": None},
        ]

    def test_unknown_model_suggests_close_ids(self, connection: Connection) -> None:
        """A typo is refused with the ids it probably meant."""
        with pytest.raises(ModelNotFound, match=r"did you mean .*qwen/qwen3.5-35b-a3b"):
            find_model(connection, "qwen/qwen3.5-35b-a3")


class TestPriceTable:
    def test_sorted_by_a_component(self, connection: Connection) -> None:
        """Cheapest first by the chosen component, dynamic pricing last."""
        table = price_table(connection, UNTIL, sort="prompt")
        prompts = [entry.price("prompt") for entry in table.rows]
        amounts = [p for p in prompts if isinstance(p, Decimal)]
        assert amounts == sorted(amounts)
        assert prompts[len(amounts) :] == [DYNAMIC] * (len(prompts) - len(amounts))
        assert table.components == ("prompt", "completion")

    def test_filters_columns_and_limit(self, connection: Connection) -> None:
        """--component picks the columns; --min-context and --limit narrow the rows."""
        table = price_table(
            connection,
            UNTIL,
            Filters(models=("qwen/qwen3.5-*",), components=("prompt", "request")),
            sort="prompt",
            min_context=500_000,
        )
        document = table.to_json()
        assert [m["model"] for m in document["models"]] == [
            "qwen/qwen3.5-flash-02-23",
            "qwen/qwen3.5-plus-02-15",
        ]
        assert document["models"][0]["prices"] == {"prompt": "0.0000001", "request": "0"}
        assert document["models"][0]["per_million"] == {"prompt": "0.1", "request": None}
        assert len(price_table(connection, UNTIL, limit=3).rows) == 3

    def test_as_of_a_past_time(self, connection: Connection) -> None:
        """The table as of a past time shows the prices then."""
        before = price_table(connection, SINCE, Filters(models=(QWEN,)))
        assert [e.price("completion") for e in before.rows] == [Decimal("0.000002")]


class TestPriceSeries:
    def test_steps_of_one_component(self, connection: Connection) -> None:
        """A series is the value from each change on, up to the latest observation."""
        (series,) = price_series(connection, [find_model(connection, QWEN)], ["completion"])
        assert [(t.isoformat(), price_value_text(v)) for t, v in series.points] == [
            ("2026-02-27T23:49:02+00:00", "0.000002"),
            ("2026-03-03T01:05:30+00:00", "0.000001"),
            ("2026-03-04T01:02:00+00:00", "0.0000013"),
        ]
        assert series.end == parse_time("2026-03-05T01:03:57Z")

    def test_gap_while_not_listed(self, connection: Connection) -> None:
        """While a model is not listed its series has no value."""
        (series,) = price_series(connection, [find_model(connection, OLMO)], ["prompt"])
        assert [v for _, v in series.points] == [Decimal("0.00000015"), None, Decimal("0.00000015")]


NARROW_MARKDOWN = """\
# Model catalog changes

From 2026-03-01 00:00 (observed 2026-02-27 23:54) to 2026-03-05 12:00 (observed 2026-03-05 01:03), UTC.
Every change observed in the window, with its time.
Sorted by time. Prices in USD: per unit as stored, and per 1M tokens for token prices.
Filtered to model qwen/qwen3.5-35b-a3b, allenai/olmo-3.1\\*.

**0** added · **0** removed · **1** returned · **1** models repriced · **2** price cuts · **1** price increases · **4** capability changes · **0** other changes

## Added (0)

_None._

## Removed (0)

_None._

## Returned (1)

| at | model | name | context | prompt USD/1M | completion USD/1M |
|---|---|---|---:|---:|---:|
| 2026-03-03 01:05 | `allenai/olmo-3.1-32b-think` | AllenAI: Olmo 3.1 32B Think | 65536 | 0.15 | 0.5 |

## Price changes (3)

| at | model | component | old | new | old per 1M/unit | new per 1M/unit | change |
|---|---|---|---:|---:|---:|---:|---:|
| 2026-03-03 01:05 | `qwen/qwen3.5-35b-a3b` | `completion` | 0.000002 | 0.000001 | 2 | 1 | **−50%** |
| 2026-03-04 01:02 | `qwen/qwen3.5-35b-a3b` | `prompt` | 0.00000025 | 0.0000001625 | 0.25 | 0.1625 | **−35%** |
| 2026-03-04 01:02 | `qwen/qwen3.5-35b-a3b` | `completion` | 0.000001 | 0.0000013 | 1 | 1.3 | **+30%** |

## Capability changes (4)

| at | model | field | change |
|---|---|---|---|
| 2026-03-03 01:05 | `qwen/qwen3.5-35b-a3b` | `max_completion_tokens` | 65536 → 262144 |
| 2026-03-03 01:05 | `qwen/qwen3.5-35b-a3b` | `supported_parameters` | +frequency\\_penalty, +logit\\_bias, +repetition\\_penalty, +stop, +top\\_k |
| 2026-03-04 01:02 | `qwen/qwen3.5-35b-a3b` | `max_completion_tokens` | 262144 → 65536 |
| 2026-03-04 01:02 | `qwen/qwen3.5-35b-a3b` | `supported_parameters` | +min\\_p |

## Other changes (0)

_None._
"""  # noqa: E501  (a Markdown document, pinned line for line)


class TestFormats:
    """Every format of one report, pinned: the same rows, however they are written."""

    @pytest.fixture
    def events(self, connection: Connection) -> object:
        return change_events(connection, SINCE, UNTIL, NARROW)

    def test_markdown(self, events: object) -> None:
        """Markdown: escaped text, code spans for ids, bold changes, one table per section."""
        assert markdown.render(change_document(events)) == NARROW_MARKDOWN  # type: ignore[arg-type]

    def test_json(self, events: object) -> None:
        """JSON: the sections with exact decimal text and times."""
        document = events.to_json()  # type: ignore[attr-defined]
        assert document["summary"]["price_changes"] == 3
        assert document["price_changes"][2] == {
            "provider": "openrouter",
            "model": QWEN,
            "component": "completion",
            "old": "0.000001",
            "new": "0.0000013",
            "at": "2026-03-04T01:02:00Z",
            "vendor": "qwen",
            "name": "Qwen: Qwen3.5-35B-A3B",
            "unit": "token",
            "old_per_million": "1",
            "new_per_million": "1.3",
            "change_percent": "30",
        }
        assert document["changes"][1]["added"] == [
            "frequency_penalty",
            "logit_bias",
            "repetition_penalty",
            "stop",
            "top_k",
        ]
        assert json.loads(json.dumps(document)) == document

    def test_csv(self, events: object) -> None:
        """CSV: one row per change, every value exact and whole."""
        rows = list(csv.DictReader(io.StringIO(csv_out.changes(events))))  # type: ignore[arg-type]
        assert [(r["section"], r["at"], r["component"] or r["field"]) for r in rows] == [
            ("returned", "2026-03-03T01:05:30Z", ""),
            ("price", "2026-03-03T01:05:30Z", "completion"),
            ("price", "2026-03-04T01:02:00Z", "prompt"),
            ("price", "2026-03-04T01:02:00Z", "completion"),
            ("capability", "2026-03-03T01:05:30Z", "max_completion_tokens"),
            ("capability", "2026-03-03T01:05:30Z", "supported_parameters"),
            ("capability", "2026-03-04T01:02:00Z", "max_completion_tokens"),
            ("capability", "2026-03-04T01:02:00Z", "supported_parameters"),
        ]
        assert rows[2] | {"name": ""} == {
            "section": "price",
            "at": "2026-03-04T01:02:00Z",
            "provider": "openrouter",
            "model": QWEN,
            "vendor": "qwen",
            "name": "",
            "component": "prompt",
            "field": "",
            "old": "0.00000025",
            "new": "0.0000001625",
            "unit": "token",
            "old_per_million": "0.25",
            "new_per_million": "0.1625",
            "change_percent": "-35",
            "context_length": "",
            "prompt_per_million": "",
            "completion_per_million": "",
            "pricing": "",
        }
        assert (rows[0]["context_length"], rows[0]["prompt_per_million"]) == ("65536", "0.15")
        assert json.loads(rows[-1]["new"])[0] == "frequency_penalty"

    def test_table(self, events: object) -> None:
        """The terminal shows the same sections as rich tables, empty ones left out."""
        from rich.console import Console

        console = Console(width=200, record=True, file=io.StringIO())
        print_document(console, change_document(events))  # type: ignore[arg-type]
        out = console.export_text()
        assert "returned (1)" in out and "price changes (3)" in out
        assert "added (0)" not in out
        assert "−50%" in out and "+30%" in out and "0.0000001625" in out

    def test_html(self, events: object) -> None:
        """HTML: one page with the summary cards and the same rows, tones as classes."""
        page = html.render(change_document(events))  # type: ignore[arg-type]
        assert page.startswith("<!DOCTYPE html>")
        assert '<li class="card"><b>3</b><span>price changes</span>' not in page
        assert '<li class="card"><b>1</b><span>returned</span></li>' in page
        assert '<td class="num increase">+30%</td>' in page
        assert '<td class="num cut">−50%</td>' in page
        assert "<code>allenai/olmo-3.1-32b-think</code>" in page
        assert page.count("<tr>") == 1 + 3 + 4 + 3  # header rows of 3 tables and 8 rows
        policy = f'<meta http-equiv="Content-Security-Policy" content="{escape(html.CSP)}">'
        assert policy in page and page.index(policy) < page.index("<style>")

    def test_history_and_prices_documents(self, connection: Connection) -> None:
        """`history` and `prices` use the same document layer."""
        timeline = markdown.render(history_document(model_history(connection, OLMO)))
        assert "| 2026-02-27 23:49 | 2026-02-27 23:54 | 2026-02-27 23:49 |" in timeline
        assert "| `completion` | 0.0000005 | 0.5 | 2026-02-27 23:49 | current |" in timeline
        table = price_table(connection, UNTIL, Filters(models=(QWEN,)))
        prices = markdown.render(price_document(table))
        assert (
            "| `qwen/qwen3.5-35b-a3b` | Qwen: Qwen3.5-35B-A3B | 262144 | 0.1625 | 1.3 |" in prices
        )


class TestReportFile:
    def test_html_report_is_self_contained(self, connection: Connection) -> None:
        """The report embeds its charts as SVG and loads nothing from anywhere."""
        document = report.build(connection, SINCE, UNTIL, NARROW)
        assert [chart.title for chart in document.charts] == [f"{QWEN} (Qwen: Qwen3.5-35B-A3B)"]
        page = report.render(document, "html")
        assert page.count("<svg") == 1 and "<script" not in page
        # References inside the page (url(#clip), href="#glyph") are fine; nothing else.
        assert not re.findall(r"""(?:src=|@import|<link|url\((?!#)|href="(?!#))""", page)
        # The only URLs are the SVG namespace names, which are never fetched (and the only
        # other "http" is the name of the attribute that carries the policy).
        leftover = (
            page.replace('xmlns="http://www.w3.org/2000/svg"', "")
            .replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
            .replace('<meta http-equiv="Content-Security-Policy"', "", 1)
        )
        assert "http" not in leftover
        # And the browser is told so: nothing but the page's own CSS, SVG and data: images.
        directives = dict(d.strip().split(" ", 1) for d in html.CSP.split(";"))
        assert directives == {
            "default-src": "'none'",
            "style-src": "'unsafe-inline'",
            "img-src": "data:",
            "base-uri": "'none'",
            "form-action": "'none'",
        }
        assert escape(html.CSP) in page

    def test_markdown_report_points_to_the_charts(self, connection: Connection) -> None:
        """Markdown cannot hold the charts; it says they are left out and where they are."""
        text = report.render(report.build(connection, SINCE, UNTIL, NARROW), "markdown")
        assert "> Price charts are left out of Markdown, which cannot hold them: write" in text
        assert text.startswith("# Model catalog changes\n")

    def test_without_matplotlib_the_report_has_its_charts(
        self, connection: Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No matplotlib: the HTML report still draws its charts (tests/test_charts.py
        makes the import itself fail)."""
        monkeypatch.setattr(charts, "available", lambda: False)
        page = report.render(report.build(connection, SINCE, UNTIL, NARROW), "html")
        assert page.count("<svg") == 1 and "pip install" not in page

    def test_chart_files(self, connection: Connection, tmp_path: Path) -> None:
        """`chart` writes SVG or PNG, and refuses other suffixes."""
        series = price_series(connection, [find_model(connection, QWEN)], ["prompt", "completion"])
        charts.save(series, tmp_path / "prices.svg")
        charts.save(series, tmp_path / "prices.png")
        assert (tmp_path / "prices.svg").read_text().count("<svg") == 1
        assert (tmp_path / "prices.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(ValueError, match=r"use \.svg or \.png"):
            charts.save(series, tmp_path / "prices.pdf")


class TestHostileAndUnpricedModels:
    """Built from small payloads: what real captures do not hold."""

    HOSTILE = "<script>alert('x')</script> & <b>bold</b> | pipe"

    @pytest.fixture
    def synced(self, engine: Engine) -> Engine:
        def sync(models: list[dict[str, object]], day: str) -> None:
            result = sync_bytes(engine, payload(models), observed_at=parse_time(day))
            assert result.ok, result.error

        unpriced = make_model("acme/unpriced")
        del unpriced["pricing"]
        sync([make_model("acme/plain"), unpriced], "2026-01-01")
        sync(
            [
                make_model("acme/plain", name=self.HOSTILE, description=self.HOSTILE),
                make_model("acme/unpriced", pricing={"prompt": "0.000001"}),
                make_model("acme/new", name=self.HOSTILE),
            ],
            "2026-01-02",
        )
        return engine

    def test_html_shows_markup_as_text(self, synced: Engine) -> None:
        """A `<script>` in a name or description is escaped wherever it appears."""
        with synced.connect() as connection:
            result = net_changes(connection, parse_time("2026-01-01"), parse_time("2026-01-03"))
        page = html.render(change_document(result))
        assert "<script" not in page and "<b>bold" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold" in page

    def test_markdown_escapes_markup(self, synced: Engine) -> None:
        """Markdown escapes what would start markup or end a table cell."""
        with synced.connect() as connection:
            result = net_changes(connection, parse_time("2026-01-01"), parse_time("2026-01-03"))
        text = markdown.render(change_document(result))
        assert "\\<script\\>" in text and "\\| pipe" in text
        assert not re.search(r"(?<!\\)[<>]", text)  # every angle bracket is escaped

    def test_unpriced_to_priced(self, synced: Engine) -> None:
        """An unpriced model that gets a price changes from null (not from 0), in the net
        difference and in the events, and reads "unpriced" in tables."""
        with synced.connect() as connection:
            net = net_changes(connection, parse_time("2026-01-01"), parse_time("2026-01-03"))
            events = change_events(connection, parse_time("2026-01-01"), parse_time("2026-01-03"))
        for result in (net, events):
            (change,) = [c for c in result.price_changes if c.model == "acme/unpriced"]
            assert (change.old, change.new, change.percent) == (None, Decimal("0.000001"), None)
        assert "| `acme/unpriced` | `prompt` | unpriced | 0.000001 | unpriced | 1 |  |" in (
            markdown.render(change_document(net))
        )
