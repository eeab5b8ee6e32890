"""``catalog-etl compare``: one model's price side by side across catalogs as of a time.

The comparison itself is a pure function, tested on hand-made offers; then three catalogs
(two OpenRouter-shaped, one LiteLLM price map) synced into one database on SQLite and
PostgreSQL: exact amounts and spreads, the state as of a time, ambiguous keys listed and
left out, dynamic and unpriced prices shown and not compared, every output format, hostile
ids, and the ``cross_catalog_prices`` view agreeing with the command now.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from etl.cli import cli
from etl.ingest.match import match_key
from etl.ingest.money import DYNAMIC, Price
from etl.ingest.normalize import vendor_of
from etl.pipeline import sync_bytes
from etl.read.catalogs import UnknownCatalog
from etl.read.compare import CrossCatalog, compare, cross_catalog
from etl.read.offers import CatalogSeen, Offer
from etl.read.queries import Filters
from etl.read.units import percent_text
from etl.reports import html, markdown
from etl.reports.compare_csv import compare_csv
from etl.reports.compare_document import compare_document
from etl.times import utcnow
from tests.helpers import make_model, payload, raw_controls

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BETWEEN = datetime(2026, 3, 5, tzinfo=UTC)
T1 = datetime(2026, 3, 10, tzinfo=UTC)
SEEN = (CatalogSeen("a", T0), CatalogSeen("b", T0), CatalogSeen("c", T0))


# --- The comparison, without a database ---------------------------------------------------


def offer(
    catalog: str, model: str, prices: dict[str, Price] | None, provider: str = "openrouter"
) -> Offer:
    """A model of ``catalog`` keyed as the loader keys it; ``prices`` None: unpriced."""
    key = match_key(model, provider)
    vendor = vendor_of(model, provider)
    return Offer(catalog, provider, model, vendor, key, prices is not None, prices or {})


def rows_of(report: CrossCatalog) -> list[tuple[str, str, dict[str, str | None], str | None]]:
    """Each row as (key, component, {catalog: price text}, spread text)."""
    return [
        (
            row.match_key,
            row.component,
            {q["catalog"]: q["price"] for q in row.to_json()["prices"]},
            row.to_json()["spread_percent"],
        )
        for row in report.rows
    ]


class TestComparison:
    def test_spread_is_exact_and_shown_to_two_places(self) -> None:
        """Spread = (highest - lowest) / lowest * 100 in exact decimals: 0.000003 against
        0.000004 is 33.33...%, shown 33.33; lowest and highest are the exact amounts."""
        report = compare(
            T0,
            SEEN,
            [
                offer("a", "openai/gpt-4o", {"prompt": Decimal("0.000003")}),
                offer("b", "gpt-4o", {"prompt": Decimal("0.000004")}, provider="openai"),
                offer("c", "openai/gpt-4o", {"prompt": Decimal("0.0000035")}),
            ],
            components=("prompt",),
        )
        [row] = report.rows
        assert (row.lowest, row.highest) == (Decimal("0.000003"), Decimal("0.000004"))
        assert row.spread == Decimal(100) / 3
        document = row.to_json()
        assert document["spread_percent"] == "33.33"
        assert document["lowest_per_million"] == "3"
        assert document["highest_per_million"] == "4"
        assert document["catalogs_compared"] == 3
        assert [q["model"] for q in document["prices"]] == [
            "openai/gpt-4o",
            "gpt-4o",
            "openai/gpt-4o",
        ]

    def test_ambiguous_catalog_is_listed_and_left_out(self) -> None:
        """Two models of one catalog sharing a key are listed as ambiguous and that catalog
        takes no part in the key's comparison; the other catalogs are still compared."""
        report = compare(
            T0,
            SEEN,
            [
                offer("a", "openai/gpt-4o", {"prompt": Decimal("0.000001")}),
                offer("a", "~openai/gpt-4o", {"prompt": Decimal("0.000009")}),
                offer("b", "openai/gpt-4o", {"prompt": Decimal("0.000002")}),
                offer("c", "openai/gpt-4o", {"prompt": Decimal("0.000003")}),
            ],
            components=("prompt",),
        )
        assert rows_of(report) == [
            ("openai/gpt-4o", "prompt", {"b": "0.000002", "c": "0.000003"}, "50")
        ]
        assert report.rows[0].ambiguous_in == ("a",)
        [ambiguity] = report.ambiguous
        assert ambiguity.to_json() == {
            "catalog": "a",
            "match_key": "openai/gpt-4o",
            "candidates": [
                {"provider": "openrouter", "model": "openai/gpt-4o"},
                {"provider": "openrouter", "model": "~openai/gpt-4o"},
            ],
        }

    def test_ambiguity_leaves_nothing_to_compare(self) -> None:
        """With the ambiguous catalog out, one catalog is left: no row, the key still listed
        as ambiguous."""
        report = compare(
            T0,
            SEEN[:2],
            [
                offer("a", "openai/gpt-4o", {"prompt": Decimal(1)}),
                offer("a", "~openai/gpt-4o", None),
                offer("b", "openai/gpt-4o", {"prompt": Decimal(2)}),
            ],
        )
        assert report.rows == ()
        assert [a.catalog for a in report.ambiguous] == ["a"]

    def test_dynamic_and_unpriced_are_shown_never_compared(self) -> None:
        """A dynamic price and an unpriced model appear in the row, outside lowest, highest
        and the count; with only one amount left there is no row at all."""
        offers = [
            offer("a", "x/m", {"prompt": DYNAMIC}),
            offer("b", "x/m", {"prompt": Decimal("0.000002")}),
            offer("c", "x/m", None),
        ]
        assert compare(T0, SEEN, offers, components=("prompt",)).rows == ()
        offers.append(offer("d", "x/m", {"prompt": Decimal("0.000001")}))
        report = compare(T0, (*SEEN, CatalogSeen("d", T0)), offers, components=("prompt",))
        assert rows_of(report) == [
            ("x/m", "prompt", {"a": "dynamic", "b": "0.000002", "c": None, "d": "0.000001"}, "100")
        ]
        assert report.rows[0].amounts == (Decimal("0.000002"), Decimal("0.000001"))

    def test_a_priced_model_without_the_component_is_free(self) -> None:
        """A priced model lacking a component charges 0 for it: the lowest, the spread
        undefined, the row after every defined spread; 0 everywhere is no row."""
        report = compare(
            T0,
            SEEN[:2],
            [
                offer("a", "x/free", {"completion": Decimal(1)}),
                offer("b", "x/free", {"prompt": Decimal(1), "completion": Decimal(1)}),
                offer("a", "x/paid", {"prompt": Decimal(1)}),
                offer("b", "x/paid", {"prompt": Decimal(2)}),
            ],
            components=("prompt", "completion", "image"),
        )
        assert rows_of(report) == [
            ("x/paid", "prompt", {"a": "1", "b": "2"}, "100"),
            ("x/free", "completion", {"a": "1", "b": "1"}, "0"),
            ("x/free", "prompt", {"a": "0", "b": "1"}, None),
        ]
        assert report.rows[-1].lowest == 0

    def test_min_spread_is_exact_and_drops_undefined(self) -> None:
        """``min_spread`` keeps spreads at least that large, compared exactly (33.33...% is
        below 33.334); undefined spreads go."""
        offers = [
            offer("a", "x/third", {"prompt": Decimal(3)}),
            offer("b", "x/third", {"prompt": Decimal(4)}),
            offer("a", "x/free", {"completion": Decimal(1)}),
            offer("b", "x/free", {"prompt": Decimal(1)}),
        ]

        def kept(minimum: str) -> list[str]:
            report = compare(T0, SEEN[:2], offers, min_spread=Decimal(minimum))
            return [row.match_key for row in report.rows]

        assert kept("33.333") == ["x/third"]
        assert kept("33.334") == []
        assert kept("0") == ["x/third"]

    def test_filters_keep_a_key_whole(self) -> None:
        """A model glob in one catalog's spelling (LiteLLM's ``gpt-4o``) keeps the key with
        every catalog's model; a vendor filter matches the key's vendor."""
        offers = [
            offer("a", "openai/gpt-4o", {"prompt": Decimal(1)}),
            offer("b", "gpt-4o", {"prompt": Decimal(2)}, provider="openai"),
            offer("a", "anthropic/claude-3", {"prompt": Decimal(1)}),
            offer("b", "claude-3", {"prompt": Decimal(1)}, provider="anthropic"),
        ]
        for filters in (Filters(models=("gpt-4o",)), Filters(vendors=("OpenAI",))):
            report = compare(T0, SEEN[:2], offers, components=("prompt",), filters=filters)
            assert rows_of(report) == [("openai/gpt-4o", "prompt", {"a": "1", "b": "2"}, "100")]
            assert report.shared_keys == 1

    def test_counts_and_the_reason_nothing_is_compared(self) -> None:
        """Keys in one catalog only are counted; with fewer than two catalogs the report
        says why nothing is compared."""
        offers = [offer("a", "x/one", {"prompt": Decimal(1)})]
        report = compare(T0, SEEN[:2], offers)
        assert (report.shared_keys, report.single_catalog_keys, report.reason) == (0, 1, None)
        alone = compare(T0, SEEN[:1], offers)
        assert alone.reason == (
            "nothing compared: only a had been observed by 2026-03-01T00:00:00Z;"
            " a comparison needs two catalogs"
        )
        assert "Nothing compared" in markdown.render(compare_document(alone))

    def test_hostile_ids_are_escaped_in_every_format(self) -> None:
        """Identifiers go through the one escaping rule: control characters visible, markup
        inert, CSV formulas neutralized."""
        model = '=HYPERLINK("x")/a\x1b[2J[/]<script>\u202e'
        report = compare(
            T0,
            SEEN[:2],
            [
                offer("a", model, {"prompt": Decimal(1)}, provider="@evil\x07"),
                offer("b", model, {"prompt": Decimal(2)}),
            ],
            components=("prompt",),
        )
        document = compare_document(report)
        for rendered in (markdown.render(document), html.render(document), compare_csv(report)):
            assert not raw_controls(rendered), rendered
        assert "<script>" not in html.render(document)
        cells = [cell for row in csv.reader(io.StringIO(compare_csv(report))) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "@") and c[:1] != "'"]
        assert "'@evil\\x07" in cells


