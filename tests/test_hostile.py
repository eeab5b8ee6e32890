"""Hostile and broken input: mutations of a real catalog never crash a sync, never write
half of it, reject exactly what is broken with a reason, and still apply the rest.

Property-based (Hypothesis): each example mutates a few models of a real capture; every
database is checked against tests/invariants.py afterwards, and what it holds is written
out as terminal tables, CSV, Markdown and HTML without error and without a raw control
character.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy import text as sql

from etl.pipeline import sync_bytes
from etl.read.net_changes import net_changes
from etl.read.prices import price_table
from etl.read.queries import models_report
from etl.read.runs import runs_report
from etl.reports import csv_out, html, markdown, terminal
from etl.reports.change_document import change_document
from etl.reports.csv_out import spreadsheet_cell
from etl.reports.price_document import price_document
from etl.reports.safe_text import styled, text, visible
from tests.helpers import (
    CONTROL_TEXT,
    FORMULA_TEXT,
    MARKUP_TEXT,
    count_rows,
    load_json,
    natural_history,
    raw_controls,
    read_bytes,
)
from tests.invariants import assert_invariants

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BASE: list[dict[str, Any]] = json.loads(read_bytes("openrouter/2025-11-19_teatreechat.json.gz"))[
    "data"
][:8]
assert load_json("openrouter/2025-11-19_teatreechat.json.gz")  # the real capture is readable

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
NASTY_TEXT = st.sampled_from(
    [
        "\ud83d",  # a lone high surrogate
        "\udc9d",  # a lone low surrogate, as in a real capture
        "nul\x00inside",
        "\u202eright-to-left",
        "emoji 🧪🚀",
        "x" * 200_000,  # a huge string
        "",
        *MARKUP_TEXT,  # rich markup: [/] crashed a print
        *CONTROL_TEXT,  # ANSI and OSC escapes, C1 controls, U+2028, bidirectional override
        *FORMULA_TEXT,  # what a spreadsheet would evaluate
    ]
)
NASTY_PRICE = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e-7", "-5", "abc", "", " 0.1", "1_000", "0x10", "-1"]
)
TOP_KEYS = [
    "id",
    "name",
    "pricing",
    "architecture",
    "context_length",
    "top_provider",
    "supported_parameters",
    "created",
    "description",
]


def _mutation(draw: st.DrawFn, model: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """Apply one random mutation to ``model`` in place; returns its kind."""
    kind = draw(
        st.sampled_from(
            [
                "drop",
                "retype",
                "text",
                "price",
                "price-number",
                "duplicate",
                "deep",
                "id-case",
                "id-space",
            ]
        )
    )
    if kind == "drop":
        model.pop(draw(st.sampled_from(TOP_KEYS)), None)
    elif kind == "retype":
        model[draw(st.sampled_from(TOP_KEYS))] = draw(JSON_VALUES)
    elif kind == "text":
        model[draw(st.sampled_from(["name", "description", "hugging_face_id"]))] = draw(NASTY_TEXT)
    elif kind == "price":
        model.setdefault("pricing", {})["prompt"] = draw(NASTY_PRICE)
    elif kind == "price-number":
        model.setdefault("pricing", {})["completion"] = draw(st.floats(allow_nan=False))
    elif kind == "duplicate":
        twin = copy.deepcopy(draw(st.sampled_from(others)))
        twin["id"] = model["id"] if "id" in model else twin["id"]
        twin["name"] = "an impostor"
        others.append(twin)
    elif kind == "deep":
        nested: Any = "bottom"
        for _ in range(draw(st.integers(min_value=50, max_value=400))):
            nested = {"n": nested}
        model["links"] = nested
    elif kind == "id-case":
        model["id"] = str(model.get("id", "x")).upper()
    else:
        model["id"] = f" {model.get('id', 'x')}"
    return kind


@st.composite
def mutated_catalogs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], set[int]]:
    """A copy of the base models with 1-3 of them mutated; returns the indexes touched."""
    models = copy.deepcopy(BASE)
    touched = set(draw(st.lists(st.integers(0, len(BASE) - 1), min_size=1, max_size=3)))
    extra: list[dict[str, Any]] = []
    for index in touched:
        _mutation(draw, models[index], extra if extra else models)
    return models + [m for m in extra if m not in models], touched


def _sync(engine: Engine, models: list[dict[str, Any]], day: int) -> Any:
    # ensure_ascii writes lone surrogates as \\udxxx escapes, as real captures hold them.
    raw = json.dumps({"data": models}, ensure_ascii=True).encode()
    return sync_bytes(engine, raw, observed_at=T0 + timedelta(days=day), max_removed_share=None)


class TestMutations:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=mutated_catalogs())
    def test_mutations_are_contained(self, engine: Engine, case: Any) -> None:
        """No crash, a reason for every rejected model, untouched models unchanged and still
        listed, and a database that passes every invariant."""
        models, touched = case
        with engine.begin() as connection:  # each example starts from an empty history
            for table in (
                "capability_modalities",
                "capability_categories",
                "capability_parameters",
                "model_versions",
                "capability_sets",
                "prices",
                "model_availability",
                "provider_states",
                "models",
                "vendors",
                "providers",
                "modalities",
                "categories",
                "parameters",
                "sync_runs",
                "payloads",
            ):
                connection.execute(sql(f"DELETE FROM {table}"))
        first = _sync(engine, BASE, 0)
        assert first.ok, first.error
        with engine.connect() as connection:
            before = models_report(connection, T0)["models"]
        history = natural_history(engine)

        result = _sync(engine, models, 1)
        assert result.status in ("succeeded", "failed"), result
        _assert_written_safely(engine, result)
        if result.error:
            assert "\n" not in result.error
        if not result.ok:  # nothing of it may have been written
            after_failure = natural_history(engine)
            del history["observations"], after_failure["observations"]
            assert after_failure == history
            return
        with engine.connect() as connection:
            after = {
                m["model"]: m for m in models_report(connection, T0 + timedelta(days=1))["models"]
            }
        untouched = [BASE[i]["id"] for i in range(len(BASE)) if i not in touched]
        for entry in before:
            if entry["model"] in untouched:
                assert after[entry["model"]] == entry, entry["model"]
        for warning in result.warnings:
            assert warning.startswith(("skipped", "repaired")), warning
        assert_invariants(engine, check_rebuild=False)


def _assert_written_safely(engine: Engine, result: Any) -> None:
    """The sync's result, the catalog, the runs, the net changes and the price table as
    rich tables, CSV, Markdown and HTML: no error, no raw control character, no cell a
    spreadsheet would evaluate."""
    console = Console(file=io.StringIO(), width=120, emoji=False, highlight=False)
    terminal.sync_result(console, result.to_json(), console)
    with engine.connect() as connection:
        terminal.models(console, models_report(connection, T0 + timedelta(days=1)))
        terminal.runs(console, runs_report(connection, 5))
        changes = net_changes(connection, T0, T0 + timedelta(days=1))
        prices = price_table(connection, T0 + timedelta(days=1))
    terminal.document(console, change_document(changes))
    terminal.document(console, price_document(prices))
    assert not raw_controls(console.file.getvalue())  # type: ignore[attr-defined]
    for written in (
        markdown.render(change_document(changes)),
        html.render(price_document(prices)),
        terminal.json_text(changes.to_json()),
    ):
        assert not raw_controls(written)
    for table in (csv_out.changes(changes), csv_out.prices(prices)):
        assert not raw_controls(table)
        csv.field_size_limit(max(csv.field_size_limit(), 1_000_000))
        for row in csv.reader(io.StringIO(table)):
            assert all(spreadsheet_cell(cell) == cell for cell in row), row


class TestOutputEscaping:
    """Any text at all, as the terminal and the CSV writer show it."""

    @settings(max_examples=300, deadline=None)
    @given(raw=st.text(st.characters(exclude_categories=())) | NASTY_TEXT)
    def test_any_text_is_shown_inert(self, raw: str) -> None:
        """Any code point, surrogates and controls included: printed through rich (as
        text and styled) and written as a CSV cell and as JSON, nothing
        raw comes out, nothing is evaluated, and JSON still reads back the same string."""
        assert not raw_controls(visible(raw))
        kept = visible(raw, newlines=True)
        assert not raw_controls(kept, allowed="\n") and kept.count("\n") == raw.count("\n")
        console = Console(file=io.StringIO(), width=80, emoji=False, highlight=False)
        console.print(text(raw), styled(("x", "red"), raw))
        assert not raw_controls(console.file.getvalue())  # type: ignore[attr-defined]
        cell = csv_out.cell_text(raw)
        assert not raw_controls(cell)
        assert spreadsheet_cell(cell) == cell  # already neutral
        assert json.loads(terminal.json_text({"x": raw})) == {"x": raw}


class TestHugeAndDeep:
    def test_deeply_nested_body_is_a_clean_failure(self, engine: Engine) -> None:
        """A body nested 100,000 levels deep fails the run with a reason, not a crash."""
        result = sync_bytes(engine, b"[" * 100_000 + b"]" * 100_000, observed_at=T0)
        assert result.status == "failed"
        assert result.error is not None and "nested too deeply" in result.error
        assert count_rows(engine)["models"] == 0

    def test_deep_field_rejects_only_its_model(self, engine: Engine) -> None:
        """A model with a field nested 500 levels deep is skipped with the reason; the
        others apply."""
        deep: Any = 1
        for _ in range(500):
            deep = [deep]
        models = copy.deepcopy(BASE)
        models[0]["links"] = deep
        result = _sync(engine, models, 0)
        assert result.ok, result.error
        assert result.added == len(BASE) - 1
        assert any("nested deeper" in w and BASE[0]["id"] in w for w in result.warnings)

    def test_a_100_megabyte_body(self, engine: Engine) -> None:
        """A 100 MB catalog (one model carries a 100 MB field) syncs and is archived whole."""
        models = copy.deepcopy(BASE)
        models[0]["notes"] = "n" * 100_000_000
        raw = json.dumps({"data": models}).encode()
        assert len(raw) > 100_000_000
        result = sync_bytes(engine, raw, observed_at=T0)
        assert result.ok, result.error
        assert result.added == len(BASE)
        assert_invariants(engine, check_rebuild=False)

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_json_number_literals_fail_the_payload(
        self, engine: Engine, literal: bytes
    ) -> None:
        """NaN and Infinity are not JSON: the payload fails with the reason."""
        raw = b'{"data": [{"id": "a/b", "pricing": {"discount": ' + literal + b"}}]}"
        result = sync_bytes(engine, raw, observed_at=T0)
        assert result.status == "failed"
        assert result.error is not None and "not valid JSON" in result.error
