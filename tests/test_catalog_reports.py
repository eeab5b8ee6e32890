"""Every read command and `status` over a database of several catalogs, on SQLite and
PostgreSQL: `--catalog` narrows each to one catalog, unfiltered output names each row's
catalog, times that belong to a catalog are its own, and a database of one catalog reads as
it always did."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, update

from etl.cli import cli
from etl.cli.status import status
from etl.db.tables import catalogs_table, sync_runs_table
from etl.notify.digest import digest_message
from etl.notify.subscriptions import from_urls
from etl.pipeline import sync_bytes
from etl.read.catalogs import catalog_scope
from etl.read.history import find_models, price_series
from etl.read.run_changes import run_changes
from etl.times import iso, utcnow
from tests.helpers import make_model, payload

T0 = datetime(2026, 3, 1, tzinfo=UTC)
GPT = "openai/gpt-4o"


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def model(model_id: str, prompt: str) -> dict[str, Any]:
    return make_model(model_id, pricing={"prompt": prompt, "completion": "0.000002"})


def alpha(engine: Engine) -> None:
    """Catalog alpha: gpt-4o at 1 then 2 USD per 1M prompt tokens (days 1 and 3), and a
    model only alpha lists."""
    sync_bytes(
        engine,
        payload([model(GPT, "0.000001"), model("acme/alpha-only", "0.000001")]),
        observed_at=day(1),
        catalog="alpha",
    )
    sync_bytes(
        engine,
        payload([model(GPT, "0.000002"), model("acme/alpha-only", "0.000001")]),
        observed_at=day(3),
        catalog="alpha",
    )


def two_catalogs(engine: Engine) -> None:
    """Alpha, and beta with the same provider and model at other prices and times: 5 USD
    on day 2, 4 USD and a new model on day 4."""
    alpha(engine)
    sync_bytes(engine, payload([model(GPT, "0.000005")]), observed_at=day(2), catalog="beta")
    sync_bytes(
        engine,
        payload([model(GPT, "0.000004"), model("acme/beta-new", "0.000003")]),
        observed_at=day(4),
        catalog="beta",
    )


def run(database_url: str, *args: str, expect: int = 0) -> Result:
    result = CliRunner().invoke(cli, [*args, "--database-url", database_url])
    assert result.exit_code == expect, result.output
    return result


def run_json(database_url: str, *args: str, expect: int = 0) -> Any:
    return json.loads(run(database_url, *args, "--format", "json", expect=expect).stdout)


def run_status(database_url: str, *args: str, expect: int) -> Result:
    """`catalog-etl status` (its command, whichever module the group maps it to)."""
    result = CliRunner().invoke(status, [*args, "--database-url", database_url])
    assert result.exit_code == expect, result.output
    return result


def identities(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(row.get("catalog"), row["model"]) for row in rows]


class TestModelsAndPrices:
    def test_each_catalog_alone(self, engine: Engine, database_url: str) -> None:
        """`--catalog` shows that catalog's models at its own prices, as of its own latest
        observation, and rows do not repeat the catalog chosen."""
        two_catalogs(engine)
        report = run_json(database_url, "models", "--catalog", "alpha")
        assert identities(report["models"]) == [(None, "acme/alpha-only"), (None, GPT)]
        assert report["models"][1]["pricing"]["prompt"] == "0.000002"
        assert report["observed_at"] == iso(day(3))
        assert report["catalogs"] == [{"name": "alpha", "observed_at": iso(day(3))}]
        table = run_json(database_url, "prices", "--catalog", "beta")
        assert identities(table["models"]) == [(None, "acme/beta-new"), (None, GPT)]
        assert table["models"][1]["per_million"]["prompt"] == "4"
        assert table["observed_at"] == iso(day(4))

    def test_as_of_a_time_between_the_catalogs_syncs(
        self, engine: Engine, database_url: str
    ) -> None:
        """As of day 2.5 each catalog is at its own latest observation (alpha day 1, beta
        day 2), and each names it."""
        two_catalogs(engine)
        moment = iso(day(2) + timedelta(hours=12))
        report = run_json(database_url, "models", "--as-of", moment)
        prices = {(m["catalog"], m["model"]): m["pricing"]["prompt"] for m in report["models"]}
        assert prices == {
            ("alpha", "acme/alpha-only"): "0.000001",
            ("alpha", GPT): "0.000001",
            ("beta", GPT): "0.000005",
        }
        assert report["catalogs"] == [
            {"name": "alpha", "observed_at": iso(day(1))},
            {"name": "beta", "observed_at": iso(day(2))},
        ]

    def test_unfiltered_rows_name_their_catalog(self, engine: Engine, database_url: str) -> None:
        """Without --catalog, the same provider and model in two catalogs are two rows,
        each naming its catalog: in JSON, CSV, the table and Markdown."""
        two_catalogs(engine)
        table = run_json(database_url, "prices")
        assert identities(table["models"]) == [
            ("alpha", "acme/alpha-only"),
            ("alpha", GPT),
            ("beta", "acme/beta-new"),
            ("beta", GPT),
        ]
        assert [m["per_million"]["prompt"] for m in table["models"]] == ["1", "2", "3", "4"]
        rows = list(
            csv.DictReader(io.StringIO(run(database_url, "prices", "--format", "csv").stdout))
        )
        assert [(r["catalog"], r["model"], r["prompt_per_million"]) for r in rows][-1] == (
            "beta",
            GPT,
            "4",
        )
        markdown = run(database_url, "prices", "--format", "markdown").stdout
        assert "catalog beta observed 2026-03-05 00:00" in markdown
        assert "| catalog |" in markdown
        listing = run(database_url, "models").stdout
        assert "catalog" in listing and "beta" in listing


class TestDiff:
    def test_one_catalog_is_unaffected_by_the_other(
        self, engine: Engine, database_url: str, make_database: Callable[[], Engine]
    ) -> None:
        """`diff --catalog alpha` (net and events, every format) is exactly `diff` of a
        database holding alpha alone, whatever beta synced in between."""
        two_catalogs(engine)
        alone = make_database()
        alpha(alone)
        alone_url = alone.url.render_as_string(hide_password=False)
        window = ("--since", iso(day(1) + timedelta(hours=1)), "--until", iso(day(5)))
        for extra in ((), ("--events",)):
            mixed = run_json(database_url, "diff", *window, *extra, "--catalog", "alpha")
            assert mixed.pop("catalogs")[0]["name"] == "alpha"
            assert mixed == run_json(alone_url, "diff", *window, *extra)
            for output in ("csv", "markdown"):
                args = ("diff", *window, *extra, "--format", output)
                named = run(database_url, *args, "--catalog", "alpha").stdout
                assert named.replace("Catalog alpha.\n", "") == run(alone_url, *args).stdout
        assert mixed["price_changes"][0]["new_per_million"] == "2"

    def test_unfiltered_changes_name_their_catalog(self, engine: Engine, database_url: str) -> None:
        """Without --catalog, each change names its catalog; the same model repriced in
        two catalogs counts twice; each catalog's observations are its own."""
        two_catalogs(engine)
        window = ("--since", iso(day(1) + timedelta(hours=1)), "--until", iso(day(5)))
        report = run_json(database_url, "diff", *window)
        moves = [(c["catalog"], c["model"], c["old"], c["new"]) for c in report["price_changes"]]
        assert moves == [("alpha", GPT, "0.000001", "0.000002")]
        assert identities(report["added"]) == [("beta", "acme/beta-new"), ("beta", GPT)]
        assert report["catalogs"] == [
            {
                "name": "alpha",
                "since_observed_at": iso(day(1)),
                "until_observed_at": iso(day(3)),
            },
            {"name": "beta", "since_observed_at": None, "until_observed_at": iso(day(4))},
        ]
        events = run_json(database_url, "diff", *window, "--events")
        assert [(c["catalog"], c["at"]) for c in events["price_changes"]] == [
            ("alpha", iso(day(3))),
            ("beta", iso(day(4))),
        ]
        assert events["summary"]["repriced_models"] == 2
        table = run(database_url, "diff", *window, "--events", "--format", "csv").stdout
        rows = list(csv.DictReader(io.StringIO(table)))
        assert {(row["section"], row["catalog"]) for row in rows} >= {
            ("price", "alpha"),
            ("price", "beta"),
            ("added", "beta"),
        }
        markdown = run(database_url, "diff", *window, "--format", "markdown").stdout
        assert "Catalog beta: observed - and 2026-03-05 00:00." in markdown

    def test_report_file_per_catalog(
        self, engine: Engine, database_url: str, tmp_path: Path
    ) -> None:
        """`report --catalog beta` lists and charts beta's changes only; unfiltered, its
        charts name the catalog of each model."""
        two_catalogs(engine)
        window = ("--since", iso(day(1) + timedelta(hours=1)), "--until", iso(day(5)))
        out = tmp_path / "beta.md"
        run(database_url, "report", *window, "--events", "--catalog", "beta", "--out", str(out))
        text = out.read_text("utf-8")
        assert "acme/beta-new" in text and "acme/alpha-only" not in text
        assert "| 2026-03-05 00:00 | `openai/gpt-4o` | `prompt` |" in text
        page = tmp_path / "all.html"
        run(database_url, "report", *window, "--events", "--out", str(page))
        assert "alpha: openai/gpt-4o" in page.read_text("utf-8")