# --- Three catalogs in one database ---------------------------------------------------------


def litellm_map(*entries: tuple[str, str, str]) -> bytes:
    """A LiteLLM price map: ``(key, provider, prices)``, prices as the JSON numbers' text."""
    body = ",\n".join(
        f'"{key}": {{"litellm_provider": "{provider}", "mode": "chat", {prices}}}'
        for key, provider, prices in entries
    )
    return ("{\n" + body + "\n}\n").encode()


LITELLM = litellm_map(
    ("gpt-4o", "openai", '"input_cost_per_token": 2.75e-06, "output_cost_per_token": 1e-05'),
    (
        "claude-sonnet-4-5",
        "anthropic",
        '"input_cost_per_token": 3.3e-06, "output_cost_per_token": 1.5e-05',
    ),
    ("gpt-4o-mini", "openai", '"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07'),
    ("free-1", "acme", '"input_cost_per_token": 3e-07, "output_cost_per_token": 1e-06'),
    ("twin-1", "acme", '"input_cost_per_token": 3e-06, "output_cost_per_token": 0'),
)


def priced(model: str, prompt: str | None, completion: str | None = None) -> dict[str, Any]:
    pricing = None if prompt is None else {"prompt": prompt, "completion": completion or "0"}
    return make_model(model, pricing=pricing)


