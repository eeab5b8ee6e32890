"""LiteLLM's model price map (``model_prices_and_context_window.json``): recognised by itself,
its numbers read exactly, its entries stored as documented (README, "LiteLLM's price map"),
and six real releases (tests/data/litellm, trimmed) synced and compared through the CLI."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from etl.cli import cli
from etl.db.tables import models_table
from etl.ingest.litellm_prices import component_name, price_unit
from etl.ingest.normalize import Catalog, ModelRecord
from etl.ingest.payload import read_payload
from etl.ingest.shapes import parse_catalog
from etl.ingest.validate import build_catalog
from etl.read.units import per_million, unit
from tests.helpers import DATA, natural_history, observed_at
from tests.invariants import assert_invariants

RELEASES = sorted((DATA / "litellm").glob("*.json.gz"))
"""1.0.0, 1.55.8, 1.63.7, 1.77.7, 1.83.8, 1.110.2, in release order."""
V1_0, V1_55, V1_63, V1_77, V1_83, V1_110 = RELEASES


def price_map(*entries: str) -> bytes:
    """A price map holding ``entries`` written as given (``'"m": {...}'``), spellings kept."""
    return ("{\n" + ",\n".join(entries) + "\n}\n").encode()


def entry(model: str, body: str, provider: str = "acme") -> str:
    return f'"{model}": {{"litellm_provider": "{provider}", "mode": "chat"{body}}}'


def catalog_of(raw: bytes) -> Catalog:
    return build_catalog(parse_catalog(raw)[1])


def record_of(raw: bytes, model: str = "acme-1") -> ModelRecord:
    found = {record.model: record for record in catalog_of(raw).records}
    return found[model]


def text_of(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode()


def run(*args: str, expect: int = 0) -> tuple[str, str]:
    """stdout and stderr of the command, once it exited with ``expect``."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.stdout, result.stderr


def sync(database_url: str, path: Path, when: str | None = None) -> dict[str, Any]:
    """``sync --file`` at the release's time; its JSON summary."""
    when = when or observed_at(path).isoformat()
    out, _ = run(
        "sync",
        "--file",
        str(path),
        "--observed-at",
        when,
        "--database-url",
        database_url,
        "--format",
        "json",
    )
    summary: dict[str, Any] = json.loads(out)
    return summary


def diff(database_url: str, since: Path, until: Path, *options: str) -> dict[str, Any]:
    """``diff`` between two releases' observation times, as JSON."""
    out, _ = run(
        "diff",
        "--since",
        observed_at(since).isoformat(),
        "--until",
        observed_at(until).isoformat(),
        "--database-url",
        database_url,
        "--format",
        "json",
        *options,
    )
    result: dict[str, Any] = json.loads(out)
    return result


def sync_releases(database_url: str) -> list[dict[str, Any]]:
    return [sync(database_url, path) for path in RELEASES]


def prices_of(report: dict[str, Any], model: str, section: str = "price_changes") -> dict[str, Any]:
    return {c["component"]: (c["old"], c["new"]) for c in report[section] if c["model"] == model}


class TestShape:
    def test_every_release_is_recognised(self) -> None:
        """Each of the six releases is the ``litellm`` shape, one provider per entry."""
        for path in RELEASES:
            catalog = parse_catalog(gzip.decompress(path.read_bytes()))[1]
            assert catalog.shape == "litellm", path.name
            assert {record.provider for record in catalog.records} == set(catalog.providers)
        catalog = parse_catalog(gzip.decompress(V1_0.read_bytes()))[1]
        first = catalog.records[0]
        assert (first.provider, first.document["id"]) == ("openai", "gpt-4")
        assert first.document["entry"]["mode"] == "chat"

    def test_an_object_without_litellm_keys_is_still_unrecognised(self) -> None:
        """An object of objects without ``litellm_provider`` or token prices is no price map."""
        from etl.ingest.payload import PayloadError

        with pytest.raises(PayloadError, match="unrecognised catalog shape"):
            parse_catalog(b'{"gpt-4": {"max_tokens": 8192, "mode": "chat"}}')

    def test_non_models_are_skipped_with_one_warning(self) -> None:
        """``sample_spec`` is skipped silently; aliases, entries without a provider and values
        that are not objects are skipped and counted in one warning naming them."""
        raw = price_map(
            '"sample_spec": {"litellm_provider": "one of ...", "input_cost_per_token": 0.0}',
            entry("acme-1", ', "input_cost_per_token": 1e-06'),
            '"acme-latest": {"alias_of": "acme-1"}',
            '"together-ai-up-to-3b": {"input_cost_per_token": 1e-07}',
            '"fallback_generalizations": {"rules": []}',
            '"a-string": "not an entry"',
        )
        catalog = catalog_of(raw)
        assert [record.model for record in catalog.records] == ["acme-1"]
        assert catalog.warnings == [
            "skipped 4 entries that are not models: 1 aliases of another entry (acme-latest);"
            " 2 without a litellm_provider (together-ai-up-to-3b, fallback_generalizations);"
            " 1 that are not objects (a-string)"
        ]


