"""Which catalogs a read covers, and whether what it shows names them.

A database holds named catalogs (a gateway, a price map), each a history of its own: the same
provider and model in two catalogs are two series. A read covers every catalog unless told
which. When what it covers spans several catalogs, each row says which one it belongs to and
the times that belong to one catalog (its latest observation) are given per catalog; a
database of one catalog reads as it always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, select

from etl.db.tables import catalogs_table, models_table, providers_table, sync_runs_table
from etl.times import iso


class UnknownCatalog(LookupError):
    """A catalog name the database does not hold; the message lists those it does."""


@dataclass(frozen=True)
class CatalogScope:
    """The catalogs a read covers."""

    known: Mapping[int, str]
    """Every catalog of the database, by id."""
    ids: frozenset[int] | None
    """The catalogs read; None: every one, unfiltered."""
    shown: tuple[str, ...]
    """The catalogs the output names, sorted: those asked for, or else those holding runs
    when they are several; empty for a database of one catalog, whose output names none."""

    @property
    def named(self) -> bool:
        """Rows name their catalog: they may come from several."""
        return len(self.shown) > 1

    def label(self, catalog_id: int) -> str | None:
        """What a row of this catalog names: its name when rows are named, else None."""
        return self.known[catalog_id] if self.named else None

    def only(self, catalog_id: int) -> CatalogScope:
        """Just this catalog, named nowhere (a run's own changes, say)."""
        return CatalogScope(self.known, frozenset({catalog_id}), ())

    def where_catalog(self, query: Any, column: Any) -> Any:
        """``query`` kept to the catalogs read, ``column`` holding a catalog id."""
        return query if self.ids is None else query.where(column.in_(sorted(self.ids)))

    def where_model(self, query: Any, column: Any) -> Any:
        """``query`` kept to the models of the catalogs read, ``column`` holding a model id
        (one subquery, whatever the number of models)."""
        if self.ids is None:
            return query
        return query.where(column.in_(self.model_ids()))

    def model_ids(self) -> Any:
        """The ids of the models of the catalogs read, as a subquery."""
        return self.where_catalog(
            select(models_table.c.id).join(
                providers_table, providers_table.c.id == models_table.c.provider_id
            ),
            providers_table.c.catalog_id,
        )

    def shown_ids(self) -> list[int]:
        by_name = {name: catalog_id for catalog_id, name in self.known.items()}
        return [by_name[name] for name in self.shown]


UNFILTERED = CatalogScope({}, None, ())
"""Every catalog, naming none: for reads whose caller already knows it needs no names."""


def catalog_scope(connection: Connection, names: Iterable[str] = ()) -> CatalogScope:
    """The catalogs called ``names`` (every catalog when there are none);
    :class:`UnknownCatalog` for a name the database does not hold."""
    known: dict[int, str] = dict(
        connection.execute(select(catalogs_table.c.id, catalogs_table.c.name)).all()
    )
    wanted = sorted(set(names))
    by_name = {name: catalog_id for catalog_id, name in known.items()}
    for name in wanted:
        if name not in by_name:
            held = ", ".join(sorted(by_name)) or "none"
            raise UnknownCatalog(f"no catalog {name!r} in this database (it holds: {held})")
    if wanted:
        return CatalogScope(known, frozenset(by_name[name] for name in wanted), tuple(wanted))
    in_use = connection.execute(
        select(catalogs_table.c.name).where(
            exists().where(sync_runs_table.c.catalog_id == catalogs_table.c.id)
        )
    ).scalars()
    used = tuple(sorted(in_use))
    return CatalogScope(known, None, used if len(used) > 1 else ())


def latest_observations(
    connection: Connection, scope: CatalogScope, as_of: datetime | None = None
) -> tuple[tuple[str, datetime | None], ...]:
    """Each catalog the output names, with its latest successful observation at or before
    ``as_of`` (of all when None; None before its first): one query."""
    if not scope.shown:
        return ()
    runs = sync_runs_table.c
    query = (
        select(runs.catalog_id, func.max(runs.observed_at))
        .where(runs.status == "succeeded", runs.catalog_id.in_(scope.shown_ids()))
        .group_by(runs.catalog_id)
    )
    if as_of is not None:
        query = query.where(runs.observed_at <= as_of)
    latest = {
        scope.known[catalog_id]: observed for catalog_id, observed in connection.execute(query)
    }
    return tuple((name, latest.get(name)) for name in scope.shown)


def named(catalog: str | None) -> dict[str, str]:
    """The ``catalog`` key a JSON row starts with when rows name their catalog."""
    return {} if catalog is None else {"catalog": catalog}


def observed_json(catalogs: Iterable[tuple[str, datetime | None]]) -> dict[str, Any]:
    """``{"catalogs": [{"name", "observed_at"}]}``, or nothing when no catalog is named."""
    listed = [{"name": name, "observed_at": iso(at) if at else None} for name, at in catalogs]
    return {"catalogs": listed} if listed else {}


CatalogWindow = tuple[str, datetime | None, datetime | None]
"""A catalog a change report names, with its own latest observations at or before the
window's start and end."""


def windows_json(catalogs: Iterable[CatalogWindow]) -> dict[str, Any]:
    """``{"catalogs": [{"name", "since_observed_at", "until_observed_at"}]}``, or nothing
    when no catalog is named."""
    listed = [
        {
            "name": name,
            "since_observed_at": iso(since) if since else None,
            "until_observed_at": iso(until) if until else None,
        }
        for name, since, until in catalogs
    ]
    return {"catalogs": listed} if listed else {}


def observation_windows(
    connection: Connection, scope: CatalogScope, since: datetime | None, until: datetime
) -> tuple[CatalogWindow, ...]:
    """Each catalog the output names, with its latest observations at or before ``since``
    (None when it is None) and ``until``."""
    before = dict(latest_observations(connection, scope, since)) if since is not None else {}
    after = latest_observations(connection, scope, until)
    return tuple((name, before.get(name), at) for name, at in after)