def openrouter(gpt_4o_prompt: str) -> bytes:
    return payload(
        [
            priced("openai/gpt-4o", gpt_4o_prompt, "0.00001"),
            priced("anthropic/claude-sonnet-4.5", "0.000003", "0.000015"),
            priced("openai/gpt-4o-mini", "-1", "0.0000006"),
            priced("acme/free-1", "0", "0.000001"),
            priced("acme/unpriced", None),
            priced("acme/solo", "0.000001", "0.000001"),
            priced("acme/twin.1", "0.000001"),
            priced("acme/twin_1", None),
        ]
    )


INSFORGE = payload(
    [
        priced("openai/gpt-4o", "0.000003", "0.00001"),
        priced("~openai/gpt-4o", "0.000004", "0.00001"),
        priced("openai/gpt-4o-mini", "0.00000015", "0.0000006"),
        priced("acme/free-1", "0.0000002", "0.000001"),
        priced("acme/unpriced", "0.0000001", "0.0000002"),
        priced("acme/twin-1", "0.000002"),
    ]
)

EXPECTED_BETWEEN = [
    ("acme/twin-1", "prompt", {"insforge": "0.000002", "litellm": "0.000003"}, "50"),
    (
        "anthropic/claude-sonnet-4-5",
        "prompt",
        {"litellm": "0.0000033", "openrouter": "0.000003"},
        "10",
    ),
    ("openai/gpt-4o", "prompt", {"litellm": "0.00000275", "openrouter": "0.0000025"}, "10"),
    (
        "acme/free-1",
        "completion",
        {"insforge": "0.000001", "litellm": "0.000001", "openrouter": "0.000001"},
        "0",
    ),
    (
        "anthropic/claude-sonnet-4-5",
        "completion",
        {"litellm": "0.000015", "openrouter": "0.000015"},
        "0",
    ),
    ("openai/gpt-4o", "completion", {"litellm": "0.00001", "openrouter": "0.00001"}, "0"),
    (
        "openai/gpt-4o-mini",
        "prompt",
        {"insforge": "0.00000015", "litellm": "0.00000015", "openrouter": "dynamic"},
        "0",
    ),
    (
        "openai/gpt-4o-mini",
        "completion",
        {"insforge": "0.0000006", "litellm": "0.0000006", "openrouter": "0.0000006"},
        "0",
    ),
    (
        "acme/free-1",
        "prompt",
        {"insforge": "0.0000002", "litellm": "0.0000003", "openrouter": "0"},
        None,
    ),
]
"""As of :data:`BETWEEN`: widest spread first, undefined last. ``acme/unpriced`` is unpriced
on OpenRouter, so only InsForge gives it amounts: no row. ``acme/twin-1`` is ambiguous on
OpenRouter (``acme/twin.1`` and the unpriced ``acme/twin_1``): the other two are compared,
and its completion, free everywhere, is no row."""


