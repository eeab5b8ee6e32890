"""A small real history for the report tests: six consecutive daily OpenRouter captures,
loaded once per test module and backend.

Between 2026-02-27 23:49 and 2026-03-05 01:03 they hold every kind of change: models
added, removed and returned (allenai/olmo-3.1-32b-think is gone on 02-27 23:54 and back on
03-03; arcee-ai/trinity-mini leaves on 03-03 and is back on 03-04), price cuts and rises,
components appearing and dropping to 0, context length and parameter changes.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from etl.db.engine import make_engine
from etl.pipeline import sync_file
from etl.store.migrate import upgrade
from etl.times import parse_time
from tests.conftest import POSTGRES_URL
from tests.helpers import daily_files, observed_at

SMALL_HISTORY = daily_files()[1:7]
SINCE = parse_time("2026-03-01")
"""Between the second and third capture: the window starts from the 02-27 23:54 state."""
UNTIL = parse_time("2026-03-05T12:00:00Z")


def load_small_history(url: str) -> None:
    engine = make_engine(url)
    try:
        for path in SMALL_HISTORY:
            result = sync_file(engine, path, observed_at=observed_at(path))
            assert result.ok, result.error
    finally:
        engine.dispose()


@contextmanager
def loaded_database(backend: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """The URL of a database of its own holding the small history, dropped afterwards."""
    if backend == "sqlite":
        path = folder / "history.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        load_small_history(url)
        yield url
        return
    # Skips (or fails, when PostgreSQL is required) exactly like every PostgreSQL test.
    request.getfixturevalue("postgres_schema_url")
    schema = f"catalog_etl_reports_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    schema_url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = schema_url.render_as_string(hide_password=False)
    engine = make_engine(url_text)
    upgrade(engine)
    engine.dispose()
    try:
        load_small_history(url_text)
        yield url_text
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
