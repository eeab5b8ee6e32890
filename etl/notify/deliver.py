"""Delivery: a message to its destination, and the outbox emptied in order.

An ``http(s)://`` destination is a webhook: it receives the JSON body (POST, with an
``Idempotency-Key`` header). Anything else is an apprise URL and receives the title and the
text; apprise's ``json://``, ``xml://`` and ``form://`` also get the header. Plain ``http://``
goes only to this machine (a secret in the body or URL must not cross a network in clear).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from etl.ingest.fetch.urls import is_loopback
from etl.notify import outbox
from etl.notify.subscriptions import Subscription
from etl.times import utcnow
from etl.version import package_version

logger = logging.getLogger("etl.notify")
TIMEOUT: Final = 20.0
_HEADER_SCHEMES: Final = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


class DeliveryError(RuntimeError):
    """A destination did not take the message; the text never holds its URL."""


Sender = Callable[[Subscription, dict[str, Any]], None]


def send(
    subscription: Subscription,
    body: dict[str, Any],
    *,
    is_local: Callable[[str], bool] = is_loopback,
) -> None:
    """Deliver one message body, or raise :class:`DeliveryError`."""
    parts = urlsplit(subscription.url)
    if parts.scheme in ("http", "https"):
        if parts.scheme == "http" and not is_local(parts.hostname or ""):
            raise DeliveryError("plain http:// is only for this machine: use https://")
        _post(subscription.url, body)
    else:
        _apprise(subscription.url, parts.scheme, body)


def _post(url: str, body: dict[str, Any]) -> None:
    headers = {
        "Idempotency-Key": body["idempotency_key"],
        "User-Agent": f"catalog-etl/{package_version()}",
    }
    try:
        answer = httpx.post(url, json=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as error:
        raise DeliveryError(f"webhook not reached: {type(error).__name__}") from None
    if not answer.is_success:
        # The standard phrase: a server's own may carry anything, in any case.
        try:
            phrase = HTTPStatus(answer.status_code).phrase
        except ValueError:
            phrase = "(unknown status)"
        raise DeliveryError(f"webhook answered {answer.status_code} {phrase}")


def _apprise(url: str, scheme: str, body: dict[str, Any]) -> None:
    import apprise  # only here: a second of import, and only senders need it

    if scheme in _HEADER_SCHEMES:
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}+Idempotency-Key={body['idempotency_key']}"
    destination = apprise.Apprise()
    if not destination.add(url):
        raise DeliveryError(f"not a destination apprise knows ({scheme}://)")
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        sent = destination.notify(title=body["title"], body=body["text"])
    if not sent:
        reason = " ".join(captured.getvalue().split())[:300] or "no reason given"
        # apprise's messages name the service, and may echo the URL: never shown.
        raise DeliveryError(f"{scheme}:// delivery failed: {_without(url, reason)}")


def _without(url: str, text: str) -> str:
    parts = urlsplit(url)
    for secret in (url, parts.netloc, parts.path, parts.query, parts.password or ""):
        if len(secret) > 3:
            text = text.replace(secret, "***")
    return text


def owner_name() -> str:
    """Who holds a message while delivering it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Delivered:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    """One line per subscription held by a failure: its name and the reason."""
    unknown: list[str] = field(default_factory=list)
    """Subscriptions with messages waiting but no destination in this configuration."""
    next_due: datetime | None = None
    """The earliest retry this pass scheduled."""


def deliver_due(
    engine: Any,
    subscriptions: Sequence[Subscription],
    *,
    sender: Sender = send,
    owner: str | None = None,
    stopping: threading.Event | None = None,
    now_or_due: bool = False,
) -> Delivered:
    """Send every message that is due (every pending one with ``now_or_due``, as a service
    does when it starts), subscription by subscription, each in order; stop a subscription
    at its first failure (retried later with backoff)."""
    owner = owner or owner_name()
    known = {subscription.name: subscription for subscription in subscriptions}
    done = Delivered()
    for name in outbox.waiting_subscriptions(engine):
        subscription = known.get(name)
        if subscription is None:
            done.unknown.append(name)
            continue
        while (
            not (stopping and stopping.is_set())
            and (
                message := outbox.take_next(engine, name, owner, utcnow(), due_only=not now_or_due)
            )
            is not None
        ):
            try:
                sender(subscription, message.body)
            except DeliveryError as error:
                due = outbox.mark_failed(engine, message, str(error), utcnow())
                done.failed.append(f"{name}: {error} (next attempt {due:%H:%M:%S} UTC)")
                done.next_due = min(due, done.next_due or due)
                logger.warning(
                    "notification %d to %s failed, kept for later: %s",
                    message.id,
                    subscription.shown,
                    error,
                    extra={"fields": {"event": "notify", "status": "failed", "id": message.id}},
                )
                break
            outbox.mark_delivered(engine, message, utcnow())
            done.delivered += 1
            logger.info(
                "notification %d delivered to %s",
                message.id,
                subscription.shown,
                extra={"fields": {"event": "notify", "status": "delivered", "id": message.id}},
            )
    return done
