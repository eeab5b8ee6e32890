"""The raw payload archive: every applied payload, compressed, stored once per sha256.

Normalized history can always be re-derived from here, so payloads are never deleted.
Each row names its compression: zstd (level 3) since 0.1, a few times faster than gzip at a
similar size, so that archiving costs a sync little; gzip rows stay readable.
"""

from __future__ import annotations

import gzip
from datetime import datetime

import zstandard
from sqlalchemy import Connection, insert, select

from etl.db.tables import payloads_table

COMPRESSION = "zstd"
ZSTD_LEVEL = 3


def archive_payload(connection: Connection, raw: bytes, sha256: str, stored_at: datetime) -> bool:
    """Store ``raw`` unless a payload with this sha256 is already archived; True if stored."""
    exists = connection.execute(
        select(payloads_table.c.sha256).where(payloads_table.c.sha256 == sha256)
    ).first()
    if exists:
        return False
    connection.execute(
        insert(payloads_table).values(
            sha256=sha256,
            size_bytes=len(raw),
            compression=COMPRESSION,
            content=zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw),
            stored_at=stored_at,
        )
    )
    return True


def load_payload(connection: Connection, sha256: str) -> bytes:
    """The exact bytes of an archived payload."""
    compression, content = connection.execute(
        select(payloads_table.c.compression, payloads_table.c.content).where(
            payloads_table.c.sha256 == sha256
        )
    ).one()
    if compression == "gzip":
        return gzip.decompress(content)
    return zstandard.ZstdDecompressor().decompress(content)
