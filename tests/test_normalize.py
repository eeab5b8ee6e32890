"""From parsed payloads to canonical model records, and records applied onto earlier states."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.ingest.money import DYNAMIC
from etl.ingest.normalize import (
    EMPTY_CONTENT,
    TRACKED_FIELDS,
    Catalog,
    ModelRecord,
    ModelState,
    canonical_hash,
    merge,
    vendor_of,
)
from etl.ingest.payload import read_payload
from etl.ingest.shapes import detect
from etl.ingest.validate import build_catalog
from tests.helpers import load_case, load_json, read_bytes

HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
FLAT_FREE = "meta-llama/llama-3.3-70b-instruct:free"


def catalog_of(document: Any, **options: Any) -> Catalog:
    return build_catalog(detect(document, **options))


def records_by_id(catalog: Catalog) -> dict[str, ModelRecord]:
    return {record.model: record for record in catalog.records}


def record_of(model: dict[str, Any]) -> ModelRecord:
    """The one record an OpenRouter payload holding only ``model`` gives."""
    catalog = catalog_of({"data": [model]})
    assert catalog.warnings == []
    (record,) = catalog.records
    return record


def gpt_4o() -> dict[str, Any]:
    """A fresh copy of the full OpenRouter model in tests/cases/openrouter_model.json."""
    model: dict[str, Any] = load_case("openrouter_model")["data"][0]
    return model


def flat_entry(model_id: str = "openai/gpt-4o") -> dict[str, Any]:
    return next(entry for entry in load_case("flat") if entry["id"] == model_id)


def flat_record(entry: dict[str, Any]) -> ModelRecord:
    catalog = catalog_of([entry])
    assert catalog.warnings == []
    (record,) = catalog.records
    return record


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def shuffled(value: Any, rng: random.Random, *, names: bool = True, objects: bool = False) -> Any:
    """The same JSON value with object keys in random order, and lists of names (``names``)
    or of objects (``objects``) shuffled too."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng, names=names, objects=objects) for key in keys}
    if isinstance(value, list):
        items = [shuffled(item, rng, names=names, objects=objects) for item in value]
        if (names and all(isinstance(item, str) for item in items)) or (
            objects and all(isinstance(item, dict) for item in items)
        ):
            rng.shuffle(items)
        return items
    return value


class TestVendorOf:
    @pytest.mark.parametrize(
        ("model", "provider", "vendor"),
        [
            ("openai/gpt-4o", "openrouter", "openai"),
            ("~anthropic/claude", "openrouter", "anthropic"),  # ~ marks an alias
            ("meta-llama/llama-3.3-70b-instruct:free", "openrouter", "meta-llama"),
            ("gpt-4o", "openai", "openai"),  # no slash: the provider is the vendor
            ("openrouter/auto", "openrouter", "openrouter"),
        ],
    )
    def test_vendor_from_id_prefix(self, model, provider, vendor):
        """The vendor is the id's prefix before the slash, or the provider without one."""
        assert vendor_of(model, provider) == vendor

    def test_record_vendor(self):
        """A record's vendor follows its model id."""
        assert record_of(gpt_4o()).vendor == "openai"


class TestCategories:
    def test_model_in_several_categories_is_one_record(self):
        """A model listed under text and image is one record with both categories."""
        catalog = catalog_of(load_case("categorized"))
        records = records_by_id(catalog)
        assert len(catalog.records) == 2
        assert catalog.warnings == []
        assert records["google/gemini-2.5-flash-image"].fields["categories"] == ("image", "text")
        assert records["mistralai/mistral-small"].fields["categories"] == ("text",)

    def test_real_v026_image_models(self):
        """In the v0.2.6 file the 4 image models are in both lists and become ("image","text")."""
        catalog = catalog_of(load_json("insforge/2025-11-19_insforge_v0.2.6.json.gz"))
        assert len(catalog.records) == 337
        assert catalog.warnings == []
        by_categories: dict[tuple[str, ...], set[str]] = {}
        for record in catalog.records:
            by_categories.setdefault(record.fields["categories"], set()).add(record.model)
        assert by_categories[("image", "text")] == {
            "openai/gpt-5-image-mini",
            "openai/gpt-5-image",
            "google/gemini-2.5-flash-image",
            "google/gemini-2.5-flash-image-preview",
        }
        assert set(by_categories) == {("image", "text"), ("text",)}
        assert len(by_categories[("text",)]) == 333

    @pytest.mark.parametrize(
        ("outputs", "categories"),
        [
            (["text"], ("text",)),
            (["text", "image"], ("image", "text")),  # sorted
            ([], ()),
        ],
    )
    def test_openrouter_categories_follow_output_modalities(self, outputs, categories):
        """In OpenRouter's shape a model's categories are its output modalities."""
        model = gpt_4o()
        model["architecture"]["output_modalities"] = outputs
        record = record_of(model)
        assert record.fields["categories"] == categories
        assert record.fields["output_modalities"] == categories

    def test_openrouter_without_architecture_reports_no_categories(self):
        """Without an architecture block neither modalities nor categories are reported."""
        model = gpt_4o()
        del model["architecture"]
        fields = record_of(model).fields
        assert "categories" not in fields
        assert "output_modalities" not in fields