class TestNumbers:
    def test_prices_keep_the_decimal_of_their_text(self) -> None:
        """Prices are read from the number's text, never through a float: every digit of
        float noise is kept, and the parsed document holds Decimals."""
        raw = price_map(
            entry(
                "acme-1",
                ', "input_cost_per_token": 1.25e-05,'
                ' "output_cost_per_token": 2.9999900000000002e-06',
            )
        )
        document = read_payload(raw).document
        assert document["acme-1"]["input_cost_per_token"] == Decimal("1.25e-05")
        assert isinstance(document["acme-1"]["output_cost_per_token"], Decimal)
        prices = record_of(raw).prices
        assert prices == {
            "prompt": Decimal("0.0000125"),
            "completion": Decimal("0.0000029999900000000002"),
        }

    def test_spellings_of_one_number_are_one_price(self) -> None:
        """``3e-05`` and ``0.00003``, ``0`` and ``0.0``: equal records, equal hashes."""
        first = record_of(
            price_map(
                entry("acme-1", ', "input_cost_per_token": 3e-05, "output_cost_per_token": 0')
            )
        )
        second = record_of(
            price_map(
                entry("acme-1", ', "input_cost_per_token": 0.00003, "output_cost_per_token": 0.0')
            )
        )
        assert first.prices == second.prices == {"prompt": Decimal("0.00003")}
        assert first.record_hash == second.record_hash

    def test_whole_numbers_written_as_floats_are_integers(self) -> None:
        """``2000000.0`` is the integer 2000000, as a context length and in ``extra``."""
        record = record_of(
            price_map(
                entry(
                    "acme-1",
                    ', "max_input_tokens": 2000000.0, "max_output_tokens":'
                    ' 30000, "max_tokens": 2000000.0, "tpm": 1.5',
                )
            ),
        )
        assert record.fields["context_length"] == 2000000
        assert type(record.fields["context_length"]) is int
        assert record.fields["max_completion_tokens"] == 30000
        assert record.extra == {"max_tokens": 2000000, "tpm": 1.5}
        assert type(record.extra["max_tokens"]) is int

    def test_minus_one_is_dynamic_and_other_negatives_reject_the_entry(self) -> None:
        """``-1`` is dynamic pricing; ``-2`` rejects only its entry, with a warning naming it."""
        catalog = catalog_of(
            price_map(
                entry("acme-1", ', "input_cost_per_token": -1'),
                entry("acme-2", ', "input_cost_per_token": -2e-06'),
            )
        )
        assert [(r.model, r.prices) for r in catalog.records] == [("acme-1", {"prompt": "dynamic"})]
        assert catalog.listed_but_rejected == {("acme", "acme-2")}
        assert any("'acme-2'" in w and "negative" in w for w in catalog.warnings)

    def test_a_context_length_that_is_text_rejects_the_entry(self) -> None:
        """A limit that is not a whole number rejects its entry (previous state kept)."""
        catalog = catalog_of(price_map(entry("acme-1", ', "max_input_tokens": "lots"')))
        assert catalog.records == []
        assert "max_input_tokens: must be a whole number" in catalog.warnings[0]


