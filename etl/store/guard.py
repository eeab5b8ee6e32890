"""The mass-removal guard: an upstream that answers 200 with most models missing must not
retire the history of hundreds of models."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from etl.errors import SyncHeld

DEFAULT_MAX_REMOVED_SHARE = 0.25
"""A sync that would retire more than this share of a provider's models is held."""


def guard_removals(known: dict[tuple[str, str], Any], gone: list[int], max_share: float) -> None:
    """Raise :class:`~etl.errors.SyncHeld` when ``gone`` holds more than ``max_share`` of any
    provider's available models (``known``: the stored rows by (provider, model))."""
    gone_ids = set(gone)
    available: dict[str, list[int]] = defaultdict(list)
    for (provider, _), row in known.items():
        if row.available:
            available[provider].append(row.id)
    for provider, model_ids in sorted(available.items()):
        removed = sum(1 for model_id in model_ids if model_id in gone_ids)
        if removed / len(model_ids) > max_share:
            raise SyncHeld(
                f"held: the catalog would remove {removed} of the {len(model_ids)} available"
                f" models of {provider} ({removed / len(model_ids):.0%}, more than the"
                f" {max_share:.0%} allowed); if that is real, sync again with"
                " --allow-mass-removal"
            )