@pytest.fixture
def catalogs(engine: Engine) -> Engine:
    """OpenRouter and InsForge (OpenRouter-shaped) and LiteLLM at T0; OpenRouter raises
    gpt-4o's prompt price from 2.5 to 5 per 1M tokens at T1."""
    for raw, catalog, at in (
        (openrouter("0.0000025"), "openrouter", T0),
        (INSFORGE, "insforge", T0),
        (LITELLM, "litellm", T0),
        (openrouter("0.000005"), "openrouter", T1),
    ):
        provider = "insforge" if catalog == "insforge" else "openrouter"
        result = sync_bytes(engine, raw, observed_at=at, catalog=catalog, provider=provider)
        assert result.status == "succeeded", result
    return engine


def report_at(engine: Engine, moment: datetime, **options: Any) -> CrossCatalog:
    with engine.connect() as connection:
        return cross_catalog(connection, moment, **options)


class TestAsOf:
    def test_exact_amounts_and_spreads_between_the_syncs(self, catalogs: Engine) -> None:
        """As of a time between OpenRouter's two syncs: each key's amounts from each
        catalog exactly, LiteLLM's gpt-4o matching OpenRouter's openai/gpt-4o and its
        claude-sonnet-4-5 matching anthropic/claude-sonnet-4.5; InsForge's two gpt-4o
        models and OpenRouter's twin.1 and twin_1 ambiguous (one unpriced is enough);
        dynamic and free prices as they are."""
        report = report_at(catalogs, BETWEEN)
        assert rows_of(report) == EXPECTED_BETWEEN
        assert [(c.name, c.observed_at) for c in report.catalogs] == [
            ("insforge", T0),
            ("litellm", T0),
            ("openrouter", T0),
        ]
        assert [(a.catalog, a.match_key, a.candidates) for a in report.ambiguous] == [
            (
                "openrouter",
                "acme/twin-1",
                (("openrouter", "acme/twin.1"), ("openrouter", "acme/twin_1")),
            ),
            (
                "insforge",
                "openai/gpt-4o",
                (("insforge", "openai/gpt-4o"), ("insforge", "~openai/gpt-4o")),
            ),
        ]
        assert (report.shared_keys, report.single_catalog_keys) == (6, 1)

    def test_a_later_price_change_shows_only_after_it(self, catalogs: Engine) -> None:
        """OpenRouter's gpt-4o repricing at T1 is not in the state as of BETWEEN, and is as
        of T1: 5 against LiteLLM's 2.75 is a spread of 81.8181...%, shown 81.82."""
        later = report_at(catalogs, T1)
        row = later.rows[0]
        assert (row.match_key, row.component) == ("openai/gpt-4o", "prompt")
        assert (row.lowest, row.highest) == (Decimal("0.00000275"), Decimal("0.000005"))
        assert row.to_json()["spread_percent"] == "81.82"
        gpt_4o_prompt = ("openai/gpt-4o", "prompt")
        assert rows_of(later)[1:] == [r for r in EXPECTED_BETWEEN if r[:2] != gpt_4o_prompt]

    def test_before_the_first_sync_nothing_is_compared(self, catalogs: Engine) -> None:
        """Before any catalog was observed no catalog takes part, and the report says so."""
        report = report_at(catalogs, datetime(2026, 2, 1, tzinfo=UTC))
        assert report.rows == () and report.catalogs == ()
        assert report.reason is not None and "no catalog had been observed" in report.reason

    def test_named_catalogs_only(self, catalogs: Engine) -> None:
        """``catalogs`` narrows the comparison; an unknown name is refused, naming those the
        database holds; a named catalog not yet observed is reported as such."""
        report = report_at(catalogs, BETWEEN, catalogs=("litellm", "openrouter"))
        assert {q.catalog for row in report.rows for q in row.quotes} == {"litellm", "openrouter"}
        assert [a.match_key for a in report.ambiguous] == ["acme/twin-1"]
        with pytest.raises(
            UnknownCatalog,
            match=r"no catalog 'nope' in this database \(it holds: .*insforge, litellm",
        ):
            report_at(catalogs, BETWEEN, catalogs=("nope", "litellm"))
        sync_bytes(catalogs, openrouter("0.000001"), observed_at=T1, catalog="late")
        early = report_at(catalogs, BETWEEN, catalogs=("late", "litellm"))
        assert early.not_observed == ("late",) and early.reason is not None