class TestSpellings:
    def test_camel_case_equals_snake_case(self):
        """camelCase architecture/top provider/ids (and instructType "") equal snake_case."""
        snake = catalog_of(load_case("openrouter_model")).records[0]
        camel = catalog_of(load_case("openrouter_model_camel")).records[0]
        assert camel.fields == snake.fields
        assert camel.extra == snake.extra == {}
        assert camel.prices == snake.prices
        assert camel.record_hash == snake.record_hash

    @pytest.mark.parametrize(
        "architecture",
        [
            {"instruct_type": None},
            {"instruct_type": ""},
            {"instructType": ""},
            {"instructType": None},
        ],
    )
    def test_empty_instruct_type_is_null(self, architecture):
        """An instruct type of "" (InsForge) is the same as null (OpenRouter)."""
        model = gpt_4o()
        model["architecture"] = {"input_modalities": ["text"], "output_modalities": ["text"]}
        model["architecture"].update(architecture)
        assert record_of(model).fields["instruct_type"] is None

    def test_instruct_type_value_is_kept(self):
        """A non-empty instruct type is kept as sent."""
        model = gpt_4o()
        model["architecture"]["instruct_type"] = "chatml"
        assert record_of(model).fields["instruct_type"] == "chatml"

    def test_top_provider_spellings(self):
        """top_provider and topProvider (with camelCase keys) give the same fields."""
        snake = record_of(gpt_4o())
        model = gpt_4o()
        model["topProvider"] = {
            "contextLength": 128000,
            "maxCompletionTokens": 16384,
            "isModerated": True,
        }
        del model["top_provider"]
        camel = record_of(model)
        assert camel.fields == snake.fields
        assert camel.record_hash == snake.record_hash
        assert snake.fields["top_provider_context_length"] == 128000
        assert snake.fields["max_completion_tokens"] == 16384
        assert snake.fields["is_moderated"] is True

    def test_absent_top_provider_reports_nothing(self):
        """Without a top provider block its fields are not reported (not null)."""
        model = gpt_4o()
        del model["top_provider"]
        fields = record_of(model).fields
        for name in ("top_provider_context_length", "max_completion_tokens", "is_moderated"):
            assert name not in fields

    def test_null_top_provider_is_null(self):
        """A top provider block sent as null sets its fields to null."""
        model = gpt_4o()
        model["top_provider"] = None
        fields = record_of(model).fields
        for name in ("top_provider_context_length", "max_completion_tokens", "is_moderated"):
            assert fields[name] is None


class TestInsForgeVersions:
    def test_v110_merged_onto_v026_changes_nothing(self):
        """v1.1.0 (camelCase, no modality) applied onto the v0.2.6 state gives identical states."""
        v026 = catalog_of(load_json("insforge/2025-11-19_insforge_v0.2.6.json.gz"))
        v110 = catalog_of(load_json("insforge/2025-11-19_insforge_v1.1.0.json.gz"))
        assert v110.warnings == []
        before = {record.model: merge(None, record) for record in v026.records}
        after = {record.model: merge(before[record.model], record) for record in v110.records}
        assert set(after) == set(before)
        for model, state in after.items():
            assert state.content == before[model].content, model
            assert state.prices == before[model].prices, model
            assert state.content_hash == before[model].content_hash, model

    def test_v110_does_not_report_modality(self):
        """v1.1.0 lacks modality: it is not reported, so the v0.2.6 value is kept on merge."""
        v026 = records_by_id(catalog_of(load_json("insforge/2025-11-19_insforge_v0.2.6.json.gz")))
        v110 = records_by_id(catalog_of(load_json("insforge/2025-11-19_insforge_v1.1.0.json.gz")))
        model = "openai/gpt-5-image"
        assert "modality" not in v110[model].fields
        assert v026[model].fields["modality"] == "text+image->text+image"
        state = merge(merge(None, v026[model]), v110[model])
        assert state.content["modality"] == "text+image->text+image"