class TestHistoryAndCharts:
    def test_history_needs_a_catalog_when_the_model_is_in_several(
        self, engine: Engine, database_url: str
    ) -> None:
        """A model id in two catalogs is ambiguous (exit 1, naming them); with --catalog
        the timeline is that catalog's alone, and says which it is."""
        two_catalogs(engine)
        result = run(database_url, "history", GPT, expect=1)
        assert "in several catalogs (alpha, beta): pick one with --catalog" in result.stderr
        timeline = run_json(database_url, "history", GPT, "--catalog", "beta")
        assert timeline["catalog"] == "beta"
        assert timeline["first_seen_at"] == iso(day(2))
        assert [(c["old"], c["new"]) for c in timeline["price_changes"]] == [
            ("0.000005", "0.000004")
        ]
        only_alpha = run_json(database_url, "history", "acme/alpha-only")
        assert only_alpha["catalog"] == "alpha"
        assert "catalog beta ·" in run(database_url, "history", GPT, "--catalog", "beta").stdout

    def test_price_series_per_catalog(self, engine: Engine) -> None:
        """A model in two catalogs gives a series per catalog, named by it, each ending at
        its own catalog's latest observation unless told when, with exact steps."""
        two_catalogs(engine)
        with engine.connect() as connection:
            scope = catalog_scope(connection)
            infos = find_models(connection, GPT, catalogs=scope)
            series = price_series(connection, infos, ["prompt"])
            until = price_series(connection, infos, ["prompt"], until=day(6))
        assert [(s.label, s.end) for s in series] == [
            ("alpha: openai/gpt-4o prompt", day(3)),
            ("beta: openai/gpt-4o prompt", day(4)),
        ]
        assert [s.points for s in until] == [
            ((day(1), Decimal("0.000001")), (day(3), Decimal("0.000002"))),
            ((day(2), Decimal("0.000005")), (day(4), Decimal("0.000004"))),
        ]


