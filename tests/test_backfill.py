"""Backfill and rebuild: archived snapshots, in any order, give exactly the history that
syncing them in time order would have built; re-deriving from the archive changes nothing."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update

from etl.backfill import backfill, rebuild
from etl.cli import cli
from etl.db.tables import payloads_table, sync_runs_table
from etl.ingest.shapes import parse_catalog
from etl.ingest.snapshots import Snapshot, file_snapshots, git_snapshots, time_from_name
from etl.pipeline import sync_bytes, sync_file
from etl.store.archive import load_payload
from tests.helpers import daily_files, make_model, natural_history, observed_at, payload

DAILY = daily_files()


def live(engine: Engine, files: list[Path]) -> None:
    """Sync files one by one in time order, as a scheduled service would have."""
    for path in sorted(files, key=observed_at):
        result = sync_file(engine, path, observed_at=observed_at(path))
        assert result.ok, result.error


def snapshots(files: list[Path]) -> list[Snapshot]:
    return file_snapshots(files)


class TestOrderDoesNotMatter:
    def test_shuffled_reversed_and_ordered_backfills_equal_live_syncs(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """The 63 real captures backfilled in shuffled, reverse and time order give three
        identical histories, identical to 63 live syncs."""
        live(engine, DAILY)
        expected = natural_history(engine)
        shuffled = list(DAILY)
        random.Random(7).shuffle(shuffled)
        for order in (shuffled, list(reversed(DAILY)), DAILY):
            other = make_database()
            report = backfill(other, file_snapshots(order))
            assert (report.applied, report.failed, report.held) == (63, [], [])
            assert natural_history(other) == expected

    def test_backfill_half_sync_some_backfill_the_rest(
        self, engine: Engine, make_database: Callable[[], Engine]
    ) -> None:
        """Backfill every other day, sync the last days live, backfill the rest: identical."""
        files = DAILY[:24]
        live(engine, files)
        expected = natural_history(engine)

        other = make_database()
        older, newer = files[:20], files[20:]
        assert backfill(other, snapshots(older[::2])).applied == 10
        live(other, newer)
        report = backfill(other, snapshots(older[1::2]))
        assert report.rederived and report.applied == 10
        assert natural_history(other) == expected


class TestSources:
    def test_git_history_is_backfilled_at_commit_times(
        self, engine: Engine, make_database: Callable[[], Engine], tmp_path: Path
    ) -> None:
        """Every committed version of a file becomes an observation at its commit time."""
        repo = tmp_path / "scrape"
        repo.mkdir()
        git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "init", "-q"], check=True)
        chosen = DAILY[:5]
        for path in chosen:
            shutil.copy(path, repo / "models.json.gz")
            when = observed_at(path).isoformat()
            env = {"GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when, "PATH": "/usr/bin:/bin"}
            subprocess.run([*git, "add", "models.json.gz"], check=True)
            subprocess.run([*git, "commit", "-q", "-m", path.name], check=True, env=env)

        found = git_snapshots(repo, "models.json.gz")
        assert len(found) == len(chosen)
        assert sorted(filter(None, (s.observed_at for s in found))) == [
            observed_at(p) for p in chosen
        ]
        live(engine, chosen)
        other = make_database()
        assert backfill(other, found).applied == 5
        history = natural_history(other)
        expected = natural_history(engine)
        assert history["model_versions"] == expected["model_versions"]
        assert history["prices"] == expected["prices"]
        assert history["availability"] == expected["availability"]

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("2026-03-02T010322Z.json.gz", "2026-03-02T01:03:22+00:00"),
            ("models-2026-03-02T01:03:22Z.json", "2026-03-02T01:03:22+00:00"),
            ("2026-03-02T01:03:22+02:00.json", "2026-03-01T23:03:22+00:00"),
            ("snapshot_2026-03-02.json", "2026-03-02T00:00:00+00:00"),
        ],
    )
    def test_time_from_file_name(self, name: str, expected: str) -> None:
        """ISO forms in file names are read as UTC observation times."""
        found = time_from_name(name)
        assert found is not None and found.isoformat() == expected

    def test_file_without_a_time_is_reported_not_guessed(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """A file whose name holds no date fails with the reason; the others apply."""
        undated = tmp_path / "latest.json"
        undated.write_bytes(payload([make_model()]))
        dated = tmp_path / "2026-03-02.json"
        dated.write_bytes(payload([make_model()]))
        report = backfill(engine, file_snapshots([tmp_path]))
        assert report.applied == 1
        assert [f["source"] for f in report.failed] == [str(undated)]
        assert "no observation time" in report.failed[0]["error"]

    def test_mtime_and_pattern(self, tmp_path: Path) -> None:
        """--time-from mtime and --time-pattern give times to files whose names have none."""
        path = tmp_path / "models-20260302.json"
        path.write_bytes(b"[]")
        by_pattern = file_snapshots([path], time_pattern="models-%Y%m%d.json")[0]
        assert by_pattern.observed_at is not None and by_pattern.observed_at.day == 2
        by_mtime = file_snapshots([path], time_from="mtime")[0]
        assert by_mtime.observed_at is not None and by_mtime.problem is None


class TestFailuresAndDuplicates:
    def test_duplicates_cost_nothing(self, engine: Engine) -> None:
        """Backfilling the same files again skips them all as duplicates."""
        backfill(engine, snapshots(DAILY[:3]))
        before = natural_history(engine)
        report = backfill(engine, snapshots(DAILY[:3]))
        assert (report.duplicates, report.applied) == (3, 0)
        assert natural_history(engine) == before

    def test_snapshots_that_extend_the_history_are_parsed_once(
        self, engine: Engine, make_database: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A backfill of duplicates and later snapshots applies each new one as it is read,
        without reading it back from the archive, and builds the history a single backfill
        of all of them builds."""
        parsed: list[str] = []

        def counting(raw: bytes, provider: str) -> Any:
            parsed.append(provider)
            return parse_catalog(raw, provider)

        backfill(engine, snapshots(DAILY[:3]))
        monkeypatch.setattr("etl.backfill.parse_catalog", counting)
        monkeypatch.setattr("etl.store.history.parse_catalog", counting)
        report = backfill(engine, snapshots(DAILY[:6]))
        assert (report.duplicates, report.applied, report.rederived) == (3, 3, False)
        assert len(parsed) == 6  # three duplicates and three new snapshots, each parsed once
        monkeypatch.undo()
        whole = make_database()
        backfill(whole, snapshots(DAILY[:6]))
        assert natural_history(engine) == natural_history(whole)

    def test_held_snapshot_is_reported_when_the_history_is_rederived(
        self, engine: Engine, tmp_path: Path
    ) -> None:
        """Snapshots older than the history re-derive it; one of them that would retire most
        models is held and reported with its file, the others apply."""
        models = [make_model(f"a/m{i}") for i in range(10)]
        sync_bytes(engine, payload(models), observed_at=datetime(2026, 3, 10, tzinfo=UTC))
        (tmp_path / "2026-03-01.json").write_bytes(payload(models))
        (tmp_path / "2026-03-02.json").write_bytes(payload(models[:1]))
        report = backfill(engine, file_snapshots([tmp_path]))
        assert report.rederived and report.applied == 1
        assert [held["source"] for held in report.held] == [str(tmp_path / "2026-03-02.json")]

    def test_bad_file_is_reported_and_skipped(self, engine: Engine, tmp_path: Path) -> None:
        """A file that is not a catalog fails with its reason and a failed run; others apply."""
        bad = tmp_path / "2026-02-01.json"
        bad.write_text("<html>not a catalog</html>")
        report = backfill(engine, [*file_snapshots([bad]), *snapshots(DAILY[:2])])
        assert report.applied == 2
        assert (
            report.failed == [{"source": str(bad), "error": report.failed[0]["error"]}]
            and "not valid JSON" in report.failed[0]["error"]
        )
        with engine.connect() as connection:
            statuses = connection.execute(select(sync_runs_table.c.status)).scalars().all()
        assert sorted(statuses) == ["failed", "succeeded", "succeeded"]

    def test_strict_stops_and_applies_nothing(self, engine: Engine, tmp_path: Path) -> None:
        """With --strict the first bad file stops the backfill and nothing is applied."""
        from etl.errors import SyncError

        bad = tmp_path / "2026-02-01.json"
        bad.write_text("{")
        with pytest.raises(SyncError, match="--strict"):
            backfill(engine, [*snapshots(DAILY[:2]), *file_snapshots([bad])], strict=True)
        assert natural_history(engine)["models"] == []

    def test_same_time_other_payload_is_a_conflict(self, engine: Engine, tmp_path: Path) -> None:
        """Two different payloads observed at the same time: the second one fails."""
        first, second = tmp_path / "a", tmp_path / "b"
        first.mkdir()
        second.mkdir()
        (first / "2026-03-02.json").write_bytes(payload([make_model("a/one")]))
        (second / "2026-03-02.json").write_bytes(payload([make_model("a/two")]))
        report = backfill(engine, file_snapshots([first, second]))
        assert report.applied == 1
        assert "already observed" in report.failed[0]["error"]

    def test_mass_removal_in_a_snapshot_is_held(self, engine: Engine, tmp_path: Path) -> None:
        """A snapshot that would retire most models is held and reported, not applied."""
        models = [make_model(f"a/m{i}") for i in range(10)]
        (tmp_path / "2026-03-01.json").write_bytes(payload(models))
        (tmp_path / "2026-03-02.json").write_bytes(payload(models[:1]))
        report = backfill(engine, file_snapshots([tmp_path]))
        assert report.applied == 1 and len(report.held) == 1
        assert "9 of the 10" in report.held[0]["error"]
        with engine.connect() as connection:
            available = connection.execute(
                select(sync_runs_table.c.status).order_by(sync_runs_table.c.observed_at)
            )
            assert available.scalars().all() == ["succeeded", "held"]


