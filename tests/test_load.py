"""Syncing into the database: history rows, idempotence, availability and exact money.

Every test here runs on SQLite and on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from etl.db.tables import (
    model_availability_table,
    model_versions_table,
    models_table,
    prices_table,
    provider_states_table,
    providers_table,
    sync_runs_table,
)
from etl.ingest.money import canonical
from etl.pipeline import SyncResult, sync_bytes
from etl.read.queries import last_seen_at
from tests.helpers import count_rows, load_json, natural_history, payload, read_bytes
from tests.helpers import make_model as model

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def sync(engine: Engine, models: list[dict[str, Any]] | bytes, day: int) -> SyncResult:
    raw = models if isinstance(models, bytes) else payload(models)
    result = sync_bytes(engine, raw, source="test", observed_at=at(day))
    return result


def data_rows(engine: Engine) -> dict[str, int]:
    """Rows per history table: runs and the raw payload archive left out."""
    counts = count_rows(engine)
    del counts["sync_runs"], counts["payloads"]
    return counts


class TestFirstSync:
    def test_real_catalog_lands_in_every_table(self, engine: Engine) -> None:
        """A real 337-model catalog creates one model, version and availability row per model."""
        result = sync(engine, read_bytes("openrouter/2025-11-19_teatreechat.json.gz"), 0)
        assert result.ok, result.error
        assert (result.models_seen, result.added, result.versions_written) == (337, 337, 337)
        assert (result.removed, result.returned, result.price_changes) == (0, 0, 0)
        counts = count_rows(engine)
        assert counts["models"] == counts["model_versions"] == counts["model_availability"] == 337
        assert counts["payloads"] == 1
        assert counts["prices"] > 337  # most models price prompt and completion

    def test_rows_written_in_small_batches_are_the_same_history(
        self, engine: Engine, make_database: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Batched inserts keep every new id matched to its own row across batch ends."""
        raw = read_bytes("openrouter/2025-11-19_teatreechat.json.gz")
        whole = make_database()
        sync(whole, raw, 0)
        monkeypatch.setattr("etl.db.bulk.BATCH", 7)
        sync(engine, raw, 0)
        assert natural_history(engine) == natural_history(whole)

    def test_run_row_records_the_outcome(self, engine: Engine) -> None:
        """The run row holds status, observation time, counts and the payload's sha256."""
        result = sync(engine, [model()], 0)
        with engine.connect() as connection:
            run = connection.execute(
                select(sync_runs_table).where(sync_runs_table.c.id == result.run_id)
            ).one()
        assert run.status == "succeeded"
        assert run.observed_at == at(0)
        assert run.finished_at is not None
        assert (run.models_seen, run.added, run.versions_written) == (1, 1, 1)
        assert run.payload_sha256 is not None and len(run.payload_sha256) == 64
        assert run.shape == "openrouter"


