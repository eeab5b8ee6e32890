"""The outbox: messages written in a sync's transaction, then handed out one at a time.

Each subscription's messages go out in the order they were written; the first one that
fails holds the ones after it until it is delivered (retried with backoff, never dropped).
A process takes a message by a conditional update that sets a lease: two processes never
hold one message at once, and one that dies holding it loses it when the lease expires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, or_, select, update

from etl.db.engine import write_transaction
from etl.db.tables import notifications_table
from etl.notify.messages import build_message
from etl.notify.subscriptions import Subscription
from etl.read.run_changes import run_changes

LEASE: Final = timedelta(minutes=2)
"""How long a process holds a message it is delivering (longer than any delivery takes)."""
BACKOFF_BASE: Final = timedelta(seconds=2)
BACKOFF_MAX: Final = timedelta(minutes=15)
_table = notifications_table.c


@dataclass(frozen=True)
class Message:
    id: int
    subscription: str
    body: dict[str, Any]
    attempts: int


def enqueue(
    connection: Connection, subscriptions: Sequence[Subscription], run_id: int, now: datetime
) -> int:
    """Write the messages succeeded run ``run_id`` owes its subscribers, in the caller's
    transaction (a sync that rolls back notifies nobody); how many were written."""
    if not subscriptions:
        return 0
    run = run_changes(connection, run_id)
    if run.previous_at is None or run.empty:
        return 0  # the first observation is where history starts, not news
    rows = [
        {
            "subscription": subscription.name,
            "sync_run_id": run_id,
            "idempotency_key": body["idempotency_key"],
            "created_at": now,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for subscription in subscriptions
        if (body := build_message(subscription, run)) is not None
    ]
    if rows:
        connection.execute(insert(notifications_table), rows)
    return len(rows)


def waiting_subscriptions(engine: Engine) -> list[str]:
    """Names of the subscriptions that have a pending message."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(_table.subscription)
                .where(_table.status == "pending")
                .distinct()
                .order_by(_table.subscription)
            ).scalars()
        )


def take_next(
    engine: Engine, subscription: str, owner: str, now: datetime, *, due_only: bool = True
) -> Message | None:
    """The subscription's oldest pending message, leased to ``owner``; None when there is
    none, it is not due yet (unless not ``due_only``), or another process holds it."""
    with write_transaction(engine) as connection:
        head = connection.execute(
            select(_table.id, _table.body, _table.attempts, _table.next_attempt_at)
            .where(_table.subscription == subscription, _table.status == "pending")
            .order_by(_table.id)
            .limit(1)
        ).first()
        if head is None or (due_only and head.next_attempt_at > now):
            return None
        taken = connection.execute(
            update(notifications_table)
            .where(
                _table.id == head.id,
                _table.status == "pending",
                or_(_table.lease_until.is_(None), _table.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
        )
        if taken.rowcount != 1:
            return None
    return Message(head.id, subscription, head.body, head.attempts)


def mark_delivered(engine: Engine, message: Message, now: datetime) -> None:
    with write_transaction(engine) as connection:
        connection.execute(
            update(notifications_table)
            .where(_table.id == message.id)
            .values(
                status="delivered",
                delivered_at=now,
                attempts=message.attempts + 1,
                last_error=None,
                lease_owner=None,
                lease_until=None,
            )
        )


def mark_failed(engine: Engine, message: Message, error: str, now: datetime) -> datetime:
    """Record a failed attempt; when the next one is due."""
    attempts = message.attempts + 1
    due: datetime = now + min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(attempts - 1, 20))
    with write_transaction(engine) as connection:
        connection.execute(
            update(notifications_table)
            .where(_table.id == message.id)
            .values(
                attempts=attempts,
                last_error=error,
                next_attempt_at=due,
                lease_owner=None,
                lease_until=None,
            )
        )
    return due


def release_dead_leases(engine: Engine, hostname: str, alive: Callable[[int], bool]) -> int:
    """Free the messages held by processes of ``hostname`` that are gone (a serve killed
    while delivering), so that a restarted serve delivers them at once rather than when the
    lease expires; how many were freed."""
    with write_transaction(engine) as connection:
        held = connection.execute(
            select(_table.id, _table.lease_owner).where(
                _table.status == "pending", _table.lease_owner.like(f"{hostname}:%")
            )
        ).all()
        dead = [row.id for row in held if not alive(int(row.lease_owner.rpartition(":")[2]))]
        if dead:
            connection.execute(
                update(notifications_table)
                .where(_table.id.in_(dead))
                .values(lease_owner=None, lease_until=None)
            )
    return len(dead)