class TestRepresentation:
    def test_key_order_does_not_matter(self):
        """The same model with every object's keys reversed has the same record hash."""
        assert record_of(reversed_keys(gpt_4o())).record_hash == record_of(gpt_4o()).record_hash

    def test_list_order_does_not_matter(self):
        """Modalities and parameters in another order give the same record hash."""
        model = gpt_4o()
        model["architecture"]["input_modalities"].reverse()
        model["supported_parameters"].reverse()
        assert record_of(model).record_hash == record_of(gpt_4o()).record_hash

    def test_repeated_names_do_not_matter(self):
        """A parameter listed twice is the same set as listed once."""
        model = gpt_4o()
        model["supported_parameters"].append("tools")
        assert record_of(model).record_hash == record_of(gpt_4o()).record_hash

    def test_trailing_zeros_in_prices_do_not_matter(self):
        """ "0.0000030" and "0.000003" are the same price and the same record hash."""
        a, b = gpt_4o(), gpt_4o()
        a["pricing"]["prompt"] = "0.0000030"
        b["pricing"]["prompt"] = "0.000003"
        assert record_of(a).record_hash == record_of(b).record_hash
        assert record_of(a).prices == record_of(b).prices

    @pytest.mark.parametrize("component", ["request", "web_search", "internal_reasoning"])
    def test_zero_component_no_longer_sent(self, component):
        """A zero price component that stops being sent changes neither record nor state."""
        model = gpt_4o()
        assert model["pricing"][component] == "0"
        del model["pricing"][component]
        record, full = record_of(model), record_of(gpt_4o())
        assert record.record_hash == full.record_hash
        previous = merge(None, full)
        assert merge(previous, record) == previous

    @given(st.randoms(use_true_random=False))
    def test_order_never_matters(self, rng):
        """Any order of keys, modalities and parameters gives the same record and content hash."""
        original = record_of(gpt_4o())
        reordered = record_of(shuffled(gpt_4o(), rng))
        assert reordered.record_hash == original.record_hash
        assert merge(None, reordered).content_hash == merge(None, original).content_hash

    @given(st.randoms(use_true_random=False))
    def test_categorized_order_never_matters(self, rng):
        """Reordering categories, entries, models and keys of a categorized payload changes no
        record hash."""
        original = records_by_id(catalog_of(load_case("categorized")))
        document = shuffled(load_case("categorized"), rng, names=False, objects=True)
        reordered = records_by_id(catalog_of(document))
        assert {k: r.record_hash for k, r in reordered.items()} == {
            k: r.record_hash for k, r in original.items()
        }


class TestPricing:
    @pytest.mark.parametrize("pricing", ["absent", None])
    def test_no_pricing_block_is_unpriced(self, pricing):
        """A model without a pricing block (or with null) is unpriced: priced False, no prices."""
        model = gpt_4o()
        if pricing == "absent":
            del model["pricing"]
        else:
            model["pricing"] = pricing
        record = record_of(model)
        assert record.fields["priced"] is False
        assert record.prices == {}
        state = merge(None, record)
        assert state.content["priced"] is False
        assert state.prices == {}

    @pytest.mark.parametrize(
        "pricing",
        [
            {"prompt": "0", "completion": "0", "request": "0"},  # all zeros
            {"prompt": "0.000", "completion": "0E-8"},  # zeros in other spellings
            {},  # an empty block: every component is "0"
        ],
    )
    def test_all_zero_block_is_priced_and_free(self, pricing):
        """A pricing block of zeros is priced and free: priced True, no price components."""
        model = gpt_4o()
        model["pricing"] = pricing
        record = record_of(model)
        assert record.fields["priced"] is True
        assert record.prices == {}
        assert merge(None, record).prices == {}

    def test_unpriced_and_free_differ(self):
        """Unpriced and free are different records."""
        unpriced, free = gpt_4o(), gpt_4o()
        del unpriced["pricing"]
        free["pricing"] = {"prompt": "0", "completion": "0"}
        assert record_of(unpriced).record_hash != record_of(free).record_hash

    def test_prices_are_exact_non_zero_components(self):
        """Non-zero components are kept as exact decimals; zero components are left out."""
        model = gpt_4o()
        model["pricing"]["prompt"] = "0.00000008333333333333334"
        record = record_of(model)
        assert record.prices == {
            "prompt": Decimal("0.00000008333333333333334"),
            "completion": Decimal("0.00001"),
            "image": Decimal("0.003613"),
            "input_cache_read": Decimal("0.00000125"),
        }
        assert record.fields["priced"] is True

    def test_minus_one_is_dynamic(self):
        """A component of "-1" is the DYNAMIC marker, kept in the state's prices."""
        model = gpt_4o()
        model["pricing"] = {"prompt": "-1", "completion": "-1"}
        record = record_of(model)
        assert record.prices == {"prompt": DYNAMIC, "completion": DYNAMIC}
        assert merge(None, record).prices == {"prompt": DYNAMIC, "completion": DYNAMIC}

    def test_real_router_is_dynamic(self):
        """openrouter/auto in a real capture is priced dynamically."""
        catalog = catalog_of(load_json("openrouter/2025-11-19_teatreechat.json.gz"))
        auto = records_by_id(catalog)["openrouter/auto"]
        assert auto.prices["prompt"] == DYNAMIC
        assert auto.prices["completion"] == DYNAMIC

    def test_discount_overrides_and_other_keys(self):
        """overrides go to pricing_overrides, discount to canonical text, other keys to extra."""
        record = catalog_of(load_case("pricing_extras")).records[0]
        assert record.fields["pricing_overrides"] == [
            {"above_tokens": 200000, "prompt": "0.0000025", "completion": "0.000015"}
        ]
        assert record.fields["pricing_discount"] == "0.25"
        assert record.extra == {"pricing": {"tiers": {"batch": "0.5"}, "cache_ttl_seconds": 300}}
        assert record.prices == {"prompt": Decimal("0.00000125"), "completion": Decimal("0.00001")}
        state = merge(None, record)
        assert state.content["pricing_discount"] == "0.25"
        assert state.content["extra"] == record.extra

    @pytest.mark.parametrize(
        ("discount", "text"),
        [
            (Decimal("0.250"), "0.25"),  # trailing zero
            (Decimal("1E-1"), "0.1"),  # exponent
            (0, "0"),  # integer
        ],
    )
    def test_discount_is_canonical_text(self, discount, text):
        """A numeric discount is stored as canonical decimal text."""
        model = gpt_4o()
        model["pricing"]["discount"] = discount
        assert record_of(model).fields["pricing_discount"] == text

    def test_no_discount_or_overrides_is_null(self):
        """A pricing block without discount and overrides reports both as null."""
        fields = record_of(gpt_4o()).fields
        assert fields["pricing_discount"] is None
        assert fields["pricing_overrides"] is None


