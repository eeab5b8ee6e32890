"""The benchmarks' synthetic catalogs: deterministic, shaped like the real list, and evolving
with the shares asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from benchmarks.synthetic import ROUTER_ID, SyntheticCatalog, evolve, generate, history
from etl.db.engine import make_engine
from etl.pipeline import sync_bytes
from etl.store.migrate import upgrade
from tests.helpers import load_json, read_bytes

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REAL = "openrouter/2025-11-19_teatreechat.json.gz"


def _real_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = load_json(REAL)["data"]
    return models


def _pricing(catalog: SyntheticCatalog) -> dict[str, dict[str, str]]:
    return {model["id"]: model["pricing"] for model in catalog.models}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others() -> None:
    """Payloads depend on (n, seed, day) only."""
    first = [catalog.payload() for catalog in history(300, 3, seed=7)]
    again = [catalog.payload() for catalog in history(300, 3, seed=7)]
    other = [catalog.payload() for catalog in history(300, 3, seed=8)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_models_have_the_keys_of_the_real_list_in_its_order() -> None:
    """Every object has the 13 keys of the real capture, nested objects included."""
    real = _real_models()[1]
    catalog = generate(500, seed=1)
    assert len(catalog.models) == len(catalog.ids) == 500
    for model in catalog.models:
        assert list(model) == list(real)
        assert list(model["architecture"]) == list(real["architecture"])
        assert list(model["top_provider"]) == list(real["top_provider"])
        assert {"prompt", "completion"} <= model["pricing"].keys()
        assert model["pricing"].keys() <= set(real["pricing"]) | {"input_cache_read"}


def test_prices_are_decimal_strings_without_exponents() -> None:
    """As the API sends them: "0.0000003", "0" for free models, "-1" for the router only."""
    catalog = generate(2000, seed=1)
    for model in catalog.models:
        for value in model["pricing"].values():
            assert isinstance(value, str) and "E" not in value.upper()
            amount = Decimal(value)
            assert amount >= 0 or (model["id"] == ROUTER_ID and value == "-1")
    free = [m for m in catalog.models if m["pricing"]["prompt"] == "0"]
    assert 0.08 < len(free) / len(catalog.models) < 0.16  # 12% in the real list


def test_payloads_are_about_as_large_per_model_as_the_real_list() -> None:
    """Compact JSON of about 1.4 KB a model (the real capture: 1.38 KB)."""
    real = len(read_bytes(REAL)) / len(_real_models())
    synthetic = len(generate(2000, seed=1).payload()) / 2000
    assert 0.8 < synthetic / real < 1.25


def test_evolve_changes_the_shares_asked_for() -> None:
    """Shares are of the models listed the day before, rounded to whole models."""
    day0 = generate(1000, seed=3)
    day1 = evolve(day0, 1, seed=3, price_share=0.02, add_share=0.01, remove_share=0.03)
    day2 = evolve(day1, 2, seed=3, return_share=0.005)
    assert len(day1.ids - day0.ids) == 10
    assert len(day0.ids - day1.ids) == 30
    before, after = _pricing(day0), _pricing(day1)
    assert sum(before[i] != after[i] for i in day0.ids & day1.ids) == 20
    # Five of the 30 removed on day 1 come back on day 2, as they were.
    returned = (day2.ids - day1.ids) & day0.ids
    assert len(returned) == 5
    assert all(day2.retired.get(i) is None for i in returned)
    assert len(day2.ids - day1.ids - returned) == round(0.01 * len(day1.models))
    assert ROUTER_ID in day2.ids


def test_sync_accepts_every_day_without_a_warning_and_sees_the_same_changes(
    engine: Engine,
) -> None:
    """catalog-etl reads the payloads as real ones: no warning, and the counts it reports
    are the generator's."""
    previous: SyntheticCatalog | None = None
    for catalog in history(400, 4, seed=5, return_share=0.005):
        result = sync_bytes(engine, catalog.payload(), observed_at=T0 + timedelta(days=catalog.day))
        assert result.status == "succeeded", result.error
        assert result.warnings == []
        assert result.models_seen == len(catalog.models)
        if previous is None:
            assert result.added == 400
            assert result.versions_written == 400
        else:
            returned = catalog.ids & set(previous.retired)
            assert result.added == len(catalog.ids - previous.ids - returned)
            assert result.removed == len(previous.ids - catalog.ids)
            assert result.returned == len(returned)
            priced = [
                i
                for i in previous.ids & catalog.ids
                if previous.levels.get(i) != catalog.levels.get(i)
            ]
            assert len(priced) == round(0.02 * len(previous.models))
        previous = catalog
