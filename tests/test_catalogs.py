"""Several catalogs in one database: each is a history of its own."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text

from etl.config import check_catalog_name
from etl.db.engine import make_engine
from etl.ingest.match import match_key
from etl.pipeline import sync_bytes
from etl.store.migrate import alembic_config, schema_state, upgrade
from tests.helpers import (
    DATA,
    daily_files,
    make_model,
    natural_history,
    observed_at,
    payload,
    read_bytes,
)
from tests.invariants import assert_invariants

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def catalog_history(engine: Engine, catalog: str) -> dict[str, list[tuple[Any, ...]]]:
    """One catalog's history keyed by names, sorted (as ``natural_history`` for a whole
    database): two catalogs that hold the same history give equal dumps, wherever they are
    stored and whatever else the database holds."""
    scope = "JOIN providers p ON p.id = m.provider_id JOIN catalogs c ON c.id = p.catalog_id"
    where = "WHERE c.name = :catalog"
    queries = {
        "providers": """SELECT p.name, p.first_seen_at, p.last_observed_at FROM providers p
            JOIN catalogs c ON c.id = p.catalog_id WHERE c.name = :catalog""",
        "provider_states": """SELECT p.name, s.configured, s.valid_from, s.valid_to
            FROM provider_states s JOIN providers p ON p.id = s.provider_id
            JOIN catalogs c ON c.id = p.catalog_id WHERE c.name = :catalog""",
        "models": f"""SELECT p.name, m.model, m.match_key, v.name, m.first_seen_at,
                m.available, m.source_hash, m.source_hash_at
            FROM models m {scope} JOIN vendors v ON v.id = m.vendor_id {where}""",
        "model_versions": f"""SELECT p.name, m.model, mv.version, mv.valid_from, mv.valid_to,
                mv.content_hash, mv.extra
            FROM model_versions mv JOIN models m ON m.id = mv.model_id {scope} {where}""",
        "prices": f"""SELECT p.name, m.model, x.component, x.amount, x.dynamic, x.valid_from,
                x.valid_to
            FROM prices x JOIN models m ON m.id = x.model_id {scope} {where}""",
        "availability": f"""SELECT p.name, m.model, a.valid_from, a.valid_to, a.last_seen_at
            FROM model_availability a JOIN models m ON m.id = a.model_id {scope} {where}""",
        "observations": """SELECT r.observed_at, r.payload_sha256, r.models_seen, r.added,
                r.removed, r.returned, r.versions_written, r.price_changes, r.held_providers
            FROM sync_runs r JOIN catalogs c ON c.id = r.catalog_id
            WHERE r.status = 'succeeded' AND c.name = :catalog""",
    }
    with engine.connect() as connection:
        return {
            name: sorted(
                (tuple(row) for row in connection.execute(text(query), {"catalog": catalog})),
                key=repr,
            )
            for name, query in queries.items()
        }


def gpt_4o(prompt: str) -> dict[str, Any]:
    return make_model("openai/gpt-4o", pricing={"prompt": prompt, "completion": "0.00001"})


def sync_to(engine: Engine, catalog: str, models: list[dict[str, Any]], at: datetime) -> Any:
    result = sync_bytes(engine, payload(models), observed_at=at, catalog=catalog)
    assert result.ok, result.error
    return result


class TestNames:
    @pytest.mark.parametrize("name", ["default", "insforge-prod", "litellm", "a.b_c-9"])
    def test_good_names(self, name: str) -> None:
        """Lowercase letters, digits, '.', '_' and '-' name a catalog."""
        assert check_catalog_name(name) == name

    @pytest.mark.parametrize("name", ["", "Prod", "-x", "a b", "a/b", "x" * 65, "é"])
    def test_other_names_are_refused_in_one_line(self, name: str) -> None:
        """Anything else is refused with the rule, on one line."""
        with pytest.raises(
            ValueError, match="cannot name a catalog: use 1 to 64 lowercase letters"
        ) as error:
            check_catalog_name(name)
        assert "\n" not in str(error.value)


class TestSeparateSeries:
    def test_one_model_in_two_catalogs_is_two_series(self, engine: Engine) -> None:
        """Two catalogs that list provider openrouter and model openai/gpt-4o keep a provider,
        a model and a price history each; a change in one is not a change in the other."""
        sync_to(engine, "gateway-a", [gpt_4o("0.000005")], T0)
        sync_to(engine, "gateway-b", [gpt_4o("0.000004")], T0)
        changed = sync_to(engine, "gateway-b", [gpt_4o("0.000003")], T0 + timedelta(days=1))
        assert changed.catalog == "gateway-b" and changed.price_changes == 1
        a, b = catalog_history(engine, "gateway-a"), catalog_history(engine, "gateway-b")
        assert [row[:2] for row in a["models"]] == [("openrouter", "openai/gpt-4o")]
        assert [row[:2] for row in b["models"]] == [("openrouter", "openai/gpt-4o")]
        prompts = {
            name: sorted(
                (Decimal(str(row[3])), row[6] is None)
                for row in history["prices"]
                if row[2] == "prompt"
            )
            for name, history in (("a", a), ("b", b))
        }
        assert prompts["a"] == [(Decimal("0.000005"), True)]
        assert prompts["b"] == [(Decimal("0.000003"), True), (Decimal("0.000004"), False)]

    def test_a_catalog_without_a_model_does_not_retire_another_catalogs(
        self, engine: Engine
    ) -> None:
        """Syncing a catalog that lacks most of another's models retires nothing of the other,
        and the mass-removal guard does not look across catalogs."""
        many = [make_model(f"acme/model-{n}") for n in range(20)]
        sync_to(engine, "big", many, T0)
        small = sync_to(engine, "small", many[:1], T0 + timedelta(hours=1))
        assert small.removed == 0 and not small.held_providers
        big = catalog_history(engine, "big")
        assert all(row[5] for row in big["models"])  # all still available
        assert all(row[3] is None for row in big["availability"])

    def test_each_catalog_claims_its_own_ticks(self, engine: Engine) -> None:
        """One tick is one run per catalog: another catalog syncs at the same tick, the same
        catalog a second time is skipped."""
        tick = T0
        first = sync_bytes(engine, payload([gpt_4o("1")]), observed_at=tick, tick_at=tick)
        other = sync_bytes(
            engine, payload([gpt_4o("1")]), observed_at=tick, tick_at=tick, catalog="other"
        )
        again = sync_bytes(engine, payload([gpt_4o("1")]), observed_at=tick, tick_at=tick)
        assert (first.status, other.status, again.status) == ("succeeded", "succeeded", "skipped")


def _releases() -> list[tuple[str, datetime, bytes]]:
    litellm = sorted((DATA / "litellm").glob("*.json.gz"))
    return [("litellm", observed_at(path), read_bytes(f"litellm/{path.name}")) for path in litellm]


def _dailies(count: int) -> list[tuple[str, datetime, bytes]]:
    return [
        ("openrouter", observed_at(path), read_bytes(f"openrouter-daily/{path.name}"))
        for path in daily_files()[:count]
    ]


def _feed(engine: Engine, observations: list[tuple[str, datetime, bytes]]) -> None:
    for catalog, when, raw in observations:
        result = sync_bytes(engine, raw, observed_at=when, catalog=catalog, max_removed_share=None)
        assert result.ok, (catalog, when, result.error)


class TestIsolation:
    def test_interleaved_catalogs_equal_each_alone(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """Two catalogs synced into one database, interleaved and out of order (so each late
        observation rewinds and merges its own catalog while the other has later rows), hold
        exactly what each builds alone, in time order, in a database of its own."""
        releases, dailies = _releases(), _dailies(8)
        alone_litellm, alone_openrouter = make_database(), make_database()
        _feed(alone_litellm, releases)
        _feed(alone_openrouter, dailies)
        mixed = [*releases, *dailies]
        random.Random(21).shuffle(mixed)
        _feed(engine, mixed)
        for catalog, alone in (("litellm", alone_litellm), ("openrouter", alone_openrouter)):
            assert catalog_history(engine, catalog) == catalog_history(alone, catalog)
        assert_invariants(engine)  # and `rebuild` from the archive gives the same tables

    def test_forgetting_a_run_rewinds_only_its_catalog(self, engine: Engine) -> None:
        """`runs forget` on one catalog's run leaves the other catalog's rows as they were."""
        from etl.store.amend import forget_run

        sync_to(engine, "a", [gpt_4o("0.000005")], T0)
        sync_to(engine, "b", [gpt_4o("0.000004")], T0 + timedelta(hours=1))
        later = sync_to(engine, "a", [gpt_4o("0.000006")], T0 + timedelta(hours=2))
        sync_to(engine, "b", [gpt_4o("0.000002")], T0 + timedelta(hours=3))
        before_b = catalog_history(engine, "b")
        forget_run(engine, later.run_id)
        assert catalog_history(engine, "b") == before_b
        prices = catalog_history(engine, "a")["prices"]
        assert [row[6] for row in prices] == [None, None]  # prompt and completion, open again


class TestMigration:
    def test_a_database_of_revision_0006_keeps_every_row_in_default(self, engine: Engine) -> None:
        """A history written, taken back to revision 0006 and upgraded keeps every row, all of
        it in catalog ``default``; it syncs on, and a second catalog can join it. Going back
        below 0007 is then refused, naming the catalogs."""
        for path in daily_files()[:3]:
            raw = read_bytes(f"openrouter-daily/{path.name}")
            assert sync_bytes(engine, raw, observed_at=observed_at(path)).ok
        before = natural_history(engine)
        _downgrade(engine, "0006")
        assert schema_state(engine).current == "0006"
        assert upgrade(engine).up_to_date
        assert natural_history(engine) == before
        with engine.connect() as connection:
            catalogs = connection.execute(text("SELECT id, name FROM catalogs")).all()
            keys = connection.execute(
                text(
                    "SELECT m.model, p.name, m.match_key FROM models m"
                    " JOIN providers p ON p.id = m.provider_id"
                )
            ).all()
        assert catalogs == [(1, "default")]
        assert keys and all(key == match_key(model, provider) for model, provider, key in keys)
        path = daily_files()[3]
        assert sync_bytes(
            engine, read_bytes(f"openrouter-daily/{path.name}"), observed_at=observed_at(path)
        ).ok
        sync_to(engine, "second", [gpt_4o("1")], observed_at(path))
        with pytest.raises(RuntimeError, match=r"2 catalogs \(default, second\)"):
            _downgrade(engine, "0006")


def _downgrade(engine: Engine, revision: str) -> None:
    # As etl.store.migrate migrates: SQLite's foreign keys off while a table is rebuilt.
    url = engine.url.render_as_string(hide_password=False)
    migrating = make_engine(url, sqlite_foreign_keys=False)
    config = alembic_config(engine)
    try:
        with migrating.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        migrating.dispose()


class TestCommandLine:
    def test_sync_and_backfill_take_a_catalog(self, database_url: str) -> None:
        """`sync --catalog` and `backfill --catalog` (or CATALOG_ETL_CATALOG) put their runs in
        that catalog, and say which; two OpenRouter captures in two catalogs are two
        histories of the same models."""
        from click.testing import CliRunner

        from etl.cli import cli

        daily = daily_files()[0]
        runner = CliRunner()
        common = ["--database-url", database_url, "--format", "json"]
        synced = runner.invoke(
            cli,
            [
                "sync",
                "--file",
                str(daily),
                "--observed-at",
                observed_at(daily).isoformat(),
                "--catalog",
                "gateway",
                *common,
            ],
        )
        assert synced.exit_code == 0, synced.output
        assert json.loads(synced.stdout)["catalog"] == "gateway"
        backfilled = runner.invoke(
            cli, ["backfill", str(daily), *common], env={"CATALOG_ETL_CATALOG": "archive"}
        )
        assert backfilled.exit_code == 0, backfilled.output
        engine = make_engine(database_url)
        try:
            gateway, archive = (catalog_history(engine, name) for name in ("gateway", "archive"))
            default = catalog_history(engine, "default")
        finally:
            engine.dispose()
        assert gateway["models"] and gateway["models"] == archive["models"]
        assert default["models"] == []

    def test_a_bad_name_is_a_usage_error(self, database_url: str) -> None:
        """A name that cannot be a catalog stops the command before it touches the database,
        with the rule on one line."""
        from click.testing import CliRunner

        from etl.cli import cli

        result = CliRunner().invoke(
            cli,
            ["sync", "--file", "x.json", "--catalog", "Prod DB", "--database-url", database_url],
        )
        assert result.exit_code == 2
        assert "--catalog 'Prod DB' cannot name a catalog" in result.stderr
        engine = make_engine(database_url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM sync_runs")).scalar() == 0
        finally:
            engine.dispose()
