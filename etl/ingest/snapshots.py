"""Find archived catalog snapshots and when each was observed.

Sources: files and directories of ``.json`` / ``.json.gz`` (the time taken from the file
name, its modification time, or a ``strptime`` pattern), and every committed version of a
file in a git repository (the time is the commit time). A snapshot whose time cannot be
found is reported, never guessed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from etl.ingest.decompress import DEFAULT_MAX_BYTES, gunzip_bytes, read_catalog_file
from etl.text import path_text
from etl.times import as_utc

TimeSource = Literal["name", "mtime"]
SUFFIXES = (".json", ".json.gz")
# 2026-03-02T010322Z, 2026-03-02T01:03:22Z, 2026-03-02T01:03:22+02:00, 2026-03-02_0103, 2026-03-02
_NAME_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T_ ](?P<h>\d{2}):?(?P<m>\d{2})(?::?(?P<s>\d{2})(?P<frac>\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?"
)


class SnapshotError(ValueError):
    """A snapshot source that cannot be read at all (not a file, not a git repository)."""


@dataclass(frozen=True)
class Snapshot:
    """One archived catalog: where it is, when it was observed, and how to read its bytes."""

    source: str
    observed_at: datetime | None
    read: Callable[[], bytes]
    problem: str | None = None
    """Why this snapshot cannot be used (no observation time), if it cannot."""


def time_from_name(name: str) -> datetime | None:
    """The observation time written in a file name, or None when it holds none."""
    match = _NAME_TIME.search(name)
    if match is None:
        return None
    parts = match.groupdict()
    text = parts["date"]
    if parts["h"]:
        text += f"T{parts['h']}:{parts['m']}:{parts['s'] or '00'}{parts['frac'] or ''}"
        zone = parts["zone"] or "Z"
        if zone != "Z" and ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        text += "+00:00" if zone == "Z" else zone
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def time_from_pattern(name: str, pattern: str) -> datetime | None:
    """The time in ``name`` read with a ``strptime`` pattern (``models-%Y%m%d.json``)."""
    try:
        return as_utc(datetime.strptime(name, pattern))
    except ValueError:
        return None


def _read_file(path: Path, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return read_catalog_file(path, max_bytes)
        except ValueError as error:
            raise SnapshotError(path_text(error)) from None

    return read


def file_snapshots(
    paths: Iterable[str | Path],
    *,
    time_from: TimeSource = "name",
    time_pattern: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Snapshot]:
    """Every ``.json`` / ``.json.gz`` file named or found under the given directories
    (a gzip file decompressed to at most ``max_bytes``)."""
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            files += sorted(
                p for p in given.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)
            )
        elif given.is_file():
            files.append(given)
        else:
            raise SnapshotError(f"{given} is neither a file nor a directory")
    snapshots = []
    for path in files:
        if time_pattern is not None:
            observed = time_from_pattern(path.name, time_pattern)
            how = f"its name does not match --time-pattern {time_pattern!r}"
        elif time_from == "mtime":
            observed = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            how = ""
        else:
            observed = time_from_name(path.name)
            how = "its name holds no date (use --time-from mtime or --time-pattern)"
        problem = None if observed is not None else f"no observation time: {how}"
        snapshots.append(Snapshot(path_text(path), observed, _read_file(path, max_bytes), problem))
    return snapshots


def git_snapshots(
    repository: str | Path, path: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Snapshot]:
    """Every committed version of ``path`` in a git repository, observed at its commit time
    (a gzip version decompressed to at most ``max_bytes``)."""
    repo = Path(repository)
    # Added, modified or renamed: a commit that deletes the file has no version to read.
    log = _git(repo, "log", "--format=%H %cI", "--diff-filter=AMR", "--", path).decode()
    snapshots = []
    for line in log.splitlines():
        commit, _, when = line.partition(" ")
        spec = f"{commit}:{path}"

        def read(spec: str = spec) -> bytes:
            try:
                return gunzip_bytes(_git(repo, "show", spec), max_bytes, f"git:{spec}")
            except ValueError as error:
                raise SnapshotError(str(error)) from None

        snapshots.append(
            Snapshot(f"git:{commit[:12]}:{path}", as_utc(datetime.fromisoformat(when)), read)
        )
    if not snapshots:
        raise SnapshotError(f"{path} has no commits in {repo}")
    return snapshots


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=True, timeout=120
        )
    except FileNotFoundError:
        raise SnapshotError("git is not installed") from None
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode(errors="replace").strip().splitlines()
        raise SnapshotError(
            f"git {args[0]} in {repo}: {message[0] if message else error}"
        ) from None
    return done.stdout