class TestRunsAndFeed:
    def test_runs_name_and_filter_their_catalog(self, engine: Engine, database_url: str) -> None:
        """`runs` names each run's catalog and --catalog keeps one; `runs show` names the
        catalog, and refuses a run of another catalog than the one asked for."""
        two_catalogs(engine)
        listed = run_json(database_url, "runs")
        assert [r["catalog"] for r in listed["runs"]] == ["beta", "beta", "alpha", "alpha"]
        assert listed["catalogs"] == ["alpha", "beta"]
        beta = run_json(database_url, "runs", "--catalog", "beta")
        assert [r["observed_at"] for r in beta["runs"]] == [iso(day(4)), iso(day(2))]
        assert "catalog" not in beta["runs"][0]
        first = listed["runs"][-1]["id"]
        assert run_json(database_url, "runs", "show", str(first))["catalog"] == "alpha"
        refused = run(database_url, "runs", "show", str(first), "--catalog", "beta", expect=1)
        assert "is a run of catalog 'alpha'" in refused.stderr
        assert "catalog" in run(database_url, "runs").stdout

    def test_feed_per_catalog(self, engine: Engine, database_url: str) -> None:
        """Each catalog's first observation starts its history (no entry); later syncs are
        entries measured against their own catalog's previous one, titled with their
        catalog; --catalog keeps one catalog's entries, untitled."""
        two_catalogs(engine)
        since = ("--since", iso(T0))
        entries = feedparser.parse(run(database_url, "feed", *since).stdout_bytes).entries
        assert [e.title for e in entries] == [
            "beta: 1 price cut, 1 added",
            "alpha: 1 price increase",
        ]
        assert "compared with 2026-03-03 00:00 UTC" in entries[0].content[0].value
        alone = feedparser.parse(
            run(database_url, "feed", *since, "--catalog", "alpha").stdout_bytes
        )
        assert [e.title for e in alone.entries] == ["1 price increase"]

    def test_catalogs_observed_at_the_same_time(self, engine: Engine) -> None:
        """Two catalogs synced at the same moment: each run's changes are its own, not a
        repeat of the other's."""
        for catalog, price in (("alpha", "0.000001"), ("beta", "0.000009")):
            first = payload([model(GPT, "0.000003")])
            sync_bytes(engine, first, observed_at=day(1), catalog=catalog)
            later = sync_bytes(
                engine, payload([model(GPT, price)]), observed_at=day(2), catalog=catalog
            )
        with engine.connect() as connection:
            beta = run_changes(connection, later.run_id)
        assert (beta.catalog, beta.previous_at) == ("beta", day(1))
        assert [(c.catalog, c.new) for c in beta.report.price_changes] == [
            (None, Decimal("0.000009"))
        ]

    def test_digest_names_catalogs(self, engine: Engine) -> None:
        """A digest over several catalogs names each change's catalog."""
        two_catalogs(engine)
        (subscription,) = from_urls(["https://hooks.example/x"])
        with engine.connect() as connection:
            body = digest_message(connection, subscription, day(1) + timedelta(hours=1), day(5))
        assert body is not None
        assert {(c["catalog"], c["kind"]) for c in body["changes"]} == {
            ("alpha", "price_increase"),
            ("beta", "added"),
        }