class TestIdempotence:
    def test_same_payload_twice_writes_only_a_run(self, engine: Engine) -> None:
        """Syncing the same payload again writes no version, price or availability row."""
        raw = read_bytes("openrouter/2025-11-19_teatreechat.json.gz")
        sync(engine, raw, 0)
        before = data_rows(engine)
        result = sync(engine, raw, 1)
        assert result.ok
        assert (result.versions_written, result.price_changes, result.added) == (0, 0, 0)
        assert data_rows(engine) == before
        assert count_rows(engine)["sync_runs"] == 2
        assert count_rows(engine)["payloads"] == 1  # archived once per sha256

    def test_same_bytes_again_equal_a_full_resync(
        self, engine: Engine, make_database: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Bytes identical to the latest observation skip parsing, yet leave exactly the
        history and run row that validating and comparing every model again leaves."""
        raw = read_bytes("insforge/2025-11-19_insforge_v1.1.0.json.gz")
        full = make_database()
        sync(engine, raw, 0), sync(full, raw, 0)
        fast = sync(engine, raw, 1)
        with monkeypatch.context() as patch:
            patch.setattr("etl.store.observe._same_payload", lambda *args: False)
            slow = sync(full, raw, 1)
        assert natural_history(engine) == natural_history(full)
        assert _seen(engine, "openai/gpt-4o") == (True, at(1))

        def outcome(result: SyncResult) -> dict[str, Any]:
            return {k: v for k, v in result.to_json().items() if k not in ("run_id", "source")}

        assert outcome(fast) == outcome(slow)
        assert fast.models_seen > 0 and fast.shape == "insforge-categorized"

    def test_same_bytes_after_a_normalization_change_are_normalized_again(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shortcut is only taken when the stored state came from the normalization in
        use: after an upgrade of it every model is validated and hashed again."""
        raw = payload([model("a/one"), model("a/two")])
        sync(engine, raw, 0)
        with engine.connect() as connection:
            before = set(connection.execute(select(models_table.c.source_hash)).scalars())
        monkeypatch.setattr("etl.ingest.normalize.NORMALIZATION_VERSION", 99)
        monkeypatch.setattr("etl.store.observe.NORMALIZATION_VERSION", 99)
        monkeypatch.setattr("etl.store.runs.NORMALIZATION_VERSION", 99)
        result = sync(engine, raw, 1)
        assert result.ok and result.models_seen == 2
        with engine.connect() as connection:
            after = set(connection.execute(select(models_table.c.source_hash)).scalars())
            version = connection.execute(
                select(sync_runs_table.c.normalization_version).where(
                    sync_runs_table.c.id == result.run_id
                )
            ).scalar_one()
        assert before.isdisjoint(after) and version == 99

    def test_fingerprints_of_an_earlier_build_only_cost_one_validation(
        self, engine: Engine
    ) -> None:
        """Stored fingerprints that do not match (an earlier build hashed records with
        sha256) make the next sync validate every model again: it writes no version and
        stores the current fingerprints."""
        raw = read_bytes("openrouter/2025-11-19_teatreechat.json.gz")
        sync(engine, raw, 0)
        with engine.begin() as connection:
            connection.execute(update(models_table).values(source_hash="e3b0c442" * 8))
        before = data_rows(engine)
        result = sync(engine, json.dumps(json.loads(raw), indent=2).encode(), 1)
        assert result.ok and (result.versions_written, result.price_changes) == (0, 0)
        assert data_rows(engine) == before
        with engine.connect() as connection:
            stored = set(connection.execute(select(models_table.c.source_hash)).scalars())
        assert len(stored) == result.models_seen and all(len(h) == 32 for h in stored)

    def test_same_bytes_under_another_provider_name_are_a_new_catalog(self, engine: Engine) -> None:
        """An OpenRouter list synced with another --provider is that provider's catalog."""
        raw = payload([model("a/one")])
        sync(engine, raw, 0)
        other = sync_bytes(engine, raw, observed_at=at(1), provider="mirror")
        assert (other.added, other.models_seen) == (1, 1)

    def test_representation_changes_change_nothing(self, engine: Engine) -> None:
        """Key order, list order, trailing zeros and dropped zero components are not changes."""
        original = model(pricing={"prompt": "0.0000010", "completion": "0.000002", "request": "0"})
        sync(engine, [original, model("acme/rocket-2")], 0)
        before = data_rows(engine)
        shuffled = {key: original[key] for key in reversed(list(original))}
        shuffled["supported_parameters"] = ["temperature", "max_tokens"]
        shuffled["pricing"] = {"completion": "0.0000020", "prompt": "0.000001"}
        # A bare array in another order: the same catalog in another representation.
        result = sync(engine, json.dumps([model("acme/rocket-2"), shuffled]).encode(), 1)
        assert result.ok
        assert (result.versions_written, result.price_changes) == (0, 0)
        assert data_rows(engine) == before

    def test_numbers_a_database_respells_change_nothing(self, engine: Engine) -> None:
        """Numbers in fields without a column (``1e20``, ``-0.0``, ``1.0``, ``1E-7``, an
        integer beyond 64 bits) that PostgreSQL's jsonb gives back in another spelling do
        not make the stored state look changed: the same record again, keys reordered,
        writes no version on either database."""
        odd = '{"huge": 1e20, "zero": -0.0, "one": 1.0, "tiny": 1E-7, "big": %s, "mix": [2.5]}'
        extra = odd % (2**70 + 1)
        first = json.dumps(model("a/one")).replace('"id"', f'"odd": {extra}, "id"', 1)
        sync(engine, f'{{"data": [{first}]}}'.encode(), 0)
        again = json.dumps(dict(reversed(list(model("a/one").items()))))
        again = again[:-1] + f', "odd": {extra}}}'
        result = sync(engine, f'{{"data": [{again}]}}'.encode(), 1)
        assert result.ok, result.error
        assert (result.versions_written, result.price_changes) == (0, 0)
        with engine.connect() as connection:
            versions = connection.execute(select(model_versions_table.c.id)).all()
        assert len(versions) == 1

    def test_snake_and_camel_case_insforge_are_the_same_catalog(self, engine: Engine) -> None:
        """InsForge v0.2.6 (snake_case) then v1.1.0 (camelCase) of one day writes no version."""
        first = sync_bytes(
            engine, read_bytes("insforge/2025-11-19_insforge_v0.2.6.json.gz"), observed_at=at(0)
        )
        assert first.ok and first.shape == "insforge-categorized"
        before = data_rows(engine)
        second = sync_bytes(
            engine, read_bytes("insforge/2025-11-19_insforge_v1.1.0.json.gz"), observed_at=at(1)
        )
        assert second.ok, second.error
        assert (second.versions_written, second.price_changes, second.removed) == (0, 0, 0)
        assert data_rows(engine) == before


class TestChanges:
    def test_price_change_closes_one_row_and_opens_another(self, engine: Engine) -> None:
        """A new prompt price is one price change; the model's version stays as it was."""
        sync(engine, [model()], 0)
        result = sync(engine, [model(pricing={"prompt": "0.0000015", "completion": "0.000002"})], 1)
        assert (result.price_changes, result.versions_written) == (1, 0)
        with engine.connect() as connection:
            rows = connection.execute(
                select(prices_table.c.amount, prices_table.c.valid_from, prices_table.c.valid_to)
                .where(prices_table.c.component == "prompt")
                .order_by(prices_table.c.valid_from)
            ).all()
        assert rows == [
            (Decimal("0.000001"), at(0), at(1)),
            (Decimal("0.0000015"), at(1), None),
        ]

    def test_attribute_change_writes_a_new_version(self, engine: Engine) -> None:
        """A new context length closes version 1 and opens version 2 at the observation time."""
        sync(engine, [model()], 0)
        result = sync(engine, [model(context_length=256000)], 1)
        assert result.versions_written == 1
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    model_versions_table.c.version,
                    model_versions_table.c.context_length,
                    model_versions_table.c.valid_from,
                    model_versions_table.c.valid_to,
                ).order_by(model_versions_table.c.version)
            ).all()
        assert rows == [(1, 128000, at(0), at(1)), (2, 256000, at(1), None)]

    def test_text_is_stored_exactly_as_sent(self, engine: Engine) -> None:
        """Names keep trailing and double spaces; descriptions keep their newlines."""
        sync(engine, [model(name="Acme:  Rocket ", description="line 1\n\nline 2 ")], 0)
        with engine.connect() as connection:
            row = connection.execute(
                select(model_versions_table.c.name, model_versions_table.c.description)
            ).one()
        assert tuple(row) == ("Acme:  Rocket ", "line 1\n\nline 2 ")

    def test_unknown_fields_are_kept_and_versioned(self, engine: Engine) -> None:
        """A field catalog-etl has no column for is kept in `extra`; its change is a version."""
        sync(engine, [model(knowledge_cutoff="2025-01")], 0)
        result = sync(engine, [model(knowledge_cutoff="2025-06")], 1)
        assert result.versions_written == 1
        with engine.connect() as connection:
            extras = (
                connection.execute(
                    select(model_versions_table.c.extra).order_by(model_versions_table.c.version)
                )
                .scalars()
                .all()
            )
        assert [e["knowledge_cutoff"] for e in extras] == ["2025-01", "2025-06"]
        assert extras[0]["per_request_limits"] is None

    def test_integers_beyond_64_bits_are_stored_exactly(self, engine: Engine) -> None:
        """An integer too large for 64 bits in a field without a column comes back from the
        database as the same integer, not a rounded float, and compares equal to itself when
        the record is sent again with its keys in another order."""
        big = 123456789012345678901234567890
        sync(engine, [model(seed=big, nested={"limits": [-(2**63) - 1]})], 0)
        with engine.connect() as connection:
            extra = connection.execute(select(model_versions_table.c.extra)).scalar_one()
        assert (extra["seed"], extra["nested"]) == (big, {"limits": [-(2**63) - 1]})
        assert type(extra["seed"]) is int
        again = sync(engine, [model(nested={"limits": [-(2**63) - 1]}, seed=big)], 1)
        assert (again.status, again.versions_written) == ("succeeded", 0)