class TestDuplicateKeys:
    def test_the_last_copy_wins_and_is_named(self) -> None:
        """A model written twice with different values keeps the last copy (as JSON parsers
        do) and the warning names it; identical copies are one warning for all."""
        raw = price_map(
            entry("acme-1", ', "max_input_tokens": 400000'),
            entry("acme-2", ', "input_cost_per_token": 3e-05'),
            entry("acme-1", ', "max_input_tokens": 272000'),
            entry("acme-2", ', "input_cost_per_token": 0.00003'),
        )
        payload, raw_catalog = parse_catalog(raw)
        assert [(d.key, d.count, d.identical) for d in payload.duplicate_keys] == [
            ("acme-1", 2, False),
            ("acme-2", 2, True),
        ]
        assert raw_catalog.warnings == [
            "model 'acme-1' is written 2 times with different values: the last one is used",
            "1 models are written more than once with identical values, used once: acme-2",
        ]
        assert record_of(raw).fields["context_length"] == 272000

    def test_a_key_repeated_inside_an_entry_is_named(self) -> None:
        """A key written twice inside one entry is a warning too; the last value is used."""
        raw = price_map(
            entry("acme-1", ', "input_cost_per_token": 1e-06, "input_cost_per_token": 2e-06')
        )
        assert parse_catalog(raw)[1].warnings == [
            "key 'input_cost_per_token' is written 2 times in one entry with different values:"
            " the last one is used"
        ]
        assert record_of(raw).prices == {"prompt": Decimal("0.000002")}

    def test_other_shapes_keep_their_old_parse(self) -> None:
        """An OpenRouter payload is parsed as before: no repeated keys noted, floats from orjson."""
        raw = b'{"data": [{"id": "a/b", "id": "a/c", "top_provider": {"x": 0.5}}]}'
        payload = read_payload(raw)
        assert payload.duplicate_keys == ()
        assert payload.document["data"][0]["id"] == "a/c"
        assert type(payload.document["data"][0]["top_provider"]["x"]) is float


