"""The message a subscription receives for one sync: a short text for chat, and a JSON body
with every change (schema version :data:`BODY_VERSION`, documented in the README).

Pure: from a run's changes (:mod:`etl.read.run_changes`) and a subscription to a document;
nothing here reads a database or sends anything.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from decimal import Decimal
from typing import Any, Final

from etl.notify.subscriptions import KINDS, Subscription
from etl.read.changes import ModelChange, PriceChange
from etl.read.run_changes import RunChanges
from etl.read.units import decimal_text, per_million
from etl.text import visible
from etl.times import iso

BODY_VERSION: Final = 1
MOVERS: Final = 5
"""Price moves named in the text, biggest first; the JSON body holds them all."""
NAMES: Final = 8
"""Models named per kind (added, removed...) in the text."""
MINUS: Final = "\u2212"


def idempotency_key(subscription: str, run_id: int) -> str:
    """The same for every delivery of one message: a receiver drops a repeat."""
    return hashlib.sha256(f"catalog-etl\n{subscription}\n{run_id}".encode()).hexdigest()[:32]


def price_kind(change: PriceChange) -> str:
    direction = change.direction
    return f"price_{direction}" if direction in ("cut", "increase") else "price_change"


def build_message(subscription: Subscription, run: RunChanges) -> dict[str, Any] | None:
    """The JSON body for ``subscription``, or None when none of the run's changes is wanted.
    A digest (``run_id`` 0) covers a window rather than one sync."""
    if not subscription.wants_catalog(run.catalog):
        return None
    changes = [
        _model_json(change)
        for change in (*run.report.added, *run.report.removed, *run.report.returned)
        if change.kind in subscription.kinds
        and subscription.wants_model(change.vendor, change.model, change.catalog)
    ]
    changes += [
        _price_json(change)
        for change in _movers(run.report.price_changes)
        if _wants_price(subscription, change)
    ]
    changes += [
        change.to_json()
        for change in run.report.changes
        if change.kind == "capability"
        and "capability" in subscription.kinds
        and subscription.wants_model(change.vendor, change.model, change.catalog)
    ]
    if not changes:
        return None
    counts = Counter(change["kind"] for change in changes)
    body: dict[str, Any] = {
        "version": BODY_VERSION,
        "idempotency_key": idempotency_key(subscription.name, run.run_id),
        "subscription": subscription.name,
        "run_id": run.run_id or None,
        "catalog": run.catalog,
        "observed_at": iso(run.observed_at),
        "previous_observed_at": iso(run.previous_at) if run.previous_at else None,
        "counts": {kind: counts[kind] for kind in KINDS if counts[kind]},
        "changes": changes,
    }
    body["title"], body["text"] = summary(body)
    return body


def sample_message(subscription: Subscription, key: str) -> dict[str, Any]:
    """What ``notify test`` sends: the body's shape with no changes, and a text saying so."""
    return {
        "version": BODY_VERSION,
        "idempotency_key": key,
        "subscription": subscription.name,
        "run_id": None,
        "catalog": None,
        "observed_at": None,
        "previous_observed_at": None,
        "counts": {},
        "changes": [],
        "test": True,
        "title": "Model catalog: test message",
        "text": visible(
            f"A test from catalog-etl for subscription {subscription.name}, which hears of:"
            f" {subscription.filter_text()}."
        ),
    }


def summary(body: dict[str, Any]) -> tuple[str, str]:
    """A title and a few lines for chat: the counts, the biggest price moves per 1M tokens,
    then the models added, removed and returned."""
    words = {
        "added": "added",
        "removed": "removed",
        "returned": "returned",
        "price_cut": "price cuts",
        "price_increase": "price increases",
        "price_change": "other price changes",
        "capability": "capability changes",
    }
    counts = ", ".join(f"{count} {words[kind]}" for kind, count in body["counts"].items())
    title = f"Model catalog: {counts}"
    lines = [f"Observed {body['observed_at']}."]
    moves = [c for c in body["changes"] if c["kind"].startswith("price_")]
    for change in moves[:MOVERS]:
        lines.append(_move_line(change))
    if len(moves) > MOVERS:
        lines.append(f"... and {len(moves) - MOVERS} more price changes")
    for kind in ("added", "removed", "returned"):
        models = [c["model"] for c in body["changes"] if c["kind"] == kind]
        if models:
            more = f" and {len(models) - NAMES} more" if len(models) > NAMES else ""
            lines.append(f"{kind.capitalize()}: {', '.join(models[:NAMES])}{more}")
    capability = sum(1 for c in body["changes"] if c["kind"] == "capability")
    if capability:
        lines.append(f"{capability} capability changes (context, modalities, parameters)")
    return visible(title), "\n".join(visible(line) for line in lines)


def _move_line(change: dict[str, Any]) -> str:
    per_million = change["old_per_million"] is not None or change["new_per_million"] is not None
    unit = " per 1M tokens" if per_million else f" per {change['unit']}"
    old = change["old_per_million"] if per_million else change["old"]
    new = change["new_per_million"] if per_million else change["new"]
    percent = change["change_percent"]
    shown = "" if percent is None else f" ({'+' if not percent.startswith('-') else ''}{percent}%)"
    return (
        f"{change['model']} {change['component']}: {_money(old)} → {_money(new)}{unit}"
        f"{shown.replace('-', MINUS)}"
    )


def _money(value: str | None) -> str:
    if value is None:
        return "unpriced"
    return value if value == "dynamic" else f"${value}"


def _wants_price(subscription: Subscription, change: PriceChange) -> bool:
    if price_kind(change) not in subscription.kinds:
        return False
    if not subscription.wants_model(change.vendor, change.model, change.catalog):
        return False
    if subscription.min_change is None or change.direction == "other":
        return True
    percent = change.percent
    return percent is None or abs(percent) >= subscription.min_change * 100


def _movers(changes: tuple[PriceChange, ...]) -> list[PriceChange]:
    """Biggest relative moves first; moves without a percentage (from 0, dynamic) last."""

    def size(change: PriceChange) -> tuple[bool, Decimal, str, str]:
        percent = change.percent
        return (percent is None, -abs(percent or Decimal(0)), change.model, change.component)

    return sorted(changes, key=size)


def _model_json(change: ModelChange) -> dict[str, Any]:
    document = change.to_json()
    prompt = per_million(change.price("prompt"), "prompt") if change.prices else None
    completion = per_million(change.price("completion"), "completion") if change.prices else None
    return (
        {"kind": change.kind}
        | document
        | {
            "prompt_per_million": decimal_text(prompt),
            "completion_per_million": decimal_text(completion),
        }
    )


def _price_json(change: PriceChange) -> dict[str, Any]:
    return {"kind": price_kind(change)} | change.to_json()
