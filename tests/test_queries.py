"""Reading history back: the catalog as of a time, and the difference between two times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from etl.pipeline import sync_bytes
from etl.read.net_changes import diff_report
from etl.read.queries import models_report
from etl.read.runs import runs_report
from tests.helpers import make_model, payload

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def sync(engine: Engine, models: list[dict[str, Any]], day: float) -> None:
    result = sync_bytes(engine, payload(models), observed_at=at(day))
    assert result.ok, result.error


def unpriced(model_id: str) -> dict[str, Any]:
    model = make_model(model_id)
    del model["pricing"]
    return model


def build_history(engine: Engine) -> None:
    """Day 0: a, b, c, d. Day 1: b's prompt price and c's context change, a is gone, e is new,
    d gains a price. Day 2: a returns."""
    sync(engine, [make_model("v/a"), make_model("v/b"), make_model("v/c"), unpriced("v/d")], 0)
    sync(
        engine,
        [
            make_model("v/b", pricing={"prompt": "0.0000005", "completion": "0.000002"}),
            make_model("v/c", context_length=200000, supported_parameters=["tools"]),
            make_model("v/d", pricing={"prompt": "0.000001"}),
            make_model("w/e"),
        ],
        1,
    )
    sync(
        engine,
        [
            make_model("v/a"),
            make_model("v/b", pricing={"prompt": "0.0000005", "completion": "0.000002"}),
            make_model("v/c", context_length=200000, supported_parameters=["tools"]),
            make_model("v/d", pricing={"prompt": "0.000001"}),
            make_model("w/e"),
        ],
        2,
    )


class TestModelsAsOf:
    def test_as_of_picks_the_latest_observation_at_or_before(self, engine: Engine) -> None:
        """Between observations the catalog is the earlier one; before the first, empty."""
        build_history(engine)
        with engine.connect() as connection:
            before = models_report(connection, at(-1))
            day0 = models_report(connection, at(0.5))
            day1 = models_report(connection, at(1))
        assert before["observed_at"] is None and before["models"] == []
        assert day0["observed_at"] == "2026-03-01T00:00:00Z"
        assert [m["model"] for m in day0["models"]] == ["v/a", "v/b", "v/c", "v/d"]
        assert [m["model"] for m in day1["models"]] == ["v/b", "v/c", "v/d", "w/e"]

    def test_entry_document(self, engine: Engine) -> None:
        """Each entry carries sorted lists, the vendor and pricing as decimal text or null."""
        build_history(engine)
        with engine.connect() as connection:
            entries = {m["model"]: m for m in models_report(connection, at(0))["models"]}
        assert entries["v/a"] == {
            "provider": "openrouter",
            "model": "v/a",
            "name": "Acme: Rocket 1",
            "vendor": "v",
            "context_length": 128000,
            "max_completion_tokens": 8192,
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "categories": ["text"],
            "supported_parameters": ["max_tokens", "temperature"],
            "pricing": {"completion": "0.000002", "prompt": "0.000001"},
        }
        assert entries["v/d"]["pricing"] is None


class TestDiff:
    def test_net_difference_between_two_times(self, engine: Engine) -> None:
        """Added, removed, price and attribute changes between the two states."""
        build_history(engine)
        with engine.connect() as connection:
            report = diff_report(connection, at(0), at(1))
        assert report["added"] == [{"provider": "openrouter", "model": "w/e"}]
        assert report["removed"] == [{"provider": "openrouter", "model": "v/a"}]
        ident = {"provider": "openrouter"}
        assert report["price_changes"] == [
            {**ident, "model": "v/b", "component": "prompt", "old": "0.000001", "new": "0.0000005"},
            {**ident, "model": "v/d", "component": "prompt", "old": None, "new": "0.000001"},
        ]
        assert report["changes"] == [
            {**ident, "model": "v/c", "field": "context_length", "old": 128000, "new": 200000},
            {
                **ident,
                "model": "v/c",
                "field": "supported_parameters",
                "old": ["max_tokens", "temperature"],
                "new": ["tools"],
            },
        ]

    def test_a_model_that_left_and_returned_is_no_net_change(self, engine: Engine) -> None:
        """Over the whole window, a model away for a day and back is neither added nor removed."""
        build_history(engine)
        with engine.connect() as connection:
            report = diff_report(connection, at(0), at(2))
        assert report["removed"] == []
        assert report["added"] == [{"provider": "openrouter", "model": "w/e"}]

    def test_dropped_component_reads_as_zero(self, engine: Engine) -> None:
        """A priced model's component that disappears changed to "0", not to null."""
        sync(engine, [make_model("v/a")], 0)
        sync(engine, [make_model("v/a", pricing={"prompt": "0.000001"})], 1)
        with engine.connect() as connection:
            report = diff_report(connection, at(0), at(1))
        assert report["price_changes"] == [
            {
                "provider": "openrouter",
                "model": "v/a",
                "component": "completion",
                "old": "0.000002",
                "new": "0",
            },
        ]


class TestRuns:
    def test_runs_newest_first_with_counts(self, engine: Engine) -> None:
        """`runs` lists every attempt, failed ones included, newest first."""
        build_history(engine)
        sync_bytes(engine, b"not json", observed_at=at(3))
        with engine.connect() as connection:
            runs = runs_report(connection, 10)["runs"]
        assert [r["status"] for r in runs] == ["failed", "succeeded", "succeeded", "succeeded"]
        assert runs[0]["error"].startswith("payload is not valid JSON")
        assert runs[2]["added"] == 1 and runs[2]["removed"] == 1
        assert runs[1]["returned"] == 1
        with engine.connect() as connection:
            assert len(runs_report(connection, 2)["runs"]) == 2
