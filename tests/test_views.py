"""The analyst views (migration 0002) on SQLite and PostgreSQL: they exist, migrate up and
down, agree with the query layer, and the README's example queries print what it shows."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from etl.db.tables import metadata
from etl.db.views import ANALYST_VIEWS, TOKEN_COMPONENTS_SQL
from etl.ingest.money import DYNAMIC, canonical
from etl.pipeline import sync_file
from etl.read.change_events import change_events
from etl.read.history import model_history
from etl.read.prices import price_table
from etl.read.units import TOKEN_COMPONENTS, price_value_text
from etl.samples import SAMPLES
from etl.store.migrate import alembic_config, upgrade
from etl.times import as_utc
from tests.helpers import TESTS
from tests.reports_helpers import UNTIL

VIEW_NAMES = {view.name for view in ANALYST_VIEWS}
README = (TESTS.parent / "README.md").read_text("utf-8")
EXAMPLES = re.findall(r"```sql\n(.*?)```\s*```text\n(.*?)```", README, flags=re.S)
_SQLITE_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)?$")


@pytest.fixture
def connection(history_engine: Engine) -> Iterator[Connection]:
    with history_engine.connect() as connection:
        yield connection


def shown(value: Any) -> str:
    """A value as the README prints it, whatever the backend returned: times in UTC without
    fractions, numbers in plain decimal (floats to 12 significant digits), NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"{as_utc(value):%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        return canonical(Decimal(f"{value:.12g}"))
    if isinstance(value, int | Decimal):
        return canonical(Decimal(value))
    match = _SQLITE_TIME.match(str(value))
    return match.group(1) if match else str(value)


def result_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as an aligned text table, the form the README shows them in."""
    cells = [list(columns), *[[shown(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    lines = [cells[0], ["-" * width for width in widths], *cells[1:]]
    return "\n".join(line(row).rstrip() for row in lines) + "\n"


def run_query(connection: Connection, sql: str) -> str:
    result = connection.execute(text(sql))
    return result_table(list(result.keys()), result.all())


class TestMigration:
    def test_views_exist_and_autogenerate_ignores_them(self, engine: Engine) -> None:
        """Upgrading creates every view; comparing the schema to the models sees no view."""
        with engine.connect() as connection:
            assert set(inspect(connection).get_view_names()) >= VIEW_NAMES
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []

    def test_downgrade_to_0001_drops_only_the_views(self, engine: Engine) -> None:
        """0002 down removes the views and leaves the tables; up brings them back."""
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with engine.connect() as connection:
            assert not VIEW_NAMES & set(inspect(connection).get_view_names())
            later = {"notifications", "catalogs"}  # created by revisions 0006, 0007
            assert {t.name for t in metadata.sorted_tables} - later <= set(
                inspect(connection).get_table_names()
            )
        upgrade(engine)
        with engine.connect() as connection:
            assert set(inspect(connection).get_view_names()) >= VIEW_NAMES

    def test_token_components_match_the_reports(self) -> None:
        """The views and the Python reports agree on which components are per token."""
        assert re.findall(r"'(\w+)'", TOKEN_COMPONENTS_SQL) == list(TOKEN_COMPONENTS)

    def test_unknown_dialect_is_refused(self) -> None:
        """A dialect without definitions fails loudly instead of creating wrong views."""
        with pytest.raises(ValueError, match="no analyst views for the mysql dialect"):
            ANALYST_VIEWS[0].create("mysql")


def _stored(amount: Any, dynamic: Any) -> str | None:
    """A view's amount and dynamic flag as price text."""
    if dynamic:
        return DYNAMIC
    return None if amount is None else canonical(Decimal(str(amount)))


def _time(value: Any) -> datetime:
    """A view's time: a datetime on PostgreSQL, UTC text on SQLite."""
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