class TestReportedFields:
    @pytest.mark.parametrize(
        "name",
        [
            "name",
            "description",
            "created",
            "context_length",
            "canonical_slug",
            "hugging_face_id",
            "supported_parameters",
        ],
    )
    def test_absent_field_is_not_reported_and_kept(self, name):
        """A field the payload leaves out is not in the record, and merge keeps its old value."""
        full = record_of(gpt_4o())
        model = gpt_4o()
        del model[name]
        record = record_of(model)
        assert name not in record.fields
        previous = merge(None, full)
        assert merge(previous, record).content[name] == previous.content[name]
        assert previous.content[name] is not None

    @pytest.mark.parametrize(
        ("name", "empty"),
        [
            ("name", None),
            ("description", None),
            ("created", None),
            ("context_length", None),
            ("canonical_slug", None),
            ("supported_parameters", ()),
        ],
    )
    def test_explicit_null_is_null(self, name, empty):
        """A field sent as null is reported as null and replaces the old value on merge."""
        full = record_of(gpt_4o())
        model = gpt_4o()
        model[name] = None
        record = record_of(model)
        assert record.fields[name] == empty
        assert merge(merge(None, full), record).content[name] == empty

    def test_absent_architecture_keeps_modalities(self):
        """Without an architecture block, modalities, tokenizer and categories are kept."""
        previous = merge(None, record_of(gpt_4o()))
        model = gpt_4o()
        del model["architecture"]
        state = merge(previous, record_of(model))
        for name in ("modality", "tokenizer", "input_modalities", "output_modalities"):
            assert state.content[name] == previous.content[name]
        assert state.content["categories"] == ("text",)

    def test_absent_architecture_key_is_kept(self):
        """A key left out of a present architecture block (modality) is not reported."""
        model = gpt_4o()
        del model["architecture"]["modality"]
        record = record_of(model)
        assert "modality" not in record.fields
        previous = merge(None, record_of(gpt_4o()))
        assert merge(previous, record).content["modality"] == "text+image->text"

    def test_null_architecture_is_null(self):
        """An architecture block sent as null clears modality, tokenizer and modalities."""
        model = gpt_4o()
        model["architecture"] = None
        fields = record_of(model).fields
        assert fields["modality"] is None
        assert fields["tokenizer"] is None
        assert fields["input_modalities"] == ()
        assert fields["output_modalities"] == ()


