"""Observations that arrive out of order, twice, from the future or by mistake: the history
stays the one that syncing them in time order builds, and merging costs what follows the
insertion point. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from etl.cli import cli
from etl.db.tables import (
    metadata,
    model_availability_table,
    model_versions_table,
    models_table,
    sync_runs_table,
)
from etl.pipeline import SyncResult, sync_bytes
from tests.helpers import daily_files, make_model, natural_history, payload, read_bytes
from tests.invariants import assert_invariants

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SIZE = 30
"""Models kept from each real capture: enough for real changes, small enough to be quick."""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def capture(day: int) -> list[dict[str, Any]]:
    """The first models of a real daily capture (another one every day: real changes)."""
    path = daily_files()[3 + day]
    document = json.loads(read_bytes(f"openrouter-daily/{path.name}"))
    models = document["data"] if isinstance(document, dict) else document
    return sorted(models, key=lambda model: model["id"])[:SIZE]


POOL = [capture(day) for day in range(6)]


def sync(engine: Engine, raw: bytes, hours: float, **options: Any) -> SyncResult:
    result = sync_bytes(engine, raw, source="test", observed_at=at(hours), **options)
    assert result.status in ("succeeded", "held"), result.error
    return result


def empty(engine: Engine) -> None:
    """Delete every row: a fresh database for the next example, without a new schema."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@st.composite
def observations(draw: st.DrawFn) -> list[tuple[float, bytes]]:
    """A few observations at distinct times: real captures, some repriced, some missing
    models (which return later), some from a provider that says it has no key."""
    count = draw(st.integers(min_value=2, max_value=6))
    hours = draw(st.lists(st.integers(0, 200), min_size=count, max_size=count, unique=True))
    drawn = []
    for hour in hours:
        models = copy.deepcopy(draw(st.sampled_from(POOL)))
        for change in draw(st.lists(st.sampled_from(["reprice", "remove", "rename"]), max_size=2)):
            index = draw(st.integers(0, len(models) - 1))
            if change == "reprice" and models[index].get("pricing"):
                models[index]["pricing"]["prompt"] = str(draw(st.integers(1, 9))) + "e-6"
            elif change == "remove":
                del models[index : index + draw(st.integers(1, 3))]
            else:
                models[index]["name"] = draw(st.sampled_from(["A", "B"]))
        if draw(st.integers(0, 9)) == 0:  # a gateway that lost its key lists nothing usable
            body = {"text": [{"provider": "openrouter", "configured": False, "models": models}]}
        else:
            body = {"data": models}
        drawn.append((float(hour), json.dumps(body).encode()))
    return drawn


class TestOrderOfArrival:
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(drawn=observations(), data=st.data())
    def test_any_arrival_order_gives_the_sorted_history(
        self,
        engine: Engine,
        make_database: Callable[[], Engine],
        drawn: list[tuple[float, bytes]],
        data: st.DataObject,
    ) -> None:
        """Observations synced in any order (each late one merged into the timeline, some
        twice) leave exactly the tables that syncing them in time order leaves, and a full
        rebuild from the archive changes nothing."""
        arrival = data.draw(st.permutations(drawn))
        repeats = data.draw(st.lists(st.sampled_from(drawn), max_size=2))
        sorted_engine = _sorted_engine(make_database)
        empty(engine)
        empty(sorted_engine)
        for hours, raw in [*arrival, *repeats]:
            sync(engine, raw, hours, max_removed_share=None)
        for hours, raw in [*sorted(drawn), *repeats]:  # a repeat is a no-op run in both
            sync(sorted_engine, raw, hours, max_removed_share=None)
        expected = natural_history(sorted_engine)
        assert natural_history(engine) == expected
        assert_invariants(engine)  # its last step: rebuild, and compare again

    def test_late_sync_rewrites_only_what_follows_it(self, engine: Engine) -> None:
        """A sync observed one second before the history's end leaves every row that began
        before it as it was, ids included, and the history equals the sorted one."""
        for day, models in enumerate(POOL):
            sync(engine, payload(models), 24 * day)
        with engine.connect() as connection:
            models_before = connection.execute(
                select(models_table.c.id, models_table.c.model).order_by(models_table.c.id)
            ).all()
            end = at(24 * (len(POOL) - 1))
            early_versions = connection.execute(
                select(model_versions_table).where(model_versions_table.c.valid_from < end)
            ).all()
        changed = copy.deepcopy(POOL[-2])
        changed[0]["name"] = "renamed, late"
        late = sync(engine, payload(changed), 24 * (len(POOL) - 1) - 1 / 3600)
        assert late.ok and late.versions_written >= 1
        with engine.connect() as connection:
            assert (
                connection.execute(
                    select(models_table.c.id, models_table.c.model).order_by(models_table.c.id)
                ).all()
                == models_before
            )
            kept = connection.execute(
                select(model_versions_table).where(
                    model_versions_table.c.id.in_([row.id for row in early_versions])
                )
            ).all()
        assert {row.id for row in kept} == {row.id for row in early_versions}
        assert_invariants(engine)

    def test_late_copy_of_the_observation_before_only_records_the_sighting(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """A late payload equal to the one observed just before it rewinds nothing and
        writes no history row: it only moves when the models it lists were last seen, to
        what syncing in time order gives."""
        first, second = payload(POOL[0]), payload(POOL[0][:-3])
        sync(engine, first, 0), sync(engine, second, 10)
        with engine.connect() as connection:
            versions = connection.execute(select(model_versions_table.c.id)).scalars().all()
        late = sync(engine, first, 5)
        assert late.ok and (late.versions_written, late.removed, late.added) == (0, 0, 0)
        with engine.connect() as connection:
            assert connection.execute(select(model_versions_table.c.id)).scalars().all() == versions
            seen = (
                connection.execute(
                    select(model_availability_table.c.last_seen_at).where(
                        model_availability_table.c.valid_to == at(10)
                    )
                )
                .scalars()
                .all()
            )
        assert len(seen) == 3 and set(seen) == {at(5)}
        in_order = make_database()
        for hours, raw in ((0, first), (5, first), (10, second)):
            sync(in_order, raw, hours)
        assert natural_history(engine) == natural_history(in_order)


def _sorted_engine(make_database: Callable[[], Engine]) -> Engine:
    """One extra database per test, reused by every example of a property test."""
    cached: Engine | None = getattr(make_database, "_sorted", None)
    if cached is None:
        cached = make_database()
        make_database._sorted = cached  # type: ignore[attr-defined]
    return cached


def price_now(engine: Engine, model: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text(
                    "SELECT p.amount FROM prices p JOIN models m ON m.id = p.model_id"
                    " WHERE m.model = :model AND p.component = 'prompt' AND p.valid_to IS NULL"
                ),
                {"model": model},
            ).scalar_one()
        )