class TestFields:
    def test_what_becomes_what(self) -> None:
        """Common keys take OpenRouter's component names, other prices keep their own, mode is
        the category, true ``supports_*`` flags are supported parameters, modalities are
        modalities, and the rest (false flags, nested prices, Databricks units, names too
        long for a component) stays in ``extra`` as sent."""
        record = record_of(
            price_map(
                entry(
                    "acme-1",
                    ', "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,'
                    ' "cache_read_input_token_cost": 1e-07, "cache_creation_input_token_cost":'
                    ' 1.25e-06, "output_cost_per_reasoning_token": 3e-06,'
                    ' "input_cost_per_audio_token": 4e-06, "input_cost_per_image": 0.001,'
                    ' "input_cost_per_request": 0.01, "input_cost_per_token_above_200k_tokens":'
                    ' 2e-06, "output_cost_per_second_720p": 0.1, "input_cost_per_character": 0,'
                    ' "input_dbu_cost_per_token": 1.4e-05,'
                    ' "cache_creation_input_token_cost_above_12hr_above_272k_tokens_priority":'
                    " 1e-05,"
                    ' "search_context_cost_per_query": {"search_context_size_low": 0.005},'
                    ' "tiered_pricing": [{"input_cost_per_token": 5e-08, "range": [0, 256000.0]}],'
                    ' "supports_vision": true, "supports_pdf_input": false,'
                    ' "supported_modalities": ["text", "image"],'
                    ' "supported_output_modalities": ["text"]',
                )
            )
        )
        assert record.prices == {
            "prompt": Decimal("0.000001"),
            "completion": Decimal("0.000002"),
            "input_cache_read": Decimal("1e-07"),
            "input_cache_write": Decimal("0.00000125"),
            "internal_reasoning": Decimal("0.000003"),
            "audio": Decimal("0.000004"),
            "image": Decimal("0.001"),
            "request": Decimal("0.01"),
            "input_cost_per_token_above_200k_tokens": Decimal("0.000002"),
            "output_cost_per_second_720p": Decimal("0.1"),
        }
        assert record.fields["priced"] is True
        assert record.fields["categories"] == ("chat",)
        assert record.fields["supported_parameters"] == ("supports_vision",)
        assert record.fields["input_modalities"] == ("image", "text")
        assert record.fields["output_modalities"] == ("text",)
        assert record.extra == {
            "input_dbu_cost_per_token": 1.4e-05,
            "cache_creation_input_token_cost_above_12hr_above_272k_tokens_priority": 1e-05,
            "search_context_cost_per_query": {"search_context_size_low": 0.005},
            "tiered_pricing": [{"input_cost_per_token": 5e-08, "range": [0, 256000]}],
            "supports_pdf_input": False,
        }
        assert record.vendor == "acme"

    def test_an_entry_without_prices_is_unpriced_and_one_with_zeros_is_free(self) -> None:
        """No price key at all: unpriced (NULL). Only zero prices: priced and free."""
        catalog = catalog_of(
            price_map(
                entry("acme-1", ', "tiered_pricing": [{"input_cost_per_token": 5e-08}]'),
                entry("acme-2", ', "input_cost_per_token": 0.0, "output_cost_per_token": 0'),
            )
        )
        found = {r.model: (r.fields["priced"], dict(r.prices)) for r in catalog.records}
        assert found == {"acme-1": (False, {}), "acme-2": (True, {})}

    def test_the_real_nested_prices_stay_in_extra(self) -> None:
        """1.110.2's ``off_peak_pricing`` (``hours_utc`` a list in one window, a string in the
        next), ``tiered_pricing`` and price keys longer than 64 characters are kept in
        ``extra`` as sent; an entry with tiered prices only is unpriced."""
        catalog = catalog_of(gzip.decompress(V1_110.read_bytes()))
        records = {record.model: record for record in catalog.records}
        extras = {record.model: record.extra or {} for record in catalog.records}
        windows = extras["deepseek-flash"]["off_peak_pricing"]["windows"]
        assert [type(window["hours_utc"]) for window in windows] == [list, str]
        assert records["deepseek-flash"].prices["prompt"] == Decimal("3E-7")
        qwen = records["dashscope/qwen-flash"]
        assert (qwen.fields["priced"], extras[qwen.model]["tiered_pricing"][1]["range"]) == (
            False,
            [256000, 1000000],
        )
        long_keys = [key for key in extras["gpt-6-astra"] if len(key) > 64]
        assert len(long_keys) == 4
        assert all(len(component) <= 64 for r in catalog.records for component in r.prices)

    @pytest.mark.parametrize(
        ("component", "expected"),
        [
            ("prompt", "token"),
            ("input_cost_per_token_above_128k_tokens", "token"),
            ("cache_read_input_token_cost_above_200k_tokens", "token"),
            ("cache_creation_input_audio_token_cost", "token"),
            ("input_cost_per_image_token", "token"),
            ("cost_per_second", "second"),
            ("input_cost_per_audio_per_second", "second"),
            ("output_cost_per_second_1080p", "second"),
            ("input_cost_per_image_above_128k_tokens", "image"),
            ("output_cost_per_image_0.5K", "image"),
            ("input_cost_per_character", "character"),
            ("output_cost_per_pixel", "pixel"),
            ("input_cost_per_query", "query"),
            ("ocr_cost_per_page", "page"),
            ("ocr_cost_per_credit", "credit"),
            ("code_interpreter_cost_per_session", "session"),
            ("input_cost_per_text_message", "message"),
            ("computer_use_input_cost_per_1k_tokens", "1k tokens"),
            ("file_search_cost_per_1k_calls", "1k calls"),
            ("vector_store_cost_per_gb_per_day", "GB-day"),
            ("web_search", "search"),
            ("some_new_component", "unit"),
        ],
    )
    def test_units_come_from_the_name(self, component: str, expected: str) -> None:
        """Each component's unit; only per-token ones have a per-1M-token value."""
        assert unit(component) == expected
        amount = per_million(Decimal("0.000002"), component)
        assert amount == (Decimal("2") if expected == "token" else None)

    def test_openrouter_names_are_not_litellm_names(self) -> None:
        """The OpenRouter components keep the units they had."""
        for component in ("prompt", "completion", "request", "image", "web_search", "audio"):
            assert price_unit(component) is None


