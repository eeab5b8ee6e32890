"""The net difference between the catalog at two times: models added, removed and returned,
prices and fields changed, with no time for each."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from etl.read.catalogs import CatalogScope, catalog_scope, observation_windows
from etl.read.changes import (
    ChangeReport,
    FieldChange,
    ModelChange,
    PriceChange,
    check_sort,
    field_changes,
    sorted_changes,
    split_noise,
)
from etl.read.queries import (
    NO_FILTERS,
    Filters,
    Heads,
    ModelHead,
    ModelInfo,
    heads_as_of,
    model_directory,
)
from etl.read.stored import version_contents


def net_changes(
    connection: Connection,
    since: datetime,
    until: datetime,
    filters: Filters = NO_FILTERS,
    sort: str | None = None,
    *,
    include_noise: bool = False,
    catalogs: CatalogScope | None = None,
) -> ChangeReport:
    """The net difference between the catalog as of ``since`` and as of ``until``, in the
    catalogs read (all when None).

    A model available at ``until`` but not at ``since`` was *added* when it was first seen
    after ``since``, and *returned* otherwise. A model that left and came back inside the
    window is no net change. Only versions that differ are read in full. Price changes that
    are rounding noise (:mod:`etl.read.noise`) are kept apart unless ``include_noise``.
    """
    sort = check_sort(sort, events=False)
    scope = catalogs or catalog_scope(connection)
    directory = model_directory(connection, filters, since, until, catalogs=scope)
    before, after = heads_as_of(connection, since, scope), heads_as_of(connection, until, scope)
    old_ids = {i for i in before.listed if i in directory}
    new_ids = {i for i in after.listed if i in directory}
    added, removed, returned = _listing_changes(directory, before, after, old_ids, new_ids, since)
    price_changes, changes = _content_changes(
        connection, directory, before, after, old_ids & new_ids, filters
    )
    price_changes, noise = split_noise(price_changes, include_noise=include_noise)
    return ChangeReport(
        since=since,
        until=until,
        since_observed_at=before.observed_at,
        until_observed_at=after.observed_at,
        events=False,
        filters=filters,
        sort=sort,
        added=sorted_changes(added, sort),
        removed=sorted_changes(removed, sort),
        returned=sorted_changes(returned, sort),
        price_changes=sorted_changes(price_changes, sort),
        changes=sorted_changes(changes, sort),
        rounding_noise=sorted_changes(noise, sort),
        include_noise=include_noise,
        catalogs=observation_windows(connection, scope, since, until),
    )


def _listing_changes(
    directory: Mapping[int, ModelInfo],
    before: Heads,
    after: Heads,
    old_ids: set[int],
    new_ids: set[int],
    since: datetime,
) -> tuple[list[ModelChange], list[ModelChange], list[ModelChange]]:
    """The models added, removed and returned: listed at one end of the window only."""

    def model_change(kind: str, head: ModelHead) -> ModelChange:
        info = directory[head.model_id]
        prices = dict(head.prices) if head.priced else None
        ident = (info.provider, info.model, info.vendor, head.name)
        return ModelChange(kind, *ident, head.context_length, prices, catalog=info.catalog)

    added: list[ModelChange] = []
    returned: list[ModelChange] = []
    for model_id in new_ids - old_ids:
        if directory[model_id].first_seen_at <= since:
            returned.append(model_change("returned", after.models[model_id]))
        else:
            added.append(model_change("added", after.models[model_id]))
    # A model keeps its last version and prices while it is away: as of ``until`` they are
    # its last state before it left (it may have changed after ``since``).
    removed = [
        model_change("removed", after.models.get(i, before.models[i])) for i in old_ids - new_ids
    ]
    return added, removed, returned


def _content_changes(
    connection: Connection,
    directory: Mapping[int, ModelInfo],
    before: Heads,
    after: Heads,
    common: set[int],
    filters: Filters,
) -> tuple[list[PriceChange], list[FieldChange]]:
    """The price and field changes of the ``common`` models, listed at both ends of the
    window."""
    changed = {
        i: (before.models[i].version_id, after.models[i].version_id)
        for i in common
        if before.models[i].version_id != after.models[i].version_id
    }
    contents = version_contents(connection, {v for pair in changed.values() for v in pair})
    price_changes: list[PriceChange] = []
    changes: list[FieldChange] = []
    for model_id in common:
        old, new = before.models[model_id], after.models[model_id]
        info = directory[model_id]
        ident = (info.provider, info.model, info.vendor, new.name)
        for component in old.prices.keys() | new.prices.keys():
            old_price, new_price = old.price(component), new.price(component)
            if old_price != new_price and filters.wants_component(component):
                price_changes.append(
                    PriceChange(*ident, component, old_price, new_price, catalog=info.catalog)
                )
        if model_id in changed:
            old_content, new_content = contents[old.version_id], contents[new.version_id]
            changes.extend(field_changes(ident, old_content, new_content, catalog=info.catalog))
    return price_changes, changes


def diff_report(
    connection: Connection,
    since: datetime,
    until: datetime,
    catalogs: CatalogScope | None = None,
) -> dict[str, Any]:
    """The net difference as a compact document: each item only names the model (and its
    catalog, when several are read) and the old and new values.
    ``net_changes(...).to_json()`` is the full document."""
    return net_changes(connection, since, until, catalogs=catalogs).to_json(compact=True)