def run_status(engine: Engine, run_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(sync_runs_table).where(sync_runs_table.c.id == run_id)
        ).one()


def cli_json(*args: str, expect: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


class TestMistakenObservations:
    def test_an_observation_from_the_future_is_refused(
        self, database_url: str, tmp_path: Any
    ) -> None:
        """`sync --observed-at 2062-03-01` (a typo) is a failed run with a clear reason,
        and nothing of its catalog is applied."""
        file = tmp_path / "models.json"
        file.write_bytes(payload([make_model("a/one")]))
        url = ["--database-url", database_url]
        summary = cli_json(
            "sync", "--file", str(file), "--observed-at", "2062-03-01", *url, expect=1
        )
        assert summary["status"] == "failed"
        assert "2062-03-01T00:00:00Z" in summary["error"] and "in the future" in summary["error"]
        assert cli_json("models", *url)["models"] == []

    def test_forgetting_a_future_observation_unpins_current(self, engine: Engine) -> None:
        """An observation from 2062 stored before the clock check existed keeps its price
        current whatever comes later; `runs forget` takes it out, and the history is what
        syncing without it gives."""
        cheap, dear = make_model("a/one"), make_model("a/one", pricing={"prompt": "0.000009"})
        sync(engine, payload([cheap]), 0)
        mistake = sync_bytes(
            engine,
            payload([dear]),
            observed_at=datetime(2062, 3, 1, tzinfo=UTC),
            max_clock_skew=10**10,
        )
        sync(engine, payload([cheap]), 48)
        assert price_now(engine, "a/one") == "0.000009"  # pinned by the future
        url = engine.url.render_as_string(hide_password=False)
        done = cli_json("runs", "forget", str(mistake.run_id), "--database-url", url)
        assert (done["status"], done["run_id"]) == ("forgotten", mistake.run_id)
        assert price_now(engine, "a/one") == "0.000001"
        assert run_status(engine, mistake.run_id).status == "forgotten"
        assert_invariants(engine)

    def test_forgetting_removes_what_only_that_observation_brought(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """A model, vendor and capability seen only in the forgotten observation go with it:
        the tables equal a history that never had it, and its payload stays archived."""
        base = [make_model("a/one")]
        odd = [*base, make_model("zeta/new", supported_parameters=["only_here"])]
        sync(engine, payload(base), 0)
        mistake = sync(engine, payload(odd), 24)
        sync(engine, payload(base), 48)
        url = engine.url.render_as_string(hide_password=False)
        cli_json("runs", "forget", str(mistake.run_id), "--database-url", url)
        clean = make_database()
        sync(clean, payload(base), 0), sync(clean, payload(base), 48)
        history, expected = natural_history(engine), natural_history(clean)
        assert history.pop("payloads") != expected.pop("payloads")  # still archived
        assert history == expected

    def test_only_an_observation_can_be_forgotten(self, database_url: str) -> None:
        """Forgetting a run that does not exist, or one that applied nothing, is one line
        and exit 1."""
        result = CliRunner().invoke(cli, ["runs", "forget", "99", "--database-url", database_url])
        assert result.exit_code == 1 and "no run 99" in result.output


class TestMassRemovalGuard:
    def test_a_small_provider_retiring_one_model_is_not_held(self, engine: Engine) -> None:
        """Below the floor (5 models by default) a removal applies, whatever the share."""
        models = [make_model(f"a/m{i}") for i in range(3)]
        sync(engine, payload(models), 0)
        result = sync(engine, payload(models[:2]), 1)
        assert (result.status, result.removed, result.held_providers) == ("succeeded", 1, None)

    def test_a_held_provider_does_not_hold_the_others(self, engine: Engine) -> None:
        """One provider losing most of its models is kept as it was, and recorded with the
        reason; another provider's price changes in the same catalog apply."""
        big = [make_model(f"big/m{i}") for i in range(10)]
        small = [make_model("small/one")]

        def catalog(big_models: list[Any], price: str) -> bytes:
            repriced = [make_model("small/one", pricing={"prompt": price})]
            return json.dumps(
                {
                    "text": [
                        {"provider": "big", "configured": True, "models": big_models},
                        {"provider": "small", "configured": True, "models": repriced},
                    ]
                }
            ).encode()

        sync(engine, catalog(big, "0.000001"), 0)
        result = sync(engine, catalog(big[:2], "0.000005"), 1)
        assert result.status == "succeeded" and result.price_changes == 1
        assert set(result.held_providers or {}) == {"big"}
        assert "8 of the 10 available models of big" in (result.held_providers or {})["big"]
        assert price_now(engine, "small/one") == "0.000005"
        with engine.connect() as connection:
            available = connection.execute(
                text("SELECT COUNT(*) FROM models WHERE available")
            ).scalar_one()
        assert available == 11
        assert small  # the other provider's model is listed throughout

    def test_release_applies_the_held_removal_at_its_own_time(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """`runs release` applies a held catalog as if the guard had been lifted when it
        was synced, even after later syncs: the same history as --allow-mass-removal."""
        models = [make_model(f"a/m{i}") for i in range(10)]
        sync(engine, payload(models), 0)
        held = sync(engine, payload(models[:2]), 1)
        assert held.status == "held" and run_status(engine, held.run_id).payload_sha256
        sync(engine, payload(models[:2]), 2)  # held again: the next tick says the same
        url = engine.url.render_as_string(hide_password=False)
        done = cli_json("runs", "release", str(held.run_id), "--database-url", url)
        assert done["status"] == "succeeded"
        lifted = make_database()
        sync(lifted, payload(models), 0)
        sync(lifted, payload(models[:2]), 1, max_removed_share=None)
        sync(lifted, payload(models[:2]), 2)
        mine, expected = natural_history(engine), natural_history(lifted)
        # The second tick was held too and stays so (a run of its own, not released).
        assert mine["availability"] == expected["availability"]
        assert mine["models"] == expected["models"]
        assert_invariants(engine)


class TestUnconfiguredProviders:
    def test_models_under_an_unconfigured_provider_change_no_interval(self, engine: Engine) -> None:
        """Models listed under a provider that says `configured: false` are ignored with a
        warning: no model appears or goes, and no interval ends before it begins."""
        known = [make_model("a/one")]
        sync(engine, payload(known), 0)
        listed = [*known, make_model("a/new")]
        body = {"text": [{"provider": "openrouter", "configured": False, "models": listed}]}
        result = sync(engine, json.dumps(body).encode(), 1)
        assert (result.added, result.removed, result.versions_written) == (0, 0, 0)
        assert any("not configured" in warning for warning in result.warnings)
        sync(engine, payload(known), 2)
        assert_invariants(engine)
        with engine.connect() as connection:
            spans = connection.execute(
                select(model_availability_table.c.valid_from, model_availability_table.c.valid_to)
            ).all()
        assert spans == [(at(0), None)]


class TestFailureBookkeeping:
    def test_a_commit_whose_acknowledgement_was_lost_stays_succeeded(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the database commits but the answer never arrives, the run is not marked
        failed, and a later merge keeps its data."""
        original = engine.dialect.do_commit
        commits: list[bool] = []
        dbapi = engine.dialect.dbapi
        assert dbapi is not None

        def commit_then_drop(connection: Any) -> None:
            original(connection)
            commits.append(True)
            if len(commits) == 2:  # the run's own row first, then the sync's transaction
                raise dbapi.OperationalError("server closed the connection")

        monkeypatch.setattr(engine.dialect, "do_commit", commit_then_drop)
        result = sync_bytes(engine, payload([make_model("a/one")]), observed_at=at(10))
        monkeypatch.undo()
        assert len(commits) >= 2 and result.status == "succeeded", result
        assert run_status(engine, result.run_id).status == "succeeded"
        sync(engine, payload([make_model("a/one"), make_model("a/two")]), 5)  # a late merge
        with engine.connect() as connection:
            names = set(connection.execute(select(models_table.c.model)).scalars())
        assert names == {"a/one", "a/two"}
