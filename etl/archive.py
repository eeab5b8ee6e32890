"""The raw payload archive: every applied payload, compressed, stored once per sha256.

Normalized history can always be re-derived from here, so payloads are never deleted.
"""

from __future__ import annotations

import gzip
from datetime import datetime

from sqlalchemy import Connection, insert, select

from etl.db.tables import Payload

COMPRESSION = "gzip"


def archive_payload(connection: Connection, raw: bytes, sha256: str, stored_at: datetime) -> bool:
    """Store ``raw`` unless a payload with this sha256 is already archived; True if stored."""
    exists = connection.execute(select(Payload.sha256).where(Payload.sha256 == sha256)).first()
    if exists:
        return False
    connection.execute(
        insert(Payload).values(
            sha256=sha256,
            size_bytes=len(raw),
            compression=COMPRESSION,
            # mtime=0: the same payload always compresses to the same bytes.
            content=gzip.compress(raw, compresslevel=6, mtime=0),
            stored_at=stored_at,
        )
    )
    return True


def load_payload(connection: Connection, sha256: str) -> bytes:
    """The exact bytes of an archived payload."""
    content = connection.execute(
        select(Payload.content).where(Payload.sha256 == sha256)
    ).scalar_one()
    return gzip.decompress(content)
