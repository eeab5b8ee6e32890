"""Subscriptions: a destination URL and a filter on the changes it wants to hear of.

Read from a TOML file (``--subscriptions``, every option) or given as bare URLs (``--notify``,
every change). A destination is an apprise URL (``slack://``, ``discord://``, ``mailto://``,
``ntfy://``, ``json://``...) or a plain ``https://`` webhook that receives the JSON body of
:mod:`etl.notify.messages`. The URL may hold a secret: it is never shown (:func:`shown_url`),
logged or stored; the outbox knows a subscription by its name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from etl.config import SettingsError

KINDS: Final = (
    "added",
    "removed",
    "returned",
    "price_cut",
    "price_increase",
    "price_change",
    "capability",
)
"""Kinds of change a subscription may ask for (all by default). ``price_change`` is a price
that becomes or stops being dynamic, or a model that becomes priced or unpriced."""
_KEYS: Final = frozenset({"name", "url", "catalogs", "vendors", "models", "kinds", "min_change"})


class SubscriptionError(SettingsError):
    """A subscription that cannot be used; the message names it, never its URL."""


@dataclass(frozen=True)
class Subscription:
    """Where to send, and which changes. ``min_change`` (a fraction: 0.1 is 10%) applies to
    price cuts and increases; rounding noise never notifies."""

    name: str
    url: str = field(repr=False)
    catalogs: frozenset[str] = frozenset()
    """Only the changes of these catalogs (every catalog when empty)."""
    vendors: frozenset[str] = frozenset()
    models: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset(KINDS)
    min_change: Decimal | None = None

    @property
    def shown(self) -> str:
        return f"{self.name} ({shown_url(self.url)})"

    def wants_catalog(self, catalog: str | None) -> bool:
        """Whether changes of ``catalog`` (None: not named, a database of one) are wanted."""
        return not self.catalogs or catalog is None or catalog in self.catalogs

    def wants_model(self, vendor: str, model: str, catalog: str | None = None) -> bool:
        if not self.wants_catalog(catalog):
            return False
        if self.vendors and vendor.lower() not in self.vendors:
            return False
        return not self.models or any(fnmatch.fnmatchcase(model, glob) for glob in self.models)

    def filter_text(self) -> str:
        """The filter in words, for ``notify status`` and a test message."""
        parts = [", ".join(k for k in KINDS if k in self.kinds)]
        if self.catalogs:
            parts.append("catalogs " + ", ".join(sorted(self.catalogs)))
        if self.vendors:
            parts.append("vendors " + ", ".join(sorted(self.vendors)))
        if self.models:
            parts.append("models " + ", ".join(self.models))
        if self.min_change is not None:
            parts.append(f"price moves of {self.min_change * 100:g}% or more")
        return "; ".join(parts)


def shown_url(url: str) -> str:
    """What may be shown of a destination: its scheme, and the host of a web URL; the rest
    (tokens, passwords, webhook paths) is ``***``."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}/***"
    return f"{parts.scheme or '?'}://***"


def url_name(url: str) -> str:
    """A stable name for a bare ``--notify`` URL that does not reveal it."""
    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:12]


def from_urls(urls: Iterable[str]) -> list[Subscription]:
    """Bare destination URLs: every kind of change, each named by :func:`url_name`."""
    return [_checked(Subscription(name=url_name(url), url=url)) for url in urls]


def load_file(path: Path) -> list[Subscription]:
    """The ``[[subscription]]`` tables of a TOML file (see the README)."""
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise SubscriptionError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SubscriptionError(f"{path} is not valid TOML: {error}") from None
    tables = document.get("subscription", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SubscriptionError(f"{path}: subscriptions are [[subscription]] tables")
    return [
        _from_table(table, f"{path}: subscription {index + 1}")
        for index, table in enumerate(tables)
    ]


def combined(*groups: Iterable[Subscription]) -> list[Subscription]:
    """Subscriptions from several sources; a name given twice is an error."""
    seen: dict[str, Subscription] = {}
    for subscription in (s for group in groups for s in group):
        if subscription.name in seen:
            raise SubscriptionError(f"two subscriptions are named {subscription.name!r}")
        seen[subscription.name] = subscription
    return list(seen.values())


def _from_table(table: Mapping[str, Any], where: str) -> Subscription:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise SubscriptionError(f"{where}: unknown keys {', '.join(unknown)}")
    name, url = table.get("name"), table.get("url")
    if not isinstance(name, str) or not name.strip():
        raise SubscriptionError(f"{where}: give it a name")
    if not isinstance(url, str) or not url.strip():
        raise SubscriptionError(f"{where} ({name}): give it a url")
    kinds = _strings(table.get("kinds", list(KINDS)), f"{where} ({name}): kinds")
    wrong = sorted(set(kinds) - set(KINDS))
    if wrong:
        raise SubscriptionError(
            f"{where} ({name}): unknown kinds {', '.join(wrong)}; use {', '.join(KINDS)}"
        )
    return _checked(
        Subscription(
            name=name.strip(),
            url=url.strip(),
            catalogs=frozenset(_strings(table.get("catalogs", []), where)),
            vendors=frozenset(v.lower() for v in _strings(table.get("vendors", []), where)),
            models=tuple(_strings(table.get("models", []), where)),
            kinds=frozenset(kinds),
            min_change=parse_min_change(table.get("min_change"), f"{where} ({name})"),
        )
    )


def parse_min_change(value: object, where: str) -> Decimal | None:
    """``"10%"``, ``0.1`` or ``"0.1"``: a fraction of the old price; None when absent."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        fraction = Decimal(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except InvalidOperation:
        fraction = Decimal(-1)
    if isinstance(value, bool) or not fraction.is_finite() or fraction < 0:
        raise SubscriptionError(f"{where}: min_change must be like 10% or 0.1, not {value!r}")
    return fraction


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SubscriptionError(f"{where} must be a list of strings")
    return value


def _checked(subscription: Subscription) -> Subscription:
    if "://" not in subscription.url:
        raise SubscriptionError(
            f"subscription {subscription.name}: its url is not a URL (give an apprise URL such"
            " as slack://... or an https:// webhook)"
        )
    return subscription
