"""The migrations build exactly the schema the ORM models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from etl.db.tables import metadata
from etl.store.migrate import alembic_config, head_revision, migrations_dir, schema_state, upgrade


class TestMigrations:
    def test_single_head(self, engine: Engine) -> None:
        """The revision history has one head, so `upgrade head` is unambiguous, and the file
        names tell it without Alembic (the fast schema check relies on that)."""
        heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
        assert heads == [head_revision()]

    def test_upgraded_schema_matches_the_models(self, engine: Engine) -> None:
        """After `upgrade head`, autogenerate finds nothing to change."""
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        assert schema_state(engine).up_to_date

    def test_downgrade_then_upgrade_round_trips(self, engine: Engine) -> None:
        """Downgrading to base drops every table; upgrading again restores the same schema."""
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        assert upgrade(engine).up_to_date
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []

    def test_migrations_ship_in_the_package_or_the_checkout(self) -> None:
        """The scripts are found without an alembic.ini, from wherever etl is installed."""
        assert (migrations_dir() / "env.py").is_file()
        assert any((migrations_dir() / "versions").glob("*.py"))
