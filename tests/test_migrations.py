"""The migrations build exactly the schema the ORM models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from etl.db.engine import make_engine
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


GROWING = (
    "sync_runs",
    "services",
    "provider_states",
    "models",
    "model_versions",
    "capability_sets",
    "prices",
    "model_availability",
)


class TestRevision0004:
    def test_a_database_of_the_previous_revision_keeps_every_row(self, engine: Engine) -> None:
        """A history written, taken back to revision 0003 and upgraded again keeps every
        row, and syncs on as before."""
        from etl.pipeline import sync_bytes
        from tests.helpers import daily_files, natural_history, observed_at, read_bytes

        for path in daily_files()[:3]:
            raw = read_bytes(f"openrouter-daily/{path.name}")
            assert sync_bytes(engine, raw, observed_at=observed_at(path)).ok
        before = natural_history(engine)
        config = alembic_config(engine)
        # As etl.store.migrate migrates: SQLite's foreign keys off while a table is rebuilt.
        url = engine.url.render_as_string(hide_password=False)
        migrating = make_engine(url, sqlite_foreign_keys=False)
        with migrating.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        migrating.dispose()
        assert schema_state(engine).current == "0003"
        assert upgrade(engine).up_to_date
        assert natural_history(engine) == before
        path = daily_files()[3]
        raw = read_bytes(f"openrouter-daily/{path.name}")
        assert sync_bytes(engine, raw, observed_at=observed_at(path)).ok

    def test_keys_go_past_32_bits(self, engine: Engine) -> None:
        """Every table that grows with time takes ids beyond 2**31 - 1, from its own key
        generator: a long-running service does not run out of them."""
        from etl.pipeline import sync_bytes
        from tests.helpers import make_model, payload

        start = 2**31 + 5
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                for table in GROWING:
                    connection.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {start})")
                    )
            else:  # a row with a large id: SQLite's next rowid comes after the largest
                connection.execute(
                    text(
                        "INSERT INTO sync_runs (id, catalog_id, status, default_provider,"
                        " started_at, warnings, models_seen, added, removed, returned,"
                        f" versions_written, price_changes) VALUES ({start}, 1, 'failed', 'x',"
                        " '2026-01-01', '[]', 0, 0, 0, 0, 0, 0)"
                    )
                )
        result = sync_bytes(engine, payload([make_model("a/one")]))
        assert result.ok and result.run_id > start
        with engine.connect() as connection:
            pointed = connection.execute(
                text("SELECT sync_run_id FROM model_versions")
            ).scalar_one()
        assert pointed == result.run_id
