"""A digest: the net changes of a window, as one message (``notify --since --to``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from etl.notify.messages import build_message, idempotency_key
from etl.notify.subscriptions import Subscription
from etl.read.catalogs import CatalogScope
from etl.read.net_changes import net_changes
from etl.read.run_changes import RunChanges
from etl.times import iso


def digest_message(
    connection: Connection,
    subscription: Subscription,
    since: datetime,
    until: datetime,
    catalogs: CatalogScope | None = None,
) -> dict[str, Any] | None:
    """The message for the net changes between ``since`` and ``until`` in the catalogs read
    (all when None; each change names its catalog when they are several); None when none
    is wanted."""
    report = net_changes(connection, since, until, catalogs=catalogs)
    window = RunChanges(0, until, since, report)
    body = build_message(subscription, window)
    if body is not None:
        body["idempotency_key"] = idempotency_key(
            f"{subscription.name}\ndigest {iso(since)} {iso(until)}", 0
        )
        body["digest"] = {"since": iso(since), "until": iso(until)}
    return body