class TestExtra:
    def test_unknown_fields_are_kept(self):
        """Unknown top-level, architecture and top provider keys land in extra, never dropped."""
        record = catalog_of(load_case("unknown_fields")).records[0]
        assert record.extra == {
            "knowledge_cutoff": "2025-03-01",
            "expiration_date": None,
            "links": {"details": "/api/v1/models/anthropic/claude-sonnet-4/endpoints"},
            "per_request_limits": None,
            "default_parameters": {"temperature": 0.7, "top_p": None},
            "architecture": {"vision_encoder": "none"},
            "top_provider": {"region": "us"},
        }
        assert record.fields["tokenizer"] == "Claude"
        assert record.fields["top_provider_context_length"] == 200000
        assert merge(None, record).content["extra"] == record.extra

    def test_extra_is_plain_json(self):
        """Extra survives a JSON round trip unchanged (no Decimal left in it)."""
        record = catalog_of(load_case("unknown_fields")).records[0]
        assert json.loads(json.dumps(record.extra)) == record.extra

    def test_unknown_field_change_changes_hash(self):
        """A changed unknown field changes the record and content hash."""
        a = catalog_of(load_case("unknown_fields")).records[0]
        document = load_case("unknown_fields")
        document["data"][0]["knowledge_cutoff"] = "2025-06-01"
        b = catalog_of(document).records[0]
        assert a.record_hash != b.record_hash
        assert merge(None, a).content_hash != merge(None, b).content_hash


class TestRejection:
    def test_invalid_records_are_skipped_with_a_warning(self):
        """Records failing validation are skipped, named in a warning with the reason."""
        catalog = catalog_of(load_case("invalid_records"))
        assert sorted(records_by_id(catalog)) == ["another/good", "good/model"]
        assert catalog.listed_but_rejected == {
            ("openrouter", "bad/price-text"),
            ("openrouter", "bad/negative-price"),
            ("openrouter", "bad/context-length"),
        }
        warnings = "\n".join(catalog.warnings)
        assert len(catalog.warnings) == 4
        assert re.search(r"bad/price-text.*pricing\.prompt", warnings)
        assert re.search(r"bad/negative-price.*pricing\.prompt.*negative", warnings)
        assert re.search(r"bad/context-length.*context_length", warnings)
        assert re.search(r"no id", warnings)

    def test_good_records_are_intact(self):
        """The valid records of a payload with invalid ones are normalized as usual."""
        records = records_by_id(catalog_of(load_case("invalid_records")))
        assert records["good/model"].fields["name"] == "Good"
        assert records["good/model"].prices == {
            "prompt": Decimal("0.000001"),
            "completion": Decimal("0.000002"),
        }
        assert records["another/good"].fields["priced"] is False

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            ({"name": 123}, "name"),  # not a string
            ({"context_length": -5}, "context_length"),  # negative count
            ({"context_length": 2**64}, "context_length"),  # beyond BIGINT
            ({"created": "yesterday"}, "created"),
            ({"supported_parameters": "tools"}, "supported_parameters"),  # not a list
            ({"architecture": {"input_modalities": [1]}}, "architecture"),
            ({"top_provider": {"is_moderated": "maybe"}}, "top_provider"),
            ({"pricing": {"prompt": "NaN"}}, "pricing.prompt"),
            ({"pricing": {"completion": "-0.5"}}, "pricing.completion"),
            ({"pricing": ["0.1"]}, "pricing"),  # not an object
            ({"id": "x/" + "y" * 300}, "id"),  # too long for the column
        ],
    )
    def test_listed_but_invalid_model_is_rejected(self, change, where):
        """A listed model with an invalid field is rejected, named, and marked listed."""
        model = gpt_4o()
        model.update(change)
        catalog = catalog_of({"data": [model, {"id": "other/model"}]})
        assert [record.model for record in catalog.records] == ["other/model"]
        assert catalog.listed_but_rejected == {("openrouter", model["id"])}
        (warning,) = catalog.warnings
        assert model["id"] in warning
        assert where in warning

    @pytest.mark.parametrize("model_id", ["absent", None, "", 42])
    def test_model_without_usable_id_is_skipped(self, model_id):
        """A model without a usable id is skipped with a warning; the others are kept."""
        model = gpt_4o()
        if model_id == "absent":
            del model["id"]
        else:
            model["id"] = model_id
        catalog = catalog_of({"data": [model, {"id": "other/model"}]})
        assert [record.model for record in catalog.records] == ["other/model"]
        assert len(catalog.warnings) == 1
        assert "no id" in catalog.warnings[0]

    def test_duplicates(self):
        """Identical copies are one model; copies that differ are all rejected with a warning."""
        catalog = catalog_of(load_case("duplicates"))
        assert sorted(records_by_id(catalog)) == ["same/model", "single/model"]
        assert catalog.listed_but_rejected == {("openrouter", "different/model")}
        (warning,) = catalog.warnings
        assert "different/model" in warning
        assert "different content" in warning

    @pytest.mark.parametrize(
        ("path", "first", "second"),
        [
            ("architecture.input_modalities", ["image", "text"], ["text", "image"]),  # order
            ("pricing.image", "0.0012380", "0.001238"),  # trailing zero
        ],
    )
    def test_copies_differing_only_in_representation_are_one_model(self, path, first, second):
        """Copies of a model in two categories that differ only in representation are one model."""
        document = load_case("categorized")
        _set(path, first)(document["text"][0]["models"][0])
        _set(path, second)(document["image"][0]["models"][0])
        catalog = catalog_of(document)
        assert catalog.warnings == []
        assert catalog.listed_but_rejected == set()
        record = records_by_id(catalog)["google/gemini-2.5-flash-image"]
        assert record.fields["categories"] == ("image", "text")

    def test_flat_price_that_is_not_a_number_is_rejected(self):
        """A flat entry whose price is not a JSON number is rejected, naming the prices."""
        entry = flat_entry()
        entry["inputPrice"] = "cheap"
        catalog = catalog_of([entry, flat_entry(FLAT_FREE)])
        assert [record.model for record in catalog.records] == [FLAT_FREE]
        assert catalog.listed_but_rejected == {("openrouter", "openai/gpt-4o")}
        assert "inputPrice" in catalog.warnings[0]

    def test_flat_entry_without_price_is_rejected(self):
        """A flat entry without inputPrice is rejected, not read as free."""
        entry = flat_entry()
        del entry["inputPrice"]
        catalog = catalog_of([entry])
        assert catalog.records == []
        assert catalog.listed_but_rejected == {("openrouter", "openai/gpt-4o")}