class TestRebuild:
    def test_rebuild_reproduces_every_table(self, engine: Engine) -> None:
        """Re-deriving all history from the archive gives back exactly the same tables."""
        live(engine, DAILY[:12])
        before = natural_history(engine)
        report = rebuild(engine)
        assert report.observations == 12
        assert (report.versions_written, report.price_rows_written) == (0, 0)
        assert natural_history(engine) == before

    def test_rebuild_reads_payloads_archived_with_gzip(self, engine: Engine) -> None:
        """Payloads archived with gzip by earlier versions are read back like zstd ones."""
        live(engine, DAILY[:3])
        before = natural_history(engine)
        with engine.begin() as connection:
            shas = connection.execute(select(payloads_table.c.sha256)).scalars().all()
            raws = {sha256: load_payload(connection, sha256) for sha256 in shas}
            for sha256, raw in raws.items():
                connection.execute(
                    update(payloads_table)
                    .where(payloads_table.c.sha256 == sha256)
                    .values(
                        compression="gzip", content=gzip.compress(raw), base_sha256=None, depth=0
                    )
                )
        assert rebuild(engine).observations == 3
        assert natural_history(engine) == before


class TestCommands:
    def test_backfill_and_rebuild_commands(self, database_url: str, tmp_path: Path) -> None:
        """`backfill DIR` applies and summarizes in JSON; `rebuild` re-derives; a bad file
        makes the exit code 1."""
        folder = tmp_path / "snaps"
        folder.mkdir()
        for path in DAILY[:3]:
            shutil.copy(path, folder / path.name)
        (folder / "notes.json").write_text("{}")
        runner = CliRunner()
        result = runner.invoke(
            cli, ["backfill", str(folder), "--database-url", database_url, "--format", "json"]
        )
        assert result.exit_code == 1, result.output
        report = json.loads(result.output)
        assert (report["files_read"], report["applied"], len(report["failed"])) == (4, 3, 1)
        result = runner.invoke(cli, ["rebuild", "--database-url", database_url])
        assert result.exit_code == 0, result.output
        assert "re-derived 3 observations" in result.output
        result = runner.invoke(cli, ["backfill", "--database-url", database_url])
        assert result.exit_code == 2