class TestReleases:
    def test_releases_sync_in_order_with_their_warnings(
        self, database_url: str, engine: Engine
    ) -> None:
        """The six releases sync one after the other; non-models are never models, and each
        release's surprises are warnings naming the entries."""
        runs = sync_releases(database_url)
        assert [run["status"] for run in runs] == ["succeeded"] * 6
        assert {run["shape"] for run in runs} == {"litellm"}
        assert [run["models_seen"] for run in runs] == [22, 32, 34, 39, 36, 32]
        warnings = [run["warnings"] for run in runs]
        assert warnings[0] == [
            "skipped 2 entries that are not models: 2 without a litellm_provider"
            " (together-ai-up-to-3b, together-ai-3.1b-7b)"
        ]
        assert warnings[1] == []  # sample_spec is documentation, skipped silently
        assert warnings[2] == [
            "2 models are written more than once with identical values, used once:"
            " perplexity/sonar, perplexity/sonar-pro"
        ]
        assert warnings[3][0] == (
            "model 'gpt-5-codex' is written 2 times with different values: the last one is used"
        )
        assert "bedrock/claude-opus-latest" in warnings[5][0]
        assert "fallback_generalizations" in warnings[5][0]
        with engine.connect() as connection:
            stored = set(connection.execute(select(models_table.c.model)).scalars())
        not_models = {
            "sample_spec",
            "fallback_generalizations",
            "bedrock/claude-opus-latest",
            "azure_ai/claude-opus-latest",
            "together-ai-up-to-3b",
            "together-ai-3.1b-7b",
        }
        assert stored.isdisjoint(not_models)
        assert {"gpt-4", "together-ai-up-to-4b", "deepseek-flash"} <= stored
        assert_invariants(engine)  # rebuilding from the archive gives the same tables

    def test_the_last_copy_of_a_duplicated_model_is_stored(self, database_url: str) -> None:
        """1.77.7 writes ``gpt-5-codex`` twice (``chat``, 400000; ``responses``, 272000): the
        catalog as of that release holds the second, and ``2e6`` is the integer 2000000."""
        assert '"mode": "chat"' in text_of(V1_77).split('"gpt-5-codex"')[1]
        for path in RELEASES[:4]:
            sync(database_url, path)
        out, _ = run("models", "--database-url", database_url, "--format", "json")
        models = {m["model"]: m for m in json.loads(out)["models"]}
        codex = models["gpt-5-codex"]
        assert (codex["categories"], codex["context_length"]) == (["responses"], 272000)
        assert '"max_input_tokens": 2e6,' in text_of(V1_77)
        assert models["xai/grok-4-fast-reasoning"]["context_length"] == 2000000
        assert models["gpt-4"]["pricing"] == {"prompt": "0.00003", "completion": "0.00006"}

    def test_a_respelled_price_is_no_change_and_a_real_change_is(self, database_url: str) -> None:
        """``0.00003`` (1.0.0 to 1.63.7) then ``3e-05`` (1.77.7) is one price: no change. Real
        moves between releases are price changes, with their exact digits; a move of one
        part in a million is rounding noise, listed apart."""
        assert '"input_cost_per_token": 0.00003,' in text_of(V1_63).split('"gpt-4"')[1]
        assert '"input_cost_per_token": 3e-05,' in text_of(V1_77).split('"gpt-4"')[1]
        sync_releases(database_url)
        whole = diff(database_url, V1_0, V1_110, "--events", "--model", "gpt-4*")
        assert prices_of(whole, "gpt-4") == {}
        assert prices_of(whole, "gpt-4-0613").keys() == {  # batch prices came in 1.63.7
            "input_cost_per_token_batches",
            "output_cost_per_token_batches",
        }

        respelled = diff(database_url, V1_63, V1_77)
        assert prices_of(respelled, "gpt-3.5-turbo") == {
            "prompt": ("0.0000015", "0.0000005"),
            "completion": ("0.000002", "0.0000015"),
        }
        assert prices_of(respelled, "claude-3-5-haiku-20241022")["input_cache_read"] == (
            "0.0000008",
            "0.00000008",
        )
        assert all(c["model"] != "gpt-4" for c in respelled["price_changes"])

        later = diff(database_url, V1_77, V1_83)
        # 1.77.7 writes 2e6 where 1.83.8 writes 2000000.0: the same whole number.
        assert '"max_input_tokens": 2000000.0,' in text_of(V1_83)
        grok = [c["field"] for c in later["changes"] if c["model"] == "xai/grok-4-fast-reasoning"]
        assert grok == ["supported_parameters"]  # supports_reasoning dropped; limits unchanged
        maverick = prices_of(later, "databricks/databricks-llama-4-maverick")
        assert maverick["completion"] == ("0.000015", "0.0000015000300000000002")
        noise = prices_of(
            later, "databricks/databricks-meta-llama-3-70b-instruct", "rounding_noise"
        )
        assert noise == {"completion": ("0.00000299999", "0.0000029999900000000002")}
        assert later["summary"]["rounding_noise"] == 2

    def test_components_are_shown_in_their_units(self, database_url: str) -> None:
        """A per-second price is per second (no per-1M value); a LiteLLM per-token component
        has its per-1M value."""
        for path in RELEASES[:3]:
            sync(database_url, path)
        report = diff(database_url, V1_55, V1_63)
        changes = {(c["model"], c["component"]): c for c in report["price_changes"]}
        whisper = changes[("whisper-1", "input_cost_per_second")]
        assert (whisper["unit"], whisper["new"], whisper["new_per_million"]) == (
            "second",
            "0.0001",
            None,
        )
        batches = changes[("gpt-4o", "input_cost_per_token_batches")]
        assert (batches["unit"], batches["new_per_million"]) == ("token", "1.25")

    def test_spellings_of_zero_and_of_a_price_write_nothing(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """A release that writes ``3e-05`` as ``0.00003`` and ``0`` as ``0.0``, and nothing
        else different, writes no version and no price change."""
        first, second = tmp_path / "a.json", tmp_path / "b.json"
        first.write_bytes(
            price_map(
                entry("acme-1", ', "input_cost_per_token": 3e-05, "output_cost_per_token": 0')
            )
        )
        second.write_bytes(
            price_map(
                entry("acme-1", ', "input_cost_per_token": 0.00003, "output_cost_per_token": 0.0')
            )
        )
        sync(database_url, first, "2026-01-01T00:00:00Z")
        again = sync(database_url, second, "2026-01-02T00:00:00Z")
        assert (again["versions_written"], again["price_changes"]) == (0, 0)

    def test_backfilled_releases_equal_the_syncs(
        self, database_url: str, engine: Engine, make_database: Any, tmp_path: Path
    ) -> None:
        """``backfill`` of the six files in one go gives the history the syncs in order give."""
        sync_releases(database_url)
        other = make_database()
        url = other.url.render_as_string(hide_password=False)
        out, _ = run("backfill", str(DATA / "litellm"), "--database-url", url, "--format", "json")
        assert json.loads(out)["applied"] == 6
        assert natural_history(other) == natural_history(engine)


class TestProviderLeavingTheFile:
    def _models(self, engine: Engine) -> dict[str, bool]:
        with engine.connect() as connection:
            rows = connection.execute(select(models_table.c.model, models_table.c.available))
            return dict(rows.all())

    def test_its_models_are_removed_and_rebuild_agrees(self, engine: Engine) -> None:
        """The price map lists every provider of LiteLLM: a provider gone from a later
        release has no models now, so its models are removed (and listed again when it
        comes back); rebuilding from the archive, or merging the releases late, gives the
        same history."""
        from etl.pipeline import sync_bytes

        both = price_map(entry("a-1", ', "input_cost_per_token": 1e-06'), entry("b-1", "", "beta"))
        acme_only = price_map(entry("a-1", ', "input_cost_per_token": 1e-06'))
        times = [datetime(2026, 1, day, tzinfo=UTC) for day in (1, 2, 3)]
        first = sync_bytes(engine, both, observed_at=times[0])
        gone = sync_bytes(engine, acme_only, observed_at=times[1])
        assert (first.ok, gone.ok, gone.removed) == (True, True, 1)
        assert gone.providers == {"acme": True, "beta": True}
        assert self._models(engine) == {"a-1": True, "b-1": False}
        back = sync_bytes(engine, both, observed_at=times[2])
        assert back.returned == 1 and self._models(engine)["b-1"] is True
        assert_invariants(engine)

    def test_a_large_provider_leaving_is_held_by_the_guard(self, engine: Engine) -> None:
        """A provider with many models vanishing from one release looks like an outage: the
        mass-removal guard holds it, as for any provider losing most of its models."""
        from etl.pipeline import sync_bytes

        beta = [entry(f"b-{n}", "", "beta") for n in range(6)]
        sync_bytes(
            engine, price_map(entry("a-1", ""), *beta), observed_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        held = sync_bytes(
            engine, price_map(entry("a-1", "")), observed_at=datetime(2026, 1, 2, tzinfo=UTC)
        )
        assert held.held_providers is not None and set(held.held_providers) == {"beta"}
        assert all(self._models(engine).values())


class TestAnalystViews:
    def _sql_units(self, engine: Engine, components: list[str]) -> dict[str, str]:
        from sqlalchemy import text

        from etl.db.views import View

        probe = View("probe", "SELECT {catalog_unit_p} FROM (SELECT :c AS component) p")
        query = text(probe.create(engine.dialect.name).split("\n", 1)[1])
        with engine.connect() as connection:
            return {c: connection.execute(query, {"c": c}).scalar_one() for c in components}

    def test_the_views_read_units_from_the_name_as_the_commands_do(self, engine: Engine) -> None:
        """The views of revision 0007 give every component the unit the commands give it:
        OpenRouter's names, and every LiteLLM price name of the six releases, read from the
        name after ``cost_per_`` (plus the edge cases of the rules)."""
        names = {
            component
            for path in RELEASES
            for entry in json.loads(text_of(path)).values()
            if isinstance(entry, dict)
            for key in entry
            if (component := component_name(key)) is not None
        }
        names |= {
            "web_search", "request", "image", "acme_rebate", "cost_per_second",
            "output_cost_per_video_per_second", "input_cost_per_audio_per_second_above_1h",
            "computer_use_input_cost_per_1k_tokens", "code_interpreter_cost_per_1k_calls",
            "vector_store_cost_per_gb_per_day", "output_cost_per_image_token",
            "cache_read_input_token_cost_batches", "input_cost_per_query", "foo_cost_per_bar",
            "input_cost_per_text_message", "ocr_cost_per_page",
        }  # fmt: skip
        words = ("character", "image", "pixel", "query", "request", "page", "credit", "session")
        names |= {f"input_cost_per_{word}" for word in (*words, "unit", "second", "token")}
        assert len(names) > 40
        assert self._sql_units(engine, sorted(names)) == {name: unit(name) for name in names}

    def test_current_prices_show_litellm_token_prices_per_million(self, engine: Engine) -> None:
        """A LiteLLM per-token component of its own has unit ``token`` and a per-1M value in
        the views; a per-second one has unit ``second`` and none."""
        from sqlalchemy import text

        from etl.pipeline import sync_bytes

        raw = price_map(
            entry(
                "acme-1",
                ', "input_cost_per_token_above_200k_tokens": 5e-06, "output_cost_per_second": 0.1',
            )
        )
        assert sync_bytes(engine, raw, observed_at=datetime(2026, 1, 1, tzinfo=UTC)).ok
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT component, unit, usd_per_million FROM current_prices")
            ).all()
        shown = {c: (u, None if m is None else Decimal(str(m))) for c, u, m in rows}
        assert shown == {
            "input_cost_per_token_above_200k_tokens": ("token", Decimal(5)),
            "output_cost_per_second": ("second", None),
        }
