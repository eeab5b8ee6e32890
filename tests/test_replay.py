"""Replay the 63 real daily OpenRouter captures and check the history independently.

The expectation is recomputed here from the raw files with plain Python, sharing no code
with etl.ingest.normalize: what each model looked like at each observation, when it was listed,
and every price interval. The database must agree with it exactly, and rebuilding the
catalog as of every observation must give back what that day's file said.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from etl.db.tables import model_availability_table, model_versions_table, models_table, prices_table
from etl.pipeline import sync_file
from etl.read.queries import models_report
from tests.helpers import daily_files, observed_at

Observation = tuple[datetime, dict[str, dict[str, Any]]]


def read_observations() -> list[Observation]:
    observations = []
    for path in daily_files():
        document = json.loads(gzip.decompress(Path(path).read_bytes()))
        models = document["data"] if isinstance(document, dict) else document
        observations.append((observed_at(path), {m["id"]: m for m in models}))
    return observations


def expected_pricing(model: dict[str, Any]) -> dict[str, str] | None:
    """Non-zero price components as plain decimal text; "-1" is dynamic."""
    pricing = model.get("pricing")
    if pricing is None:
        return None
    out = {}
    for component, value in pricing.items():
        if not isinstance(value, str) or Decimal(value) == 0:
            continue
        out[component] = "dynamic" if Decimal(value) == -1 else _plain(Decimal(value))
    return dict(sorted(out.items()))


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def expected_entry(model: dict[str, Any]) -> dict[str, Any]:
    """What `catalog-etl models --format json` must print for this raw model."""
    architecture = model["architecture"]
    return {
        "provider": "openrouter",
        "model": model["id"],
        "name": model["name"],
        "vendor": model["id"].lstrip("~").split("/")[0],
        "context_length": model["context_length"],
        "max_completion_tokens": model["top_provider"]["max_completion_tokens"],
        "input_modalities": sorted(set(architecture["input_modalities"])),
        "output_modalities": sorted(set(architecture["output_modalities"])),
        "categories": sorted(set(architecture["output_modalities"])),
        "supported_parameters": sorted(set(model["supported_parameters"])),
        "pricing": expected_pricing(model),
    }


def content_key(model: dict[str, Any]) -> str:
    """Everything but pricing, with list order and key order made irrelevant."""

    def canon(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sorted(set(value))
        return value

    body = {k: v for k, v in model.items() if k != "pricing"}
    return json.dumps(canon(body), sort_keys=True)


def expected_history(observations: list[Observation]) -> dict[str, Any]:
    """Availability intervals, version start times and price intervals, computed naively."""
    availability: dict[str, list[list[Any]]] = defaultdict(list)
    versions: dict[str, list[datetime]] = defaultdict(list)
    prices: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    last_content: dict[str, str] = {}
    last_prices: dict[str, dict[str, str]] = {}
    listed: set[str] = set()
    for moment, models in observations:
        for model_id in listed - models.keys():
            availability[model_id][-1][1] = moment
        for model_id, model in models.items():
            if model_id not in listed:
                availability[model_id].append([moment, None])
            content = content_key(model)
            if last_content.get(model_id) != content:
                versions[model_id].append(moment)
                last_content[model_id] = content
            new = expected_pricing(model) or {}
            old = last_prices.get(model_id, {})
            for component in old.keys() | new.keys():
                if old.get(component) == new.get(component):
                    continue
                if component in old:
                    prices[(model_id, component)][-1][2] = moment
                if component in new:
                    prices[(model_id, component)].append([new[component], moment, None])
            last_prices[model_id] = new
        listed = set(models)
    return {"availability": availability, "versions": versions, "prices": prices}


@pytest.fixture(scope="module")
def observations() -> list[Observation]:
    return read_observations()


def test_replay_matches_an_independent_recomputation(
    engine: Engine, observations: list[Observation]
) -> None:
    """63 daily syncs store exactly the availability, versions and prices the files imply,
    and the catalog as of every observation is that day's file."""
    for path in daily_files():
        result = sync_file(engine, path, observed_at=observed_at(path))
        assert result.ok, (path.name, result.error)
        assert result.warnings == []

    expected = expected_history(observations)
    with engine.connect() as connection:
        availability: dict[str, list[list[Any]]] = defaultdict(list)
        for model_id, start, end in connection.execute(
            select(
                models_table.c.model,
                model_availability_table.c.valid_from,
                model_availability_table.c.valid_to,
            )
            .join(models_table)
            .order_by(models_table.c.model, model_availability_table.c.valid_from)
        ):
            availability[model_id].append([start, end])
        versions: dict[str, list[datetime]] = defaultdict(list)
        for model_id, start, number in connection.execute(
            select(
                models_table.c.model,
                model_versions_table.c.valid_from,
                model_versions_table.c.version,
            )
            .join(models_table)
            .order_by(models_table.c.model, model_versions_table.c.version)
        ):
            assert number == len(versions[model_id]) + 1
            versions[model_id].append(start)
        prices: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
        for model_id, component, amount, dynamic, start, end in connection.execute(
            select(
                models_table.c.model,
                prices_table.c.component,
                prices_table.c.amount,
                prices_table.c.dynamic,
                prices_table.c.valid_from,
                prices_table.c.valid_to,
            )
            .join(models_table)
            .order_by(models_table.c.model, prices_table.c.component, prices_table.c.valid_from)
        ):
            value = "dynamic" if dynamic else _plain(amount)
            prices[(model_id, component)].append([value, start, end])

        assert dict(availability) == dict(expected["availability"])
        assert dict(versions) == dict(expected["versions"])
        assert dict(prices) == dict(expected["prices"])

        for moment, models in observations:
            report = models_report(connection, moment)
            assert report["observed_at"] is not None
            expected_models = [expected_entry(models[k]) for k in sorted(models)]
            assert report["models"] == expected_models, moment


def test_history_has_real_events(observations: list[Observation]) -> None:
    """The captures hold what the replay must handle: returns, removals and price changes."""
    history = expected_history(observations)
    returned = [m for m, spans in history["availability"].items() if len(spans) > 1]
    changed = [k for k, spans in history["prices"].items() if len(spans) > 1]
    assert returned and changed
    assert any(len(v) > 2 for v in history["versions"].values())
