"""Recognising a catalog's shape, its model records and the providers it speaks for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from etl.ingest.payload import PayloadError
from etl.ingest.shapes import PAGES_KEY, RawCatalog, detect
from tests.helpers import load_case, load_json


def model(model_id: str) -> dict[str, object]:
    return {"id": model_id, "name": model_id, "pricing": {"prompt": "0.000001"}}


def page(ids: list[str], **envelope: object) -> dict[str, object]:
    return {"data": [model(i) for i in ids], **envelope}


def ids(catalog: RawCatalog) -> list[str]:
    return [record.document["id"] for record in catalog.records]


class TestDetectInsForgeCategorized:
    def test_documented_shape(self):
        """{"text": [{provider, configured, models}], "image": [...]} is InsForge categorized."""
        catalog = detect(load_case("categorized"))
        assert catalog.shape == "insforge-categorized"
        assert catalog.providers == {"openrouter": True}
        found = [(r.category, r.provider, r.document["id"]) for r in catalog.records]
        assert found == [
            ("text", "openrouter", "google/gemini-2.5-flash-image"),
            ("text", "openrouter", "mistralai/mistral-small"),
            ("image", "openrouter", "google/gemini-2.5-flash-image"),
        ]

    @pytest.mark.parametrize(
        "relative",
        [
            "insforge/2025-11-19_insforge_v0.2.6.json.gz",
            "insforge/2025-11-19_insforge_v1.1.0.json.gz",
        ],
    )
    def test_real_derived_files(self, relative):
        """Both InsForge categorized versions are recognised, with 337 text and 4 image entries."""
        catalog = detect(load_json(relative))
        assert catalog.shape == "insforge-categorized"
        assert catalog.providers == {"openrouter": True}
        categories = [record.category for record in catalog.records]
        assert categories.count("text") == 337
        assert categories.count("image") == 4

    def test_unconfigured_provider(self):
        """configured: false with empty lists says the provider is there but not configured."""
        catalog = detect(load_json("insforge/2025-11-19_insforge_unconfigured.json.gz"))
        assert catalog.shape == "insforge-categorized"
        assert catalog.providers == {"openrouter": False}
        assert catalog.records == []

    def test_default_provider_does_not_apply(self):
        """The categorized shape names its providers itself; default_provider is not used."""
        catalog = detect(load_case("categorized"), default_provider="elsewhere")
        assert catalog.providers == {"openrouter": True}

    @pytest.mark.parametrize(
        ("entry", "fragment"),
        [
            ({"configured": True, "models": []}, "without a provider"),  # no provider
            ({"provider": "", "configured": True, "models": []}, "without a provider"),
            ({"provider": "p", "configured": "yes", "models": []}, "configured"),
            ({"provider": "p", "configured": True, "models": {}}, "not a list"),
        ],
    )
    def test_malformed_entry_is_refused(self, entry, fragment):
        """A category entry without provider name, boolean configured or model list is refused."""
        with pytest.raises(PayloadError, match=fragment):
            detect({"text": [entry]})


class TestDetectOpenRouter:
    def test_data_envelope(self):
        """{"data": [...]} is OpenRouter's list, spoken for by the openrouter provider."""
        catalog = detect(load_case("openrouter_model"))
        assert catalog.shape == "openrouter"
        assert catalog.providers == {"openrouter": True}
        assert [(r.provider, r.category) for r in catalog.records] == [("openrouter", None)]

    def test_extra_envelope_keys_are_allowed(self):
        """Keys next to "data" (object, meta, links.next null) do not change the shape."""
        document = page(["a/one", "b/two"], object="list", meta={"v": 1}, links={"next": None})
        catalog = detect(document)
        assert catalog.shape == "openrouter"
        assert ids(catalog) == ["a/one", "b/two"]

    def test_bare_array(self):
        """A bare array of OpenRouter model objects is the OpenRouter shape."""
        catalog = detect([model("a/one"), model("b/two")])
        assert catalog.shape == "openrouter"
        assert catalog.providers == {"openrouter": True}
        assert ids(catalog) == ["a/one", "b/two"]

    def test_real_bare_array_capture(self):
        """A real daily capture stored as a bare array is read as OpenRouter."""
        catalog = detect(load_json("openrouter-daily/2026-03-02T010322Z.json.gz"))
        assert catalog.shape == "openrouter"
        assert len(catalog.records) > 300

    def test_default_provider_names_the_catalog(self):
        """default_provider names the provider of an OpenRouter-shaped payload."""
        catalog = detect(page(["a/one"]), default_provider="my-router")
        assert catalog.providers == {"my-router": True}
        assert [record.provider for record in catalog.records] == ["my-router"]

    @pytest.mark.parametrize(
        "envelope",
        [
            {"links": {"next": "https://example.test/models?page=2"}},  # a next link
            {"total_count": 3},  # more models than on this page
            {"total_count": 3, "links": {"next": None}},  # count says more even without a link
        ],
    )
    def test_single_page_of_many_is_refused(self, envelope):
        """A page that says more pages exist is refused: applying it would retire the rest."""
        with pytest.raises(PayloadError, match="paginated"):
            detect(page(["a/one", "b/two"], **envelope))

    @pytest.mark.parametrize(
        "envelope",
        [
            {"total_count": 2},  # the whole list
            {"links": {"next": None}},
            {"links": {"next": ""}},  # empty link: no next page
        ],
    )
    def test_single_complete_page_is_accepted(self, envelope):
        """A page whose count and links say it is the whole list is accepted."""
        assert ids(detect(page(["a/one", "b/two"], **envelope))) == ["a/one", "b/two"]


