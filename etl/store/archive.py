"""The raw payload archive: every applied payload, stored once per sha256, as compact as git.

Normalized history can always be re-derived from here, so payloads are never deleted, and
every read checks the sha256 of the bytes it rebuilt. Consecutive catalogs differ by a few
lines, so a payload is stored as a zstd frame of its difference from another payload, its
*base*: the payload observed just before it (zstd with the base as a raw-content
dictionary; 63 real daily captures of 28 MB take about 147 kB, where frames of their own
take 4 MB). The base row cannot be deleted while a delta needs it (a foreign key).

A read decompresses the chain from the nearest frame of its own down to the payload, so
chains are bounded: when the base's chain is already :data:`MAX_DEPTH` long, or reading it
would produce more than :data:`MAX_CHAIN_BYTES` (large catalogs get shorter chains), the
payload is stored against the chain's first frame instead (a new branch), or as a frame of
its own when that is smaller. The payload read or stored last
is kept in memory, so reading payloads in time order (``rebuild``, a backfill, the next
tick of ``serve``) decompresses each one once.

Rows name their compression: ``zstd-delta`` (with a base), ``zstd`` (level 3, a frame of its
own) and, from early versions, ``gzip``.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import zstandard
from sqlalchemy import Connection, insert, literal, select

from etl.db.tables import payloads_table, sync_runs_table

COMPRESSION = "zstd"
DELTA = "zstd-delta"
ZSTD_LEVEL = 3
MAX_DEPTH = 256
"""Most deltas on top of a frame of their own: reading the longest chain of 500 kB
catalogs takes about 45 ms."""
MAX_CHAIN_BYTES = 256 * 1024 * 1024
"""Most bytes a read produces along a chain: 13 MB catalogs get chains of about 18."""
_KEPT = 2


class ArchiveCorrupt(RuntimeError):
    """What the archive gave back is not the payload it was asked for."""


def forget_recent() -> None:
    """Drop the payloads kept in memory (a test, or a benchmark, measuring cold reads)."""
    _recent.clear()


class _Recent:
    """The payloads read or stored last, by sha256: content-addressed, so the same key
    is the same bytes in every database."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, sha256: str) -> bytes | None:
        found = self._items.get(sha256)
        if found is not None:
            self._items.move_to_end(sha256)
        return found

    def clear(self) -> None:
        self._items.clear()

    def put(self, sha256: str, raw: bytes) -> None:
        self._items[sha256] = raw
        self._items.move_to_end(sha256)
        while len(self._items) > _KEPT:
            self._items.popitem(last=False)


_recent = _Recent()


@dataclass(frozen=True)
class Base:
    sha256: str
    depth: int
    size_bytes: int


def archive_payload(
    connection: Connection,
    raw: bytes,
    sha256: str,
    stored_at: datetime,
    *,
    after: str | None = None,
) -> bool:
    """Store ``raw`` unless a payload with this sha256 is already archived; True if stored.
    ``after``: the sha256 of the payload observed just before this one, to store a delta
    from (see :func:`base_for`)."""
    exists = connection.execute(
        select(payloads_table.c.sha256).where(payloads_table.c.sha256 == sha256)
    ).first()
    if exists:
        return False
    base = base_for(connection, after, len(raw)) if after is not None else None
    row: dict[str, Any] = {"compression": COMPRESSION, "base_sha256": None, "depth": 0}
    if base is not None:
        frame = delta_frame(load_payload(connection, base.sha256), raw)
        row.update(compression=DELTA, content=frame, base_sha256=base.sha256, depth=base.depth + 1)
    if base is None or base.depth == 0:
        # A new chain (or one restarted from its first frame): a frame of its own when that
        # is no bigger than the delta.
        own = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
        if base is None or len(own) <= len(row["content"]):
            row.update(compression=COMPRESSION, content=own, base_sha256=None, depth=0)
    connection.execute(
        insert(payloads_table).values(
            sha256=sha256, size_bytes=len(raw), stored_at=stored_at, **row
        )
    )
    _recent.put(sha256, raw)
    return True


def previous_payload(connection: Connection, catalog_id: int, observed_at: datetime) -> str | None:
    """The sha256 of the archived payload of catalog ``catalog_id`` observed last before
    ``observed_at``: the one most like it."""
    runs, payloads = sync_runs_table, payloads_table
    found: str | None = connection.execute(
        select(payloads.c.sha256)
        .join(runs, runs.c.payload_sha256 == payloads.c.sha256)
        .where(runs.c.catalog_id == catalog_id, runs.c.observed_at < observed_at)
        .order_by(runs.c.observed_at.desc())
        .limit(1)
    ).scalar()
    return found