# --- The command -------------------------------------------------------------------------


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == expect, result.output
    assert not raw_controls(result.stdout), result.stdout
    return result.stdout


class TestCommand:
    def test_json(self, catalogs: Engine, database_url: str) -> None:
        """JSON holds every row with each catalog's model and exact prices."""
        out = run(
            "compare", "--as-of", "2026-03-05", "--database-url", database_url, "--format", "json"
        )
        document = json.loads(out)
        assert [c["name"] for c in document["catalogs"]] == ["insforge", "litellm", "openrouter"]
        assert document["keys"] == {"shared": 6, "single_catalog": 1, "ambiguous": 2}
        first = document["comparisons"][1]
        assert first == {
            "match_key": "anthropic/claude-sonnet-4-5",
            "component": "prompt",
            "unit": "token",
            "lowest": "0.000003",
            "highest": "0.0000033",
            "lowest_per_million": "3",
            "highest_per_million": "3.3",
            "spread_percent": "10",
            "catalogs_compared": 2,
            "prices": [
                {
                    "catalog": "litellm",
                    "provider": "anthropic",
                    "model": "claude-sonnet-4-5",
                    "price": "0.0000033",
                    "per_million": "3.3",
                },
                {
                    "catalog": "openrouter",
                    "provider": "openrouter",
                    "model": "anthropic/claude-sonnet-4.5",
                    "price": "0.000003",
                    "per_million": "3",
                },
            ],
            "ambiguous_in": [],
        }
        assert [a["catalog"] for a in document["ambiguous"]] == ["openrouter", "insforge"]

    def test_csv(self, catalogs: Engine, database_url: str) -> None:
        """CSV: a row per key and component with a group of columns per catalog, then a row
        per model of an ambiguous key."""
        out = run(
            "compare",
            "--as-of",
            "2026-03-05",
            "--min-spread",
            "5",
            "--database-url",
            database_url,
            "--format",
            "csv",
        )
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [
            (r["section"], r["match_key"], r["component"], r["spread_percent"]) for r in rows
        ] == [
            ("compared", "acme/twin-1", "prompt", "50"),
            ("compared", "anthropic/claude-sonnet-4-5", "prompt", "10"),
            ("compared", "openai/gpt-4o", "prompt", "10"),
            ("ambiguous", "acme/twin-1", "", ""),
            ("ambiguous", "acme/twin-1", "", ""),
            ("ambiguous", "openai/gpt-4o", "", ""),
            ("ambiguous", "openai/gpt-4o", "", ""),
        ]
        gpt = rows[2]
        assert (gpt["litellm_model"], gpt["litellm_price"], gpt["litellm_per_million"]) == (
            "gpt-4o",
            "0.00000275",
            "2.75",
        )
        assert gpt["insforge_price"] == "" and json.loads(gpt["ambiguous_in"]) == ["insforge"]
        assert [r["openrouter_model"] for r in rows[3:5]] == ["acme/twin.1", "acme/twin_1"]
        assert [r["insforge_model"] for r in rows[5:]] == ["openai/gpt-4o", "~openai/gpt-4o"]

    def test_table_markdown_html(self, catalogs: Engine, database_url: str) -> None:
        """The document formats show the per-1M amounts, the spread and the sections."""
        base = ("compare", "--as-of", "2026-03-05", "--database-url", database_url)
        table = run(*base, "--component", "prompt")
        assert "anthropic/claude-sonnet-4-5" in table and "10%" in table
        assert "ambiguous" in table and "2.75" in table
        page = run(*base, "--format", "html")
        assert "<h2>Compared" in page and "~openai/gpt-4o" in page
        text_md = run(*base, "--format", "markdown", "--vendor", "anthropic")
        assert "`anthropic/claude-sonnet-4-5`" in text_md and "`openai/gpt-4o`" not in text_md

    def test_usage_errors(self, catalogs: Engine, database_url: str) -> None:
        """One catalog is a usage error; an unknown one or a bad percentage too, clearly."""
        base = ("compare", "--database-url", database_url)
        run(*base, "--catalog", "litellm", expect=2)
        run(*base, "--min-spread", "ten", expect=2)
        run(*base, "--min-spread", "-1", expect=2)
        result = CliRunner().invoke(cli, [*base, "--catalog", "litellm", "--catalog", "x"])
        assert (
            result.exit_code == 2 and "--catalog: no catalog 'x' in this database" in result.stderr
        )

    def test_hostile_ids_through_the_command(self, engine: Engine, database_url: str) -> None:
        """Ids holding markup and formulas, listed by two catalogs, come out inert."""
        models = [
            priced("hostile/[/]markup", "0.000001", "0.000002"),
            priced("=1+2/formula", "0.000001", "0.000002"),
        ]
        sync_bytes(engine, payload(models), observed_at=T0, catalog="a")
        models[1] = priced("=1+2/formula", "0.000003", "0.000002")
        sync_bytes(engine, payload(models), observed_at=T0, catalog="b")
        base = ("compare", "--database-url", database_url, "--format")
        cells = [cell for row in csv.reader(io.StringIO(run(*base, "csv"))) for cell in row]
        assert "'=1+2/formula" in cells and not [c for c in cells if c.startswith("=")]
        assert "hostile/[/]markup" in run(*base, "table")
        assert "'=1+2/formula" not in run(*base, "json")