def fail_runs(engine: Engine, catalog: str, count: int) -> None:
    for _ in range(count):
        assert sync_bytes(engine, b"not json", catalog=catalog).status == "failed"


class TestStatus:
    def test_the_unhealthy_catalog_is_named(self, engine: Engine, database_url: str) -> None:
        """Three failed runs of beta make `status` exit 1 naming beta, while alpha stays
        healthy; --catalog alpha is healthy, --catalog beta is not."""
        two_catalogs(engine)
        fail_runs(engine, "beta", 3)
        report = json.loads(run_status(database_url, "--format", "json", expect=1).stdout)
        assert [(c["name"], c["healthy"]) for c in report["catalogs"]] == [
            ("alpha", True),
            ("beta", False),
        ]
        (problem,) = report["problems"]
        assert problem.startswith("catalog beta: 3 runs failed in a row")
        assert (report["failing"]["catalog"], report["failing"]["count"]) == ("beta", 3)
        assert report["last_run"]["catalog"] == "beta"
        assert report["models_available"] == 4
        assert [(p["catalog"], p["name"]) for p in report["providers"]] == [
            ("alpha", "openrouter"),
            ("beta", "openrouter"),
        ]
        alone = json.loads(
            run_status(database_url, "--catalog", "alpha", "--format", "json", expect=0).stdout
        )
        assert (alone["failing"], alone["models_available"]) == (None, 2)
        assert [c["name"] for c in alone["catalogs"]] == ["alpha"]
        run_status(database_url, "--catalog", "beta", expect=1)
        table = run_status(database_url, expect=1).stdout
        assert "catalog:           beta" in table and "unhealthy: catalog beta: 3 runs" in table

    def test_max_age_per_catalog(self, engine: Engine, database_url: str) -> None:
        """--max-age judges each catalog by its own last success: an old alpha fails it
        while a fresh beta passes."""
        two_catalogs(engine)
        with engine.begin() as connection:
            alpha_id = (
                connection.execute(catalogs_table.select().where(catalogs_table.c.name == "alpha"))
                .one()
                .id
            )
            old = utcnow() - timedelta(hours=5)
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.catalog_id == alpha_id)
                .values(started_at=old, finished_at=old)
            )
        report = json.loads(
            run_status(database_url, "--max-age", "1h", "--format", "json", expect=1).stdout
        )
        assert [p.split(":")[0] for p in report["problems"]] == ["catalog alpha"]
        assert report["last_success"]["catalog"] == "beta"
        run_status(database_url, "--max-age", "1h", "--catalog", "beta", expect=0)


class TestOneCatalog:
    @pytest.mark.parametrize(
        "args",
        [
            ("models",),
            ("prices",),
            ("diff", "--since", "2026-03-01T01:00Z"),
            ("diff", "--since", "2026-03-01T01:00Z", "--events"),
            ("runs",),
            ("history", GPT),
        ],
    )
    def test_no_catalog_is_named(self, engine: Engine, database_url: str, args: Any) -> None:
        """A database whose runs are all of one catalog (here not `default`, which stays
        empty) names no catalog anywhere, as before catalogs had names."""
        alpha(engine)
        assert '"catalog' not in run(database_url, *args, "--format", "json").stdout
        assert "catalog" not in run(database_url, *args).stdout.lower().replace(
            "model catalog changes", ""
        )


class TestUnknownCatalog:
    @pytest.mark.parametrize(
        "args",
        [
            ("models",),
            ("prices",),
            ("diff", "--since", "7d"),
            ("report", "--since", "7d", "--out", "x.md"),
            ("history", GPT),
            ("chart", GPT, "--out", "x.svg"),
            ("runs",),
            ("runs", "show", "1"),
            ("feed",),
        ],
    )
    def test_is_a_usage_error_listing_the_known_ones(
        self, engine: Engine, database_url: str, args: Any
    ) -> None:
        """An unknown --catalog exits 2 with one line naming the catalogs there are."""
        two_catalogs(engine)
        result = run(database_url, *args, "--catalog", "gamma", expect=2)
        expected = "no catalog 'gamma' in this database (it holds: alpha, beta, default)"
        assert expected in result.stderr
        assert run_status(database_url, "--catalog", "gamma", expect=2).stderr.count(expected) == 1