def _seen(engine: Engine, model_id: str) -> tuple[bool, datetime]:
    """Whether a model is listed now, and when it was last seen."""
    with engine.connect() as connection:
        row = connection.execute(
            select(models_table.c.available, last_seen_at())
            .join(providers_table)
            .where(models_table.c.model == model_id)
        ).one()
    return row[0], row[1]


class TestAvailability:
    def test_missing_model_is_closed_and_returns_in_a_new_interval(self, engine: Engine) -> None:
        """Absent from a complete catalog closes availability; coming back opens a new one."""
        sync(engine, [model("a/one"), model("a/two"), model("a/three"), model("a/four")], 0)
        gone = sync(engine, [model("a/one"), model("a/two"), model("a/three")], 1)
        assert gone.removed == 1
        assert _seen(engine, "a/four") == (False, at(0))
        back = sync(engine, [model("a/one"), model("a/two"), model("a/three"), model("a/four")], 2)
        assert (back.returned, back.added, back.versions_written) == (1, 0, 0)
        with engine.connect() as connection:
            intervals = connection.execute(
                select(
                    model_availability_table.c.valid_from,
                    model_availability_table.c.valid_to,
                    model_availability_table.c.last_seen_at,
                )
                .join(models_table)
                .where(models_table.c.model == "a/four")
                .order_by(model_availability_table.c.valid_from)
            ).all()
        assert intervals == [(at(0), at(1), at(0)), (at(2), None, None)]
        assert _seen(engine, "a/four") == (True, at(2))

    def test_unconfigured_provider_changes_no_availability(self, engine: Engine) -> None:
        """`configured: false` with empty lists says nothing about which models exist."""
        first = sync_bytes(
            engine, read_bytes("insforge/2025-11-19_insforge_v0.2.6.json.gz"), observed_at=at(0)
        )
        assert first.ok
        before = data_rows(engine)
        result = sync_bytes(
            engine,
            read_bytes("insforge/2025-11-19_insforge_unconfigured.json.gz"),
            observed_at=at(1),
        )
        assert result.ok, result.error
        assert result.removed == 0
        after = data_rows(engine)
        assert after.pop("provider_states") == before.pop("provider_states") + 1
        assert after == before
        with engine.connect() as connection:
            states = connection.execute(
                select(
                    provider_states_table.c.configured,
                    provider_states_table.c.valid_from,
                    provider_states_table.c.valid_to,
                ).order_by(provider_states_table.c.valid_from)
            ).all()
            available = connection.execute(
                select(models_table.c.id).where(models_table.c.available)
            ).all()
        assert states == [(True, at(0), at(1)), (False, at(1), None)]
        assert len(available) == 337