class TestText:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("name", "OpenAI: GPT-4o  "),  # trailing spaces
            ("name", "  leading"),
            ("description", "\nTwo  spaces,\ttabs and a trailing newline\n"),
            ("description", "Qwen: 通义千问 — “quotes” café"),
            ("description", ""),  # empty is not null
            ("hugging_face_id", " org/model "),
        ],
    )
    def test_text_is_stored_exactly_as_sent(self, name, value):
        """Text fields are kept exactly as sent: no stripping, no normalization."""
        model = gpt_4o()
        model[name] = value
        record = record_of(model)
        assert record.fields[name] == value
        assert merge(None, record).content[name] == value

    def test_real_repaired_capture_normalizes(self):
        """The capture with lone surrogates, once repaired, normalizes every model."""
        payload = read_payload(read_bytes("openrouter/2025-06-19_teatreechat.json.gz"))
        catalog = build_catalog(detect(payload.document))
        assert len(catalog.records) == 323
        assert catalog.warnings == []
        for record in catalog.records:
            assert HEX_SHA256.match(record.record_hash)


class TestNormalizeFlat:
    def test_flat_record_is_partial(self):
        """A flat record reports modalities and prompt/completion only, both marked partial."""
        record = flat_record(flat_entry())
        assert record.prices_partial is True
        assert record.extra_partial is True
        assert record.prices == {"prompt": Decimal("0.0000025"), "completion": Decimal("0.00001")}
        assert record.fields == {
            "priced": True,
            "created": 1715558400,
            "input_modalities": ("file", "image", "text"),
            "output_modalities": ("text",),
            "categories": ("text",),
        }

    def test_zero_prices_are_kept_in_the_record(self):
        """In a partial record a zero price is reported, not left out."""
        record = flat_record(flat_entry(FLAT_FREE))
        assert record.prices == {"prompt": Decimal(0), "completion": Decimal(0)}
        assert merge(None, record).prices == {}

    @pytest.mark.parametrize(
        ("per_million", "per_token"),
        [
            (Decimal("0.5"), Decimal("0.0000005")),
            (Decimal("0.083333"), Decimal("0.000000083333")),
            (15, Decimal("0.000015")),
        ],
    )
    def test_prices_are_exact_per_token(self, per_million, per_token):
        """inputPrice/outputPrice per 1M tokens become exact per-token prices."""
        entry = flat_entry()
        entry["inputPrice"] = entry["outputPrice"] = per_million
        record = flat_record(entry)
        assert record.prices == {"prompt": per_token, "completion": per_token}

    def test_unknown_flat_keys_go_to_extra(self):
        """Unknown keys of a flat entry are kept in extra."""
        entry = flat_entry()
        entry["tier"] = "pro"
        entry["contextWindow"] = 128000
        assert flat_record(entry).extra == {"tier": "pro", "contextWindow": 128000}

    def test_merge_onto_full_state_keeps_what_flat_does_not_report(self):
        """Merged onto a full state, a flat record keeps name, context length and other prices."""
        previous = merge(None, record_of(gpt_4o()))
        entry = flat_entry()
        entry["inputPrice"], entry["outputPrice"] = 3, Decimal("12.5")
        state = merge(previous, flat_record(entry))
        for name in ("name", "description", "context_length", "supported_parameters", "tokenizer"):
            assert state.content[name] == previous.content[name]
        assert state.prices == {
            "prompt": Decimal("0.000003"),
            "completion": Decimal("0.0000125"),
            "image": Decimal("0.003613"),
            "input_cache_read": Decimal("0.00000125"),
        }

    def test_merge_keeps_request_price(self):
        """A per-request price the flat list cannot express survives a flat merge."""
        model = gpt_4o()
        model["pricing"]["request"] = "0.005"
        previous = merge(None, record_of(model))
        state = merge(previous, flat_record(flat_entry()))
        assert state.prices["request"] == Decimal("0.005")

    def test_zero_flat_price_removes_the_component(self):
        """A flat price of 0 removes that component from the merged prices."""
        previous = merge(None, record_of(gpt_4o()))
        entry = flat_entry()
        entry["inputPrice"] = 0
        state = merge(previous, flat_record(entry))
        assert "prompt" not in state.prices
        assert state.prices["completion"] == Decimal("0.00001")
        assert state.prices["image"] == Decimal("0.003613")

    def test_merge_extra_is_partial(self):
        """Flat extra keys are added to the previous extra instead of replacing it."""
        previous = merge(None, catalog_of(load_case("unknown_fields")).records[0])
        entry = flat_entry()
        entry["id"] = entry["modelId"] = "anthropic/claude-sonnet-4"
        entry["tier"] = "pro"
        state = merge(previous, flat_record(entry))
        assert state.content["extra"] == {**previous.content["extra"], "tier": "pro"}

    def test_flat_onto_nothing(self):
        """A flat record applied to no previous state has no name and only non-zero prices."""
        state = merge(None, flat_record(flat_entry()))
        assert state.content["name"] is None
        assert state.content["context_length"] is None
        assert state.prices == {"prompt": Decimal("0.0000025"), "completion": Decimal("0.00001")}

    def test_real_current_file(self):
        """Every model of InsForge's current flat list is a partial record with exact prices."""
        catalog = catalog_of(load_json("insforge/2026-05-01_insforge_current.json.gz"))
        assert len(catalog.records) == 371
        assert catalog.warnings == []
        first = records_by_id(catalog)["openai/gpt-3.5-turbo"]
        assert first.prices == {"prompt": Decimal("0.0000005"), "completion": Decimal("0.0000015")}
        for record in catalog.records:
            assert record.prices_partial
            assert set(record.prices) == {"prompt", "completion"}
            assert all(isinstance(price, Decimal) for price in record.prices.values())


