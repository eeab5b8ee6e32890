"""Validate a catalog's records and normalize them: the raw records of a payload in, a
:class:`~etl.ingest.normalize.Catalog` of canonical records out. Pure: no database, no I/O.

Apart from :mod:`etl.ingest.normalize` because only this step needs pydantic: a sync whose records
are all unchanged validates none, and does not pay for importing it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from etl.ingest.litellm_records import normalize_price_map_entry
from etl.ingest.normalize import (
    Catalog,
    ModelRecord,
    RecordRejected,
    normalize_flat,
    normalize_model,
    source_hash,
)
from etl.ingest.schemas import FlatModelIn, ModelIn
from etl.ingest.shapes import RawCatalog, RawRecord, Shape


def build_catalog(raw: RawCatalog, known: Mapping[tuple[str, str], str] | None = None) -> Catalog:
    """Validate and normalize every record; a bad record becomes a warning, not a failure.

    ``known``: the source hash last applied per (provider, model); records whose raw form
    still has that hash are only noted as :attr:`Catalog.unchanged`.
    """
    catalog = Catalog(raw.shape, dict(raw.providers), [], warnings=list(raw.warnings))
    groups: dict[tuple[str, str], list[RawRecord]] = defaultdict(list)
    unconfigured = {name for name, configured in raw.providers.items() if not configured}
    ignored: dict[str, int] = defaultdict(int)
    for index, record in enumerate(raw.records):
        if record.provider in unconfigured:
            ignored[record.provider] += 1
            continue
        model = record.document.get("id") if isinstance(record.document, dict) else None
        if not isinstance(model, str) or not model:
            catalog.warnings.append(f"skipped entry {index} of {record.provider}: it has no id")
            continue
        groups[(record.provider, model)].append(record)

    for key, copies in groups.items():
        digest = source_hash(raw.shape, copies)
        if known is not None and known.get(key) == digest:
            catalog.unchanged.add(key)
            continue
        try:
            catalog.records.append(_normalize_group(raw.shape, *key, copies, digest))
        except RecordRejected as error:
            catalog.listed_but_rejected.add(key)
            catalog.warnings.append(f"skipped {key[1]!r}: {error}; its previous state is kept")
    for provider in sorted(unconfigured):
        # A provider without a key says nothing reliable about its models: nothing of what
        # it lists is applied, so no model appears, changes or goes on its word. Said on
        # every run, listed models or not: a gateway that lost its key must not look healthy.
        count = ignored.get(provider, 0)
        catalog.warnings.append(
            f"provider {provider} says it is not configured (has the gateway lost its key?)"
            + (f": the {count} models it lists are ignored" if count else "")
        )
    return catalog


def _normalize_group(
    shape: Shape, provider: str, model: str, copies: list[RawRecord], digest: str = ""
) -> ModelRecord:
    """One record from every copy of a model id: identical copies (after normalization) are
    one model, found in several categories; copies that disagree are all rejected."""
    categories = sorted({c.category for c in copies if c.category is not None}) or None
    records = [
        _normalize_one(shape, provider, copy.document, categories, digest) for copy in copies
    ]
    if len(records) > 1 and len({record.record_hash for record in records}) > 1:
        raise RecordRejected(f"listed {len(copies)} times with different content")
    return records[0]


def _normalize_one(
    shape: Shape, provider: str, document: Any, categories: list[str] | None, digest: str
) -> ModelRecord:
    if shape == "insforge-flat":
        return normalize_flat(_validate(FlatModelIn, document), provider, source_hash=digest)
    if shape == "litellm":
        return normalize_price_map_entry(document, provider, source_hash=digest)
    return normalize_model(
        _validate(ModelIn, document), provider, categories=categories, source_hash=digest
    )


def _validate(schema: type[ModelIn] | type[FlatModelIn], document: Any) -> Any:
    try:
        return schema.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise RecordRejected(f"{where}: {first['msg']}{more}") from None
