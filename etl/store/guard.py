"""The mass-removal guard: an upstream that answers 200 with most models missing (an outage,
a filter, a new API version) must not retire the history of hundreds of models.

It looks at each provider on its own. A provider whose catalog would retire more than
``max_share`` of its available models, and at least ``floor`` of them, is held: it stays
exactly as it was while the rest of the catalog applies, and the run records which
providers were held and why. ``catalog-etl runs release`` applies a held part later, at its
own time, when the removal was real.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_REMOVED_SHARE = 0.25
"""A provider whose catalog would retire more than this share of its models is held..."""
DEFAULT_MASS_REMOVAL_FLOOR = 5
"""...unless fewer models than this would go: a small catalog retiring one model is news,
not an outage."""


@dataclass(frozen=True)
class RemovalGuard:
    max_share: float = DEFAULT_MAX_REMOVED_SHARE
    floor: int = DEFAULT_MASS_REMOVAL_FLOOR

    def held(self, known: Mapping[tuple[str, str], Any], gone: Collection[int]) -> dict[str, str]:
        """The providers to hold, each with the reason. ``known``: the stored models by
        (provider, model), with ``id`` and ``available``; ``gone``: the ids of the available
        models the catalog would retire."""
        gone_ids = set(gone)
        available: dict[str, list[int]] = defaultdict(list)
        for (provider, _), row in known.items():
            if row.available:
                available[provider].append(row.id)
        held = {}
        for provider, model_ids in sorted(available.items()):
            removed = sum(1 for model_id in model_ids if model_id in gone_ids)
            share = removed / len(model_ids)
            if removed >= self.floor and share > self.max_share:
                held[provider] = (
                    f"held {provider}: the catalog would remove {removed} of the"
                    f" {len(model_ids)} available models of {provider} ({share:.0%}, more than"
                    f" the {self.max_share:.0%} allowed); if that is real, release this run"
                    " (catalog-etl runs release) or sync again with --allow-mass-removal"
                )
        return held


def removal_guard(
    max_share: float | None, floor: int = DEFAULT_MASS_REMOVAL_FLOOR
) -> RemovalGuard | None:
    """The guard for these settings; None (no guard) when ``max_share`` is None."""
    return None if max_share is None else RemovalGuard(max_share, floor)