class TestMassRemovalGuard:
    def test_catalog_missing_most_models_is_held(self, engine: Engine) -> None:
        """A catalog without 90% of the available models is held: recorded, nothing applied."""
        models = [model(f"a/m{i}") for i in range(10)]
        sync(engine, models, 0)
        before = data_rows(engine)
        result = sync(engine, models[:1], 1)
        assert result.status == "held"
        assert result.error is not None
        assert "9 of the 10 available models of openrouter" in result.error
        assert "--allow-mass-removal" in result.error
        assert data_rows(engine) == before
        with engine.connect() as connection:
            run = connection.execute(
                select(sync_runs_table).where(sync_runs_table.c.id == result.run_id)
            ).one()
        assert (run.status, run.error, run.removed) == ("held", result.error, 0)

    def test_next_normal_catalog_applies_normally(self, engine: Engine) -> None:
        """After a held run, a complete catalog applies as if nothing happened."""
        models = [model(f"a/m{i}") for i in range(10)]
        sync(engine, models, 0)
        sync(engine, models[:1], 1)
        result = sync(engine, models[1:], 2)  # one model really gone: 10%
        assert result.ok and result.removed == 1

    def test_allowing_mass_removal_applies_it(self, engine: Engine) -> None:
        """With the guard lifted, the removals are applied."""
        models = [model(f"a/m{i}") for i in range(10)]
        sync(engine, models, 0)
        result = sync_bytes(engine, payload(models[:1]), observed_at=at(1), max_removed_share=None)
        assert result.ok and result.removed == 9

    def test_empty_catalog_of_a_configured_provider_is_held(self, engine: Engine) -> None:
        """An empty model list from a provider that says it is configured retires nothing."""
        sync(engine, [model(f"a/m{i}") for i in range(6)], 0)
        empty = json.dumps({"text": [{"provider": "openrouter", "configured": True, "models": []}]})
        result = sync(engine, empty.encode(), 1)
        assert result.status == "held"