def base_for(connection: Connection, previous: str, size: int) -> Base | None:
    """What to store a payload against, given the one observed just before it: that one;
    when its chain is as long as allowed, the chain's first frame (a new branch, a delta
    spanning more changes); None for a frame of its own."""
    payloads = payloads_table
    found = connection.execute(
        select(payloads.c.sha256, payloads.c.depth, payloads.c.size_bytes).where(
            payloads.c.sha256 == previous
        )
    ).first()
    if found is None:
        return None
    base = Base(found.sha256, found.depth, found.size_bytes)
    # A read of the new payload decompresses the base's chain and one frame more.
    if base.depth + 1 <= MAX_DEPTH and (base.depth + 2) * max(size, base.size_bytes) <= (
        MAX_CHAIN_BYTES
    ):
        return base
    root = _root(connection, base.sha256)
    return root if 2 * max(size, root.size_bytes) <= MAX_CHAIN_BYTES else None


def _root(connection: Connection, sha256: str) -> Base:
    """The first frame of a payload's chain (a frame of its own)."""
    payloads = payloads_table
    walk = (
        select(payloads.c.sha256, payloads.c.base_sha256, payloads.c.size_bytes)
        .where(payloads.c.sha256 == sha256)
        .cte("up", recursive=True)
    )
    parent = payloads.alias("parent")
    walk = walk.union_all(
        select(parent.c.sha256, parent.c.base_sha256, parent.c.size_bytes).where(
            parent.c.sha256 == walk.c.base_sha256
        )
    )
    found = connection.execute(
        select(walk.c.sha256, walk.c.size_bytes).where(walk.c.base_sha256.is_(None))
    ).one()
    return Base(found.sha256, 0, found.size_bytes)


def delta_frame(base: bytes, raw: bytes) -> bytes:
    """``raw`` as a zstd frame with ``base`` as its dictionary, checked by reading it back."""
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    frame = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=dictionary).compress(raw)
    if _undelta(base, frame) != raw:  # pragma: no cover - zstd itself would be broken
        raise ArchiveCorrupt("a delta frame does not read back as the payload it stores")
    return frame


def _undelta(base: bytes, frame: bytes) -> bytes:
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame)


def load_payload(connection: Connection, sha256: str) -> bytes:
    """The exact bytes of an archived payload, checked against its sha256."""
    kept = _recent.get(sha256)
    if kept is not None:
        return kept
    raw = b""
    try:
        for index, (row_sha, compression, content) in enumerate(_chain(connection, sha256)):
            if index == 0 and (known := _recent.get(row_sha)) is not None:
                raw = known
            elif compression == DELTA:
                raw = _undelta(raw, content)
            elif compression == "gzip":
                raw = gzip.decompress(content)
            else:
                raw = zstandard.ZstdDecompressor().decompress(content)
    except (zstandard.ZstdError, OSError, EOFError) as error:
        raise ArchiveCorrupt(f"archived payload {sha256} cannot be read back: {error}") from None
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ArchiveCorrupt(f"archived payload {sha256} does not match its sha256")
    _recent.put(sha256, raw)
    return raw


def _chain(connection: Connection, sha256: str) -> list[tuple[str, str, bytes]]:
    """The frames to decompress for ``sha256``, from the first one needed (a frame of its
    own, or a payload in memory) down to it: one recursive query."""
    payloads = payloads_table
    start = select(
        payloads.c.sha256,
        payloads.c.base_sha256,
        payloads.c.compression,
        payloads.c.content,
        literal(0).label("step"),
    ).where(payloads.c.sha256 == sha256)
    walk = start.cte("chain", recursive=True)
    parent = payloads.alias("parent")
    walk = walk.union_all(
        select(
            parent.c.sha256,
            parent.c.base_sha256,
            parent.c.compression,
            parent.c.content,
            walk.c.step + 1,
        ).where(parent.c.sha256 == walk.c.base_sha256, walk.c.step < MAX_DEPTH + 1)
    )
    rows = connection.execute(
        select(walk.c.sha256, walk.c.compression, walk.c.content).order_by(walk.c.step.desc())
    ).all()
    if not rows:
        raise ArchiveCorrupt(f"payload {sha256} is not in the archive")
    frames = [(row.sha256, row.compression, row.content) for row in rows]
    # Start from the nearest payload still in memory, if the chain passes one.
    for index in range(len(frames) - 2, -1, -1):
        if _recent.get(frames[index][0]) is not None:
            return frames[index:]
    return frames
