"""``catalog-etl db stats``: how big the database is, table by table, and how compact its
payload archive is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from etl.db.tables import metadata, payloads_table


def database_stats(connection: Connection) -> dict[str, Any]:
    """Rows per table, and the archive: payloads, bytes as received and as stored, the
    ratio, and the length of its delta chains."""
    rows = {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
    }
    payloads = payloads_table
    count, raw, stored, deltas, deepest, depth_sum = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(payloads.c.size_bytes), 0),
            func.coalesce(func.sum(func.length(payloads.c.content)), 0),
            func.count(payloads.c.base_sha256),
            func.coalesce(func.max(payloads.c.depth), 0),
            func.coalesce(func.sum(payloads.c.depth), 0),
        )
    ).one()
    archive = {
        "payloads": count,
        "deltas": deltas,
        "frames_of_their_own": count - deltas,
        "bytes_raw": int(raw),
        "bytes_stored": int(stored),
        "ratio": round(int(raw) / int(stored), 1) if stored else None,
        "longest_chain": int(deepest),
        "average_chain": round(int(depth_sum) / count, 1) if count else 0,
    }
    return {"rows": dict(sorted(rows.items())), "archive": archive}