class TestBadRecords:
    def test_invalid_record_is_skipped_and_keeps_its_state(self, engine: Engine) -> None:
        """A model whose price is not a number is skipped with a warning, its old price kept."""
        sync(engine, [model("a/one"), model("a/two")], 0)
        broken = model("a/two", pricing={"prompt": "abc", "completion": "0.000009"})
        result = sync(engine, [model("a/one", name="renamed"), broken], 1)
        assert result.ok
        assert result.versions_written == 1 and result.removed == 0
        assert len(result.warnings) == 1
        assert "a/two" in result.warnings[0] and "pricing.prompt" in result.warnings[0]
        with engine.connect() as connection:
            prices = (
                connection.execute(
                    select(prices_table.c.amount)
                    .join(models_table)
                    .where(models_table.c.model == "a/two", prices_table.c.valid_to.is_(None))
                    .order_by(prices_table.c.component)
                )
                .scalars()
                .all()
            )
            available = connection.execute(
                select(models_table.c.available).where(models_table.c.model == "a/two")
            ).scalar_one()
        assert prices == [Decimal("0.000002"), Decimal("0.000001")]  # completion, prompt
        assert available is True

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (b"", "payload is empty"),
            (b"<html>oops</html>", "not valid JSON"),
            (b'{"data": [', "not valid JSON"),
            (b'\xff\xfe{"data": []}', "not valid UTF-8"),
            (b'{"models": 1}', "unrecognised catalog shape"),
            (b'{"data": [], "links": {"next": "https://x/p2"}}', "one page of a paginated list"),
        ],
    )
    def test_bad_payload_fails_the_run_and_writes_no_data(
        self, engine: Engine, raw: bytes, message: str
    ) -> None:
        """A payload unusable as a whole fails with a one-line error and changes nothing."""
        sync(engine, [model()], 0)
        before = data_rows(engine)
        result = sync(engine, raw, 1)
        assert result.status == "failed"
        assert result.error is not None and message in result.error
        assert "\n" not in result.error
        assert data_rows(engine) == before
        with engine.connect() as connection:
            run = connection.execute(
                select(sync_runs_table).where(sync_runs_table.c.id == result.run_id)
            ).one()
        assert (run.status, run.error) == ("failed", result.error)
        assert run.versions_written == 0

    def test_unstorable_text_is_repaired_with_a_warning(self, engine: Engine) -> None:
        """Lone surrogates in a real capture are replaced and counted, not a crash (PostgreSQL)."""
        result = sync(engine, read_bytes("openrouter/2025-06-19_teatreechat.json.gz"), 0)
        assert result.ok, result.error
        assert any("repaired" in warning for warning in result.warnings)
        assert result.added == 323