class TestMerge:
    def test_merge_onto_nothing_fills_defaults(self):
        """merge(None, record) fills every unreported tracked field with its empty default."""
        model = {"id": "tiny/model", "name": "Tiny"}
        state = merge(None, record_of(model))
        assert set(state.content) == set(TRACKED_FIELDS)
        for name in TRACKED_FIELDS:
            if name != "name":
                assert state.content[name] == EMPTY_CONTENT[name], name
        assert state.content["name"] == "Tiny"
        assert state.prices == {}

    def test_full_record_content(self):
        """A full record's state holds its fields, extra and non-zero prices."""
        record = record_of(gpt_4o())
        state = merge(None, record)
        assert state.content == {**EMPTY_CONTENT, **record.fields, "extra": {}}
        assert state.prices == record.prices

    def test_full_pricing_block_replaces_prices(self):
        """A component missing from a later full pricing block is gone (it is "0")."""
        previous = merge(None, record_of(gpt_4o()))
        model = gpt_4o()
        del model["pricing"]["image"]
        state = merge(previous, record_of(model))
        assert "image" not in state.prices
        assert state.prices["prompt"] == Decimal("0.0000025")

    def test_unpriced_record_clears_prices(self):
        """A record that becomes unpriced leaves the state with no prices."""
        previous = merge(None, record_of(gpt_4o()))
        model = gpt_4o()
        del model["pricing"]
        state = merge(previous, record_of(model))
        assert state.content["priced"] is False
        assert state.prices == {}

    def test_merge_is_idempotent(self):
        """Applying the same record twice gives the same state as applying it once."""
        record = record_of(gpt_4o())
        once = merge(None, record)
        assert merge(once, record) == once

    def test_previous_state_is_not_modified(self):
        """merge returns a new state and leaves the previous one as it was."""
        previous = merge(None, record_of(gpt_4o()))
        snapshot = (dict(previous.content), dict(previous.prices))
        model = gpt_4o()
        model["name"] = "Renamed"
        model["pricing"]["prompt"] = "0.000005"
        merge(previous, record_of(model))
        merge(previous, flat_record(flat_entry()))
        assert (dict(previous.content), dict(previous.prices)) == snapshot


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(model: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = model
        for parent in parents:
            target = target[parent]
        target[last] = value

    return change


# Changes to tracked values: every one must change both the record and the content hash.
TRACKED_CHANGES = {
    "name": _set("name", "OpenAI: GPT-4o (2024-05-13)"),
    "description": _set("description", "Changed."),
    "context_length": _set("context_length", 64000),
    "created": _set("created", 1715558401),
    "modality": _set("architecture.modality", "text->text"),
    "input_modalities": _set("architecture.input_modalities", ["text"]),
    "output_modalities": _set("architecture.output_modalities", ["text", "audio"]),
    "tokenizer": _set("architecture.tokenizer", "o200k"),
    "instruct_type": _set("architecture.instruct_type", "chatml"),
    "max_completion_tokens": _set("top_provider.max_completion_tokens", 4096),
    "is_moderated": _set("top_provider.is_moderated", False),
    "supported_parameters": _set("supported_parameters", ["tools"]),
    "discount": _set("pricing.discount", Decimal("0.1")),
    "extra": _set("knowledge_cutoff", "2024-10-01"),
}

# Changes to prices only: they change the record hash (the content hash covers no prices).
PRICE_CHANGES = {
    "prompt": _set("pricing.prompt", "0.000003"),
    "dynamic": _set("pricing.prompt", "-1"),
    "new component": _set("pricing.audio", "0.00004"),
    "zero to non-zero": _set("pricing.request", "0.001"),
}


class TestHashes:
    def test_hashes_are_hex_sha256(self):
        """record_hash and content_hash are 64 lowercase hex digits."""
        record = record_of(gpt_4o())
        assert HEX_SHA256.match(record.record_hash)
        assert HEX_SHA256.match(merge(None, record).content_hash)

    def test_hashes_are_stable(self):
        """The same payload gives the same hashes every time."""
        a, b = record_of(gpt_4o()), record_of(gpt_4o())
        assert a.record_hash == b.record_hash
        assert merge(None, a).content_hash == merge(None, b).content_hash

    def test_canonical_hash_is_sha256_of_sorted_compact_json(self):
        """canonical_hash is sha256 of compact, key-sorted, non-ASCII-escaped JSON."""
        value = {"b": [1, "é"], "a": None}
        expected = hashlib.sha256('{"a":null,"b":[1,"é"]}'.encode()).hexdigest()
        assert canonical_hash(value) == expected

    @given(
        st.dictionaries(
            st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=5))
        ),
        st.randoms(use_true_random=False),
    )
    def test_canonical_hash_ignores_key_order(self, value, rng):
        """canonical_hash of a mapping does not depend on its key order."""
        keys = list(value)
        rng.shuffle(keys)
        assert canonical_hash({key: value[key] for key in keys}) == canonical_hash(value)

    def test_tuple_and_list_hash_alike(self):
        """A tuple and a list of the same items hash alike."""
        assert canonical_hash({"a": ("x", "y")}) == canonical_hash({"a": ["x", "y"]})

    @pytest.mark.parametrize("change", TRACKED_CHANGES.values(), ids=TRACKED_CHANGES.keys())
    def test_tracked_change_changes_hashes(self, change):
        """Changing a tracked value changes the record hash and the state's content hash."""
        original = record_of(gpt_4o())
        model = gpt_4o()
        change(model)
        changed = record_of(model)
        assert changed.record_hash != original.record_hash
        previous = merge(None, original)
        assert merge(previous, changed).content_hash != previous.content_hash

    @pytest.mark.parametrize("change", PRICE_CHANGES.values(), ids=PRICE_CHANGES.keys())
    def test_price_change_changes_record_hash(self, change):
        """Changing a price changes the record hash and the state's prices."""
        original = record_of(gpt_4o())
        model = gpt_4o()
        change(model)
        changed = record_of(model)
        assert changed.record_hash != original.record_hash
        assert merge(None, changed).prices != merge(None, original).prices

    def test_state_equality_follows_content_and_prices(self):
        """Two states are equal exactly when content and prices are."""
        record = record_of(gpt_4o())
        assert ModelState(dict(merge(None, record).content), dict(record.prices)) == merge(
            None, record
        )