class TestDetectPaginatedArchive:
    def test_pages_are_joined_in_order(self):
        """{"catalog_etl_pages": [page, page]} is one OpenRouter catalog of every page's models."""
        document = {
            PAGES_KEY: [
                page(["a/one", "b/two"], links={"next": "?page=2"}, total_count=3),
                page(["c/three"], links={"next": None}, total_count=3),
            ]
        }
        catalog = detect(document)
        assert catalog.shape == "openrouter"
        assert catalog.providers == {"openrouter": True}
        assert ids(catalog) == ["a/one", "b/two", "c/three"]

    def test_incomplete_archive_is_refused(self):
        """An archive whose last page still points to a next page is refused."""
        document = {PAGES_KEY: [page(["a/one"], links={"next": "?page=2"}, total_count=2)]}
        with pytest.raises(PayloadError, match="paginated"):
            detect(document)

    def test_archive_short_of_total_count_is_refused(self):
        """An archive holding fewer models than total_count is refused."""
        document = {PAGES_KEY: [page(["a/one"], total_count=5), page(["b/two"], total_count=5)]}
        with pytest.raises(PayloadError, match="paginated"):
            detect(document)

    def test_page_without_data_is_refused(self):
        """A page in the archive without a data list is refused, naming the page."""
        document = {PAGES_KEY: [page(["a/one"]), {"error": "rate limited"}]}
        with pytest.raises(PayloadError, match="page 2"):
            detect(document)


class TestDetectInsForgeFlat:
    def test_real_current_file(self):
        """InsForge's current flat array is recognised, its providers taken from the entries."""
        catalog = detect(load_json("insforge/2026-05-01_insforge_current.json.gz"))
        assert catalog.shape == "insforge-flat"
        assert catalog.providers == {"openrouter": True}
        assert len(catalog.records) == 371
        assert catalog.warnings == []

    def test_case_file(self):
        """The hand-written flat list is recognised with one record per entry."""
        catalog = detect(load_case("flat"))
        assert catalog.shape == "insforge-flat"
        assert [r.document["id"] for r in catalog.records] == [
            "openai/gpt-4o",
            "meta-llama/llama-3.3-70b-instruct:free",
        ]

    def test_entry_without_provider_is_skipped_with_a_warning(self):
        """A flat entry naming no provider is skipped and reported; the others are kept."""
        entries = load_case("flat")
        del entries[0]["provider"]
        catalog = detect(entries)
        assert ids(catalog) == ["meta-llama/llama-3.3-70b-instruct:free"]
        assert len(catalog.warnings) == 1
        assert "provider" in catalog.warnings[0]

    def test_providers_come_from_entries(self):
        """Every provider named in the flat list is spoken for."""
        entries = load_case("flat")
        entries[1]["provider"] = "anthropic"
        assert detect(entries).providers == {"openrouter": True, "anthropic": True}


class TestDetectUnknown:
    @pytest.mark.parametrize(
        ("document", "named"),
        [
            ({"models": [model("a/one")]}, "models"),  # object with other keys
            ({"error": {"code": 401, "message": "no auth"}}, "error"),  # an error body
            ({"data": "nope"}, "data"),  # data is not a list
            ({}, "none"),  # empty object
            ("hello", "str"),  # a string
            (42, "int"),  # a number
        ],
    )
    def test_unknown_shape_names_what_was_found(self, document, named):
        """An unrecognised document raises PayloadError naming the keys or type found."""
        with pytest.raises(PayloadError, match="unrecognised catalog shape") as raised:
            detect(document)
        assert named in str(raised.value)

    @pytest.mark.parametrize("document", [Decimal("4.2"), None, True, "[]"])
    def test_other_top_level_values_are_refused(self, document):
        """null, booleans, fractions and a JSON-looking string are no catalog."""
        with pytest.raises(PayloadError, match="unrecognised catalog shape"):
            detect(document)

    @pytest.mark.parametrize(
        "document",
        [
            [1, 2, 3],  # numbers
            ["openai/gpt-4o", "anthropic/claude"],  # bare ids
            [[model("a/one")]],  # nested arrays
        ],
    )
    def test_array_of_non_objects_is_refused(self, document):
        """An array whose items are not model objects is not an (empty) OpenRouter catalog."""
        with pytest.raises(PayloadError):
            detect(document)