class TestMoney:
    def test_prices_round_trip_exactly(self, engine: Engine) -> None:
        """Float-noise prices with 23 decimals come back as the exact decimal that was sent."""
        noisy = "0.00000008333333333333334"
        sync(engine, [model(pricing={"prompt": noisy, "completion": "0.0000030"})], 0)
        with engine.connect() as connection:
            amounts = dict(
                connection.execute(select(prices_table.c.component, prices_table.c.amount)).all()
            )
        assert amounts == {"prompt": Decimal(noisy), "completion": Decimal("0.000003")}
        assert canonical(amounts["prompt"]) == noisy

    def test_unpriced_free_and_dynamic_are_distinct(self, engine: Engine) -> None:
        """No pricing block: unpriced; all zeros: free; "-1": dynamic with no amount."""
        unpriced = model("a/unpriced")
        del unpriced["pricing"]
        free = model("a/free", pricing={"prompt": "0", "completion": "0"})
        router = model("a/router", pricing={"prompt": "-1", "completion": "-1"})
        sync(engine, [unpriced, free, router], 0)
        with engine.connect() as connection:
            priced = dict(
                connection.execute(
                    select(models_table.c.model, model_versions_table.c.priced).join(models_table)
                ).all()
            )
            prices = connection.execute(
                select(
                    models_table.c.model,
                    prices_table.c.component,
                    prices_table.c.amount,
                    prices_table.c.dynamic,
                ).join(models_table)
            ).all()
        assert priced == {"a/unpriced": False, "a/free": True, "a/router": True}
        assert sorted(tuple(p) for p in prices) == [
            ("a/router", "completion", None, True),
            ("a/router", "prompt", None, True),
        ]

    def test_flat_insforge_updates_prices_and_keeps_what_it_does_not_report(
        self, engine: Engine
    ) -> None:
        """InsForge's flat list after the categorized one: names stay, prompt/completion update."""
        sync_bytes(
            engine, read_bytes("insforge/2025-11-19_insforge_v0.2.6.json.gz"), observed_at=at(0)
        )
        # Five months later 29% of the models are gone: real, so the guard is lifted.
        result = sync_bytes(
            engine,
            read_bytes("insforge/2026-05-01_insforge_current.json.gz"),
            observed_at=at(1),
            max_removed_share=None,
        )
        assert result.ok and result.shape == "insforge-flat"
        flat = {m["id"]: m for m in load_json("insforge/2026-05-01_insforge_current.json.gz")}
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    models_table.c.model,
                    model_versions_table.c.name,
                    prices_table.c.component,
                    prices_table.c.amount,
                )
                .join(model_versions_table, model_versions_table.c.model_id == models_table.c.id)
                .join(prices_table, prices_table.c.model_id == models_table.c.id)
                .where(
                    model_versions_table.c.valid_to.is_(None),
                    prices_table.c.valid_to.is_(None),
                    prices_table.c.component.in_(["prompt", "completion"]),
                    models_table.c.available,
                )
            ).all()
        known = {
            m["id"]
            for m in load_json("insforge/2025-11-19_insforge_v0.2.6.json.gz")["text"][0]["models"]
        }
        assert rows
        for model_id, name, component, amount in rows:
            assert (name is not None) == (model_id in known), model_id
            per_million = flat[model_id]["inputPrice" if component == "prompt" else "outputPrice"]
            assert amount == Decimal(str(per_million)).scaleb(-6)


