"""Read the history: the catalog as of a time, the difference between two times, the runs.

Read-only. Every report and command output is built from these functions, so the JSON,
the tables and any later format agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from etl.db.tables import Availability, Model, Provider, SyncRun, Vendor
from etl.money import price_text
from etl.normalize import ModelState
from etl.state import read_stored, valid_at
from etl.times import iso

# Fields compared by `diff`; prices are compared separately, component by component.
CHANGE_FIELDS = (
    "name",
    "description",
    "created",
    "context_length",
    "max_completion_tokens",
    "top_provider_context_length",
    "is_moderated",
    "canonical_slug",
    "hugging_face_id",
    "modality",
    "tokenizer",
    "instruct_type",
    "input_modalities",
    "output_modalities",
    "categories",
    "supported_parameters",
    "pricing_discount",
    "pricing_overrides",
    "extra",
)


@dataclass(frozen=True)
class CatalogEntry:
    provider: str
    model: str
    vendor: str
    state: ModelState

    def pricing(self) -> dict[str, str] | None:
        """Non-zero components as canonical decimal text or ``"dynamic"``; None when unpriced."""
        if not self.state.content["priced"]:
            return None
        return {k: price_text(v) for k, v in sorted(self.state.prices.items())}

    def to_json(self) -> dict[str, Any]:
        content = self.state.content
        return {
            "provider": self.provider,
            "model": self.model,
            "name": content["name"],
            "vendor": self.vendor,
            "context_length": content["context_length"],
            "max_completion_tokens": content["max_completion_tokens"],
            "input_modalities": list(content["input_modalities"]),
            "output_modalities": list(content["output_modalities"]),
            "categories": list(content["categories"]),
            "supported_parameters": list(content["supported_parameters"]),
            "pricing": self.pricing(),
        }


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime
    observed_at: datetime | None
    """The latest successful observation at or before ``as_of``; None before the first."""
    entries: dict[tuple[str, str], CatalogEntry]


def latest_observation(connection: Connection, as_of: datetime) -> datetime | None:
    query = select(func.max(SyncRun.observed_at)).where(
        SyncRun.status == "succeeded", SyncRun.observed_at <= as_of
    )
    observed: datetime | None = connection.execute(query).scalar_one()
    return observed


def catalog_as_of(connection: Connection, as_of: datetime) -> Snapshot:
    """Every model available at ``as_of``, with its state then."""
    observed_at = latest_observation(connection, as_of)
    if observed_at is None:
        return Snapshot(as_of, None, {})
    rows = connection.execute(
        select(Model.id, Provider.name.label("provider"), Model.model, Vendor.name.label("vendor"))
        .join(Provider, Model.provider_id == Provider.id)
        .join(Vendor, Model.vendor_id == Vendor.id)
        .join(Availability, Availability.model_id == Model.id)
        .where(valid_at(Availability, observed_at))
    ).all()
    states = read_stored(connection, as_of=observed_at)
    entries = {
        (row.provider, row.model): CatalogEntry(
            row.provider, row.model, row.vendor, states[row.id].state
        )
        for row in rows
    }
    return Snapshot(as_of, observed_at, dict(sorted(entries.items())))


def models_report(connection: Connection, as_of: datetime) -> dict[str, Any]:
    """The document behind ``catalog-etl models``."""
    snapshot = catalog_as_of(connection, as_of)
    return {
        "as_of": iso(snapshot.as_of),
        "observed_at": iso(snapshot.observed_at) if snapshot.observed_at else None,
        "models": [entry.to_json() for entry in snapshot.entries.values()],
    }


def _price_or_zero(entry: CatalogEntry, component: str) -> str | None:
    pricing = entry.pricing()
    return None if pricing is None else pricing.get(component, "0")


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def diff_report(connection: Connection, since: datetime, until: datetime) -> dict[str, Any]:
    """The net difference between the catalog as of ``since`` and as of ``until``."""
    before = catalog_as_of(connection, since)
    after = catalog_as_of(connection, until)
    old_keys, new_keys = before.entries.keys(), after.entries.keys()
    price_changes: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for key in sorted(old_keys & new_keys):
        old, new = before.entries[key], after.entries[key]
        ident = {"provider": key[0], "model": key[1]}
        components = (old.pricing() or {}).keys() | (new.pricing() or {}).keys()
        for component in sorted(components):
            old_price, new_price = _price_or_zero(old, component), _price_or_zero(new, component)
            if old_price != new_price:
                price_changes.append(
                    {**ident, "component": component, "old": old_price, "new": new_price}
                )
        for field in CHANGE_FIELDS:
            old_value = _comparable(old.state.content[field])
            new_value = _comparable(new.state.content[field])
            if old_value != new_value:
                changes.append({**ident, "field": field, "old": old_value, "new": new_value})
    return {
        "since": iso(since),
        "until": iso(until),
        "since_observed_at": iso(before.observed_at) if before.observed_at else None,
        "until_observed_at": iso(after.observed_at) if after.observed_at else None,
        "added": [{"provider": p, "model": m} for p, m in sorted(new_keys - old_keys)],
        "removed": [{"provider": p, "model": m} for p, m in sorted(old_keys - new_keys)],
        "price_changes": price_changes,
        "changes": changes,
    }


RUN_FIELDS = (
    "id",
    "status",
    "observed_at",
    "started_at",
    "finished_at",
    "source",
    "shape",
    "http_status",
    "attempts",
    "bytes",
    "payload_sha256",
    "models_seen",
    "added",
    "removed",
    "returned",
    "versions_written",
    "price_changes",
    "warnings",
    "error",
)


def runs_report(connection: Connection, limit: int) -> dict[str, Any]:
    """The newest ``limit`` runs, newest first."""
    rows = connection.execute(
        select(*(getattr(SyncRun, name) for name in RUN_FIELDS))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    ).mappings()
    runs = []
    for row in rows:
        item = dict(row)
        finished, started = item["finished_at"], item["started_at"]
        item["duration_seconds"] = (
            round((finished - started).total_seconds(), 3) if finished is not None else None
        )
        for name in ("observed_at", "started_at", "finished_at"):
            item[name] = iso(item[name]) if item[name] else None
        runs.append(item)
    return {"runs": runs}