# --- The SQL view --------------------------------------------------------------------------


def view_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT match_key, component, catalog, model, amount, dynamic, ambiguous,"
                    " catalogs_compared, lowest, highest, spread_percent FROM cross_catalog_prices"
                )
            )
        )


def near(value: Any, exact: Decimal) -> bool:
    """A view's number (exact on PostgreSQL, a float on SQLite) equals ``exact`` to 12
    significant digits."""
    return abs(Decimal(str(value)) - exact) <= abs(exact) * Decimal("1e-12")


class TestView:
    def test_the_view_agrees_with_the_command_now(self, catalogs: Engine) -> None:
        """``cross_catalog_prices`` and ``compare`` as of now: the same rows compared in at
        least two catalogs, each catalog's amount, the same lowest, highest and spread (to
        the view's two places), the same catalogs ambiguous, free offers as 0."""
        report = report_at(catalogs, utcnow())
        view = view_rows(catalogs)
        compared = {(r.match_key, r.component) for r in view if r.catalogs_compared >= 2}
        assert compared == {(row.match_key, row.component) for row in report.rows}
        by_place = {(r.match_key, r.component, r.catalog, r.model): r for r in view}
        for row in report.rows:
            for quote in row.quotes:
                found = by_place[(row.match_key, row.component, quote.catalog, quote.model)]
                assert bool(found.dynamic) == (quote.price == DYNAMIC)
                if isinstance(quote.price, Decimal):
                    assert Decimal(str(found.amount)) == quote.price
                assert not found.ambiguous
                assert found.catalogs_compared == len(row.amounts)
                assert near(found.lowest, row.lowest) and near(found.highest, row.highest)
                shown = None if found.spread_percent is None else Decimal(str(found.spread_percent))
                expected = percent_text(row.spread)
                assert shown == (None if expected is None else Decimal(expected))
        # Unpriced models have no price rows, so the view shows the priced candidates only.
        ambiguous = {(r.catalog, r.match_key, r.model) for r in view if r.ambiguous}
        candidates = {
            (a.catalog, a.match_key, m) for a in report.ambiguous for _, m in a.candidates
        }
        assert ambiguous < candidates
        assert {a[:2] for a in ambiguous} == {a[:2] for a in candidates}
        free = by_place[("acme/free-1", "prompt", "openrouter", "acme/free-1")]
        assert Decimal(str(free.amount)) == 0 and free.spread_percent is None
