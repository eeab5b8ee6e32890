"""The outbox as operators read it: what waits, for whom, since when, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, func, select

from etl.db.tables import notifications_table
from etl.notify.subscriptions import Subscription, shown_url
from etl.times import iso

_table = notifications_table.c


def outbox_report(connection: Connection, subscriptions: Sequence[Subscription]) -> dict[str, Any]:
    """Per subscription (configured, or with messages in the outbox): messages delivered and
    pending, the oldest pending one, and the last failure with its next attempt."""
    pending = _table.status == "pending"
    counts = connection.execute(
        select(
            _table.subscription,
            func.count().filter(_table.status == "delivered").label("delivered"),
            func.count().filter(pending).label("pending"),
            func.min(case((pending, _table.created_at))).label("oldest_pending"),
            func.max(case((pending, _table.id))).label("newest_pending_id"),
        ).group_by(_table.subscription)
    ).all()
    failing = {
        row.subscription: row
        for row in connection.execute(
            select(
                _table.subscription,
                _table.attempts,
                _table.last_error,
                _table.next_attempt_at,
            )
            .where(pending, _table.last_error.is_not(None))
            .order_by(_table.id.desc())
        )
    }
    by_name = {row.subscription: row for row in counts}
    names = [s.name for s in subscriptions] + sorted(set(by_name) - {s.name for s in subscriptions})
    configured = {s.name: s for s in subscriptions}
    report = []
    for name in names:
        row, failure, subscription = by_name.get(name), failing.get(name), configured.get(name)
        report.append(
            {
                "subscription": name,
                "destination": shown_url(subscription.url) if subscription else None,
                "filter": subscription.filter_text() if subscription else None,
                "configured": subscription is not None,
                "delivered": row.delivered if row else 0,
                "pending": row.pending if row else 0,
                "oldest_pending_at": iso(row.oldest_pending)
                if row and row.oldest_pending
                else None,
                "attempts": failure.attempts if failure else 0,
                "last_error": failure.last_error if failure else None,
                "next_attempt_at": iso(failure.next_attempt_at) if failure else None,
            }
        )
    return {"subscriptions": report}