class TestAgreement:
    def test_price_changes_view_equals_the_events(self, connection: Connection) -> None:
        """The SQL view and `diff --events` over all time list the same price changes, with
        the same percentages (to the view's two places)."""
        events = {
            (c.model, c.component, c.at): (price_value_text(c.old), price_value_text(c.new))
            for c in change_events(connection, None, None).price_changes
        }
        percents = {
            (c.model, c.component, c.at): c.percent
            for c in change_events(connection, None, None).price_changes
        }
        rows = connection.execute(
            text(
                "SELECT model, component, changed_at, old_amount, old_dynamic, new_amount,"
                " new_dynamic, percent FROM price_changes"
            )
        ).all()
        view = {
            (row.model, row.component, _time(row.changed_at)): (
                _stored(row.old_amount, row.old_dynamic),
                _stored(row.new_amount, row.new_dynamic),
            )
            for row in rows
        }
        assert len(rows) == len(view) == len(events) > 40
        assert view == events
        for row in rows:
            exact = percents[(row.model, row.component, _time(row.changed_at))]
            assert (row.percent is None) == (exact is None)
            if exact is not None:
                assert abs(Decimal(str(row.percent)) - exact) <= Decimal("0.005")

    def test_current_views_equal_the_price_table(self, connection: Connection) -> None:
        """current_models and current_prices show the catalog the `prices` command shows."""
        table = price_table(connection, UNTIL)
        expected = {
            entry.model: (entry.price("prompt"), entry.price("completion")) for entry in table.rows
        }
        rows = connection.execute(
            text("SELECT model, prompt_per_million, completion_per_million FROM current_models")
        ).all()
        assert {row.model for row in rows} == set(expected)
        for model, prompt, completion in rows:
            for value, price in ((prompt, expected[model][0]), (completion, expected[model][1])):
                if price == DYNAMIC:
                    assert value is None
                else:
                    assert isinstance(price, Decimal)
                    assert abs(Decimal(str(value)) - price * 1_000_000) < Decimal("1e-9")
        current = connection.execute(
            text("SELECT COUNT(*) FROM current_prices WHERE component = 'prompt'")
        ).scalar_one()
        assert current == sum(1 for p, _ in expected.values() if p != 0)

    def test_availability_intervals_equal_the_history(self, connection: Connection) -> None:
        """availability_intervals holds the intervals `history` shows."""
        rows = connection.execute(
            text(
                "SELECT available_from, available_until FROM availability_intervals"
                " WHERE model = 'allenai/olmo-3.1-32b-think' ORDER BY available_from"
            )
        ).all()
        spans = model_history(connection, "allenai/olmo-3.1-32b-think").availability
        assert [shown(v) for row in rows for v in row] == [
            shown(v) for span in spans for v in (span.available_from, span.available_until)
        ]

    def test_observations_by_month(self, connection: Connection) -> None:
        """observations has one row per successful sync, with its day and month."""
        rows = connection.execute(
            text("SELECT observed_on, month FROM observations ORDER BY observed_at")
        ).all()
        assert [tuple(row) for row in rows] == [
            ("2026-02-27", "2026-02"),
            ("2026-02-27", "2026-02"),
            ("2026-03-02", "2026-03"),
            ("2026-03-03", "2026-03"),
            ("2026-03-04", "2026-03"),
            ("2026-03-05", "2026-03"),
        ]


class TestReadmeExamples:
    def test_examples_have_their_output(self) -> None:
        """The README shows the output of its analyst examples (at least the four asked for)."""
        assert len(EXAMPLES) >= 4
        for needle in ("128000", "percent < 0", "valid_from <=", "month"):
            assert any(needle in sql for sql, _ in EXAMPLES), needle

    def test_examples_print_what_the_readme_shows(self, engine: Engine) -> None:
        """On the demo database (the two bundled samples), each example query returns exactly
        the rows shown under it, on SQLite and on PostgreSQL."""
        for sample in SAMPLES:
            result = sync_file(
                engine, sample.path, observed_at=sample.observed_at, max_removed_share=None
            )
            assert result.ok, result.error
        with engine.connect() as connection:
            for sql, output in EXAMPLES:
                assert run_query(connection, sql) == output, sql
