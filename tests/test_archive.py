"""The payload archive stored as deltas: exact, bounded, compact, converted in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zstandard
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from etl.backfill import backfill, rebuild
from etl.db.tables import payloads_table
from etl.ingest.snapshots import file_snapshots
from etl.pipeline import sync_bytes, sync_file
from etl.read.stats import database_stats
from etl.store import archive
from etl.store.archive import ArchiveCorrupt, forget_recent, load_payload
from etl.store.compact import compact
from tests.helpers import daily_files, make_model, natural_history, observed_at, payload
from tests.invariants import assert_invariants

DAILY = daily_files()


def live(engine: Engine, count: int) -> None:
    for path in DAILY[:count]:
        assert sync_file(engine, path, observed_at=observed_at(path)).ok


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    payloads_table.c.sha256,
                    payloads_table.c.compression,
                    payloads_table.c.base_sha256,
                    payloads_table.c.depth,
                    payloads_table.c.content,
                )
            ).all()
        )


class TestDeltas:
    def test_daily_captures_take_a_few_kilobytes_each(self, engine: Engine) -> None:
        """The 63 real daily captures (28 MB) are archived as one frame and deltas: about
        150 kB in all, where frames of their own took about 4 MB, each read back exactly."""
        live(engine, len(DAILY))
        with engine.connect() as connection:  # closed: an open read blocks the next TRUNCATE
            stats = database_stats(connection)["archive"]
        assert stats["payloads"] == 63
        assert stats["frames_of_their_own"] == 1 and stats["deltas"] == 62
        assert stats["bytes_stored"] < 160_000 and stats["bytes_raw"] > 27_000_000
        forget_recent()
        assert_invariants(engine, check_rebuild=False)  # reads every payload back

    def test_a_read_checks_what_it_rebuilt(self, engine: Engine) -> None:
        """A delta whose bytes were damaged is refused, never returned."""
        live(engine, 3)
        sha256 = next(row.sha256 for row in rows(engine) if row.base_sha256 is not None)
        with engine.begin() as connection:
            content = connection.execute(
                select(payloads_table.c.content).where(payloads_table.c.sha256 == sha256)
            ).scalar_one()
            damaged = bytes(content[:-8]) + bytes(8)
            connection.execute(
                update(payloads_table)
                .where(payloads_table.c.sha256 == sha256)
                .values(content=damaged)
            )
        forget_recent()
        with engine.connect() as connection, pytest.raises(ArchiveCorrupt, match=sha256):
            load_payload(connection, sha256)

    def test_a_base_cannot_be_deleted_while_a_delta_needs_it(self, engine: Engine) -> None:
        """The database refuses to delete a payload another one is stored against."""
        live(engine, 2)
        base = next(row.base_sha256 for row in rows(engine) if row.base_sha256 is not None)
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(delete(payloads_table).where(payloads_table.c.sha256 == base))

    def test_an_older_observation_takes_a_base_without_rewriting_stored_rows(
        self, engine: Engine
    ) -> None:
        """A backfilled older capture is stored against the payload observed before it;
        every row already stored stays byte for byte as it was."""
        live(engine, 5)
        before = {row.sha256: tuple(row) for row in rows(engine)}
        report = backfill(engine, file_snapshots([DAILY[6], DAILY[5]]))
        assert report.applied == 2
        after = {row.sha256: tuple(row) for row in rows(engine)}
        assert all(after[sha256] == row for sha256, row in before.items())
        assert all(after[sha256][2] is not None for sha256 in after.keys() - before.keys())
        forget_recent()
        assert_invariants(engine)

    def test_chains_stay_within_their_bound(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past the longest chain allowed, the next payload starts a new branch from the
        chain's first frame (or is a frame of its own): no chain grows past the bound."""
        monkeypatch.setattr(archive, "MAX_DEPTH", 3)
        start = datetime(2026, 3, 1, tzinfo=UTC)
        for day in range(10):
            raw = payload([make_model("a/one", name=f"day {day}")])
            assert sync_bytes(engine, raw, observed_at=start + timedelta(days=day)).ok
        depths = sorted(row.depth for row in rows(engine))
        assert max(depths) == 3 and len([d for d in depths if d <= 1]) >= 4
        forget_recent()
        assert_invariants(engine, check_rebuild=False)

    def test_rebuild_decompresses_each_payload_once(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Rebuilding reads the payloads in time order, each decompressed once."""
        live(engine, 12)
        forget_recent()
        frames: list[int] = []
        original = zstandard.ZstdDecompressor

        def counting(*args: Any, **kwargs: Any) -> Any:
            frames.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(zstandard, "ZstdDecompressor", counting)
        assert rebuild(engine).observations == 12
        assert len(frames) == len(rows(engine))


class TestCompact:
    def test_old_frames_become_deltas_and_rebuild_is_unchanged(self, engine: Engine) -> None:
        """An archive written as frames of their own (as earlier versions did) is converted
        in place, in batches; stopped half-way it carries on; the history rebuilt from it
        is the same."""
        live(engine, 8)
        with engine.begin() as connection:  # as an earlier version stored them
            raws = {row.sha256: load_payload(connection, row.sha256) for row in rows(engine)}
            for sha256, raw in raws.items():
                connection.execute(
                    update(payloads_table)
                    .where(payloads_table.c.sha256 == sha256)
                    .values(
                        compression="zstd",
                        content=zstandard.ZstdCompressor(level=3).compress(raw),
                        base_sha256=None,
                        depth=0,
                    )
                )
        before = natural_history(engine)
        forget_recent()

        class Stop(Exception):
            pass

        def stop_after_first(done: int, total: int) -> None:
            raise Stop

        with pytest.raises(Stop):
            compact(engine, batch=3, progress=stop_after_first)
        # The first batch: the first payload (the head of the chain) and two deltas.
        assert sum(row.base_sha256 is not None for row in rows(engine)) == 2
        report = compact(engine, batch=3)
        assert report.payloads == len(raws) - 1 - 2
        assert sum(row.base_sha256 is None for row in rows(engine)) == 1
        forget_recent()
        with engine.connect() as connection:
            stored = connection.execute(
                select(func.sum(func.length(payloads_table.c.content)))
            ).scalar_one()
            for sha256, raw in raws.items():
                assert load_payload(connection, sha256) == raw
        assert stored < sum(len(raw) for raw in raws.values()) / 20
        rebuild(engine)
        assert natural_history(engine) == before
        assert_invariants(engine, check_rebuild=False)


class TestCommands:
    def test_db_stats_and_compact_as_typed(self, database_url: str) -> None:
        """`db stats --format json` counts rows and archive bytes; `db compact` on an
        archive that is already compact converts nothing and says so."""
        import json

        from click.testing import CliRunner

        from etl.cli import cli

        url = ["--database-url", database_url]
        runner = CliRunner()
        assert runner.invoke(cli, ["demo", *url]).exit_code == 0
        result = runner.invoke(cli, ["db", "stats", *url, "--format", "json"])
        assert result.exit_code == 0, result.output
        stats = json.loads(result.output)
        assert stats["rows"]["sync_runs"] == 2 and stats["rows"]["models"] > 300
        archive_stats = stats["archive"]
        assert (archive_stats["payloads"], archive_stats["deltas"]) == (2, 1)
        assert archive_stats["bytes_stored"] * 5 < archive_stats["bytes_raw"]
        result = runner.invoke(cli, ["db", "compact", *url])
        assert result.exit_code == 0 and "0 payloads converted" in result.output
        table = runner.invoke(cli, ["db", "stats", *url])
        assert "archive: 2 payloads (1 as deltas)" in table.output
