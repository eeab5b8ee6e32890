"""The dlt baseline: the same model objects kept with dlt's ``scd2`` merge strategy.

One row per model in ``models``: dlt's normalizer flattens the nested objects into columns
(``pricing__prompt``, ``architecture__modality``, ``top_provider__context_length``, ...)
and puts the lists (``supported_parameters``, ``architecture__input_modalities``,
``architecture__output_modalities``) in nested tables, as it does for any JSON. ``scd2``
without a merge key treats each load as the complete list: rows whose hash is not in the
load are retired, new hashes are inserted, valid from ``boundary_timestamp`` (the same
observation time catalog-etl is given). Everything else is dlt's default, as a user
would run it.

PostgreSQL uses dlt's ``postgres`` destination (psycopg2) with a dataset (schema) of its
own plus ``<dataset>_staging``; SQLite uses the ``sqlalchemy`` destination on a file, with
the ``main`` dataset in that file and the staging dataset attached from a file beside it,
and one load worker (SQLite takes one writer at a time).

Needs ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

# Before dlt is imported: no telemetry (this machine reaches no analytics host, and the
# attempt would be timed).
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

import dlt

PIPELINE_NAME = "catalog_bench"
TABLE = "models"
SQLITE_DATASET = "main"


def make_pipeline(
    backend: str,
    *,
    folder: Path,
    sqlite_path: Path | None = None,
    postgres_url: str = "",
    dataset: str = "",
) -> Any:
    """A dlt pipeline whose local state lives in ``folder``.

    SQLite: ``sqlite_path`` is the database file. PostgreSQL: ``postgres_url`` and the
    ``dataset`` (schema) to load into.
    """
    destination: Any
    if backend == "sqlite":
        assert sqlite_path is not None
        # SQLite has one writer at a time: with dlt's default 20 parallel load jobs, 100,000
        # models end in "database is locked" after 5 retries. One load worker, as for DuckDB.
        os.environ["LOAD__WORKERS"] = "1"
        destination = dlt.destinations.sqlalchemy(credentials=f"sqlite:///{sqlite_path}")
        dataset = SQLITE_DATASET
    else:
        destination = dlt.destinations.postgres(credentials=_with_password(postgres_url))
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(folder),
        destination=destination,
        dataset_name=dataset,
    )


def _with_password(url: str) -> str:
    # dlt refuses PostgreSQL credentials without a password, even where the server trusts
    # the connection and would ignore one.
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.password is None:
        parsed = parsed.set(password="unused")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def models_of(document: Any) -> list[dict[str, Any]]:
    """The model objects of an OpenRouter payload, ``{"data": [...]}`` or a bare array."""
    models = document["data"] if isinstance(document, dict) else document
    assert isinstance(models, list)
    return models


def load(pipeline: Any, models: list[dict[str, Any]], observed_at: datetime) -> Any:
    """Merge one complete catalog, observed at ``observed_at``, with the ``scd2`` strategy."""
    disposition: Any = {
        "disposition": "merge",
        "strategy": "scd2",
        "boundary_timestamp": observed_at,
    }
    return pipeline.run(dlt.resource(models, name=TABLE, write_disposition=disposition))


def phases(pipeline: Any) -> dict[str, float]:
    """Seconds spent in each step (extract, normalize, load) of the last run."""
    trace = pipeline.last_trace
    if trace is None:
        return {}
    return {
        step.step: round((step.finished_at - step.started_at).total_seconds(), 3)
        for step in trace.steps
        if step.finished_at is not None
    }