class TestOrderingAndAtomicity:
    def test_older_observation_is_merged_into_the_timeline(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """A sync observed before the latest observation (a lost race, an old file) is merged:
        the history equals syncing both in time order."""
        sync(engine, [model(name="later"), model("acme/rocket-2")], 5)
        result = sync(engine, [model(name="older")], 4)
        assert result.ok, result.error
        assert (result.added, result.versions_written) == (1, 1)

        in_order = make_database()
        sync(in_order, [model(name="older")], 4)
        sync(in_order, [model(name="later"), model("acme/rocket-2")], 5)
        assert natural_history(engine) == natural_history(in_order)

    def test_other_payload_at_the_same_time_is_refused(self, engine: Engine) -> None:
        """Two different catalogs cannot both be the observation at one time."""
        sync(engine, [model()], 5)
        before = data_rows(engine)
        result = sync(engine, [model(name="other")], 5)
        assert result.status == "failed"
        assert result.error is not None and "already observed at" in result.error
        assert data_rows(engine) == before

    def test_same_payload_at_the_same_time_is_a_no_op(self, engine: Engine) -> None:
        """Re-running a sync with the same file and observation time succeeds and adds nothing."""
        sync(engine, [model()], 5)
        before = data_rows(engine)
        result = sync(engine, [model()], 5)
        assert result.ok and result.versions_written == 0
        assert data_rows(engine) == before

    def test_failure_mid_apply_leaves_nothing_behind(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error after some rows were written rolls the whole sync back."""
        sync(engine, [model("a/one")], 0)
        before = data_rows(engine)

        def explode(*_args: Any, **_kwargs: Any) -> None:
            raise IntegrityError("INSERT", {}, Exception("simulated failure"))

        monkeypatch.setattr("etl.store.versions.capability_sets", explode)
        result = sync(engine, [model("a/one", name="new"), model("a/two")], 1)
        assert result.status == "failed"
        assert result.error == "database error: simulated failure"
        assert data_rows(engine) == before
        assert (result.added, result.versions_written) == (0, 0)


class TestConstraints:
    def _insert_version(self, engine: Engine, **values: Any) -> None:
        with engine.begin() as connection:
            model_id, run_id = connection.execute(
                select(models_table.c.id, models_table.c.id)
            ).first()  # type: ignore[misc]
            run_id = connection.execute(select(sync_runs_table.c.id)).scalar()
            connection.execute(
                insert(model_versions_table).values(
                    model_id=model_id,
                    sync_run_id=run_id,
                    content_hash="x" * 64,
                    priced=True,
                    extra={},
                    **values,
                )
            )

    def test_two_current_versions_are_impossible(self, engine: Engine) -> None:
        """The database itself refuses a second current version of a model."""
        sync(engine, [model()], 0)
        with pytest.raises(IntegrityError):
            self._insert_version(engine, version=2, valid_from=at(3))

    def test_inverted_interval_is_impossible(self, engine: Engine) -> None:
        """valid_to must come after valid_from."""
        sync(engine, [model()], 0)
        with pytest.raises(IntegrityError):
            self._insert_version(engine, version=2, valid_from=at(3), valid_to=at(2))

    def test_two_current_prices_for_one_component_are_impossible(self, engine: Engine) -> None:
        """The database refuses a second current price row for a model and component."""
        sync(engine, [model()], 0)
        with pytest.raises(IntegrityError), engine.begin() as connection:
            existing = connection.execute(
                select(prices_table).where(prices_table.c.component == "prompt")
            ).one()
            connection.execute(
                insert(prices_table).values(
                    model_id=existing.model_id,
                    component="prompt",
                    amount=Decimal("1"),
                    dynamic=False,
                    valid_from=at(3),
                    sync_run_id=existing.sync_run_id,
                )
            )

    def test_sqlite_stores_amounts_as_exact_text(self, engine: Engine) -> None:
        """On SQLite the amount column holds decimal text, never a float."""
        sync(engine, [model(pricing={"prompt": "0.00000008333333333333334"})], 0)
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT amount FROM prices")).scalar_one()
        if engine.dialect.name == "sqlite":
            assert stored == "0.00000008333333333333334"
        else:
            assert stored == Decimal("0.00000008333333333333334")


def test_load_counts_are_the_run_count_columns() -> None:
    """What a sync counts is what its run row, the CLI and every report name."""
    from dataclasses import fields

    from etl.db.tables import RUN_COUNTS, sync_runs_table
    from etl.store.load import LoadCounts

    assert tuple(f.name for f in fields(LoadCounts)) == RUN_COUNTS
    assert all(name in sync_runs_table.c for name in RUN_COUNTS)
