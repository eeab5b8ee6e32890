"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is found at ``CATALOG_ETL_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). When it cannot be reached the PostgreSQL
half of the suite is skipped with the reason shown, except when
``CATALOG_ETL_TEST_REQUIRE_POSTGRES=1`` (as in CI): then every such test fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from etl.db.engine import make_engine
from etl.db.tables import metadata
from etl.store.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "CATALOG_ETL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CATALOG_ETL_TEST_REQUIRE_POSTGRES", "") not in ("", "0")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own CATALOG_ETL_* settings."""
    for name in list(os.environ):
        if name.startswith("CATALOG_ETL_") and not name.startswith("CATALOG_ETL_TEST"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the latest revision once, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A private schema migrated to the latest revision, dropped at the end of the session."""
    try:
        admin = make_engine(POSTGRES_URL)
        with admin.connect():
            pass
    except Exception as error:  # any failure to connect means "unreachable"
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (CATALOG_ETL_TEST_REQUIRE_POSTGRES is set)", pytrace=False)
        pytest.skip(message + "; set CATALOG_ETL_TEST_POSTGRES_URL to run these tests")
    schema = f"catalog_etl_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    engine = make_engine(url_text)
    upgrade(engine)
    engine.dispose()
    yield url_text
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database at the latest schema revision, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = make_engine(url)
    _empty(engine)
    engine.dispose()
    return url


def _empty(engine: Engine) -> None:
    """Every table as the migrations leave a new database: empty, but for the catalog
    ``default``."""
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "catalogs")
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("DELETE FROM catalogs WHERE name <> 'default'"))


@pytest.fixture
def postgres_engine(postgres_schema_url: str) -> Iterator[Engine]:
    """An empty PostgreSQL database, for the tests that are about PostgreSQL itself."""
    engine = make_engine(postgres_schema_url)
    _empty(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Callable[[], Engine]]:
    """More empty databases on the same backend as ``database_url``, for tests that compare
    databases; each is dropped at the end of the test."""
    engines: list[Engine] = []
    schemas: list[str] = []

    def make() -> Engine:
        if database_url.startswith("sqlite"):
            path = tmp_path / f"extra-{len(engines)}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            engine = make_engine(f"sqlite:///{path}")
        else:
            schema = f"catalog_etl_test_{uuid.uuid4().hex[:12]}"
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            schemas.append(schema)
            url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
            engine = make_engine(url.render_as_string(hide_password=False))
            upgrade(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
    if schemas:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def history_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database holding the small real history (tests/reports_helpers.py), on each
    backend, loaded once per test module: for read-only tests."""
    from tests.reports_helpers import loaded_database  # it imports this module

    with loaded_database(request.param, request, tmp_path_factory.mktemp("history")) as url:
        yield url


@pytest.fixture(scope="module")
def history_engine(history_url: str) -> Iterator[Engine]:
    engine = make_engine(history_url)
    yield engine
    engine.dispose()
