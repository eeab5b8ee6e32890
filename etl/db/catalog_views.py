"""The analyst views of revision 0007, which gave catalogs names (see :mod:`etl.db.views`
for the conventions: exact amounts, approximate arithmetic on SQLite, frozen definitions).

Every view of revision 0002 that names a model gains a first column, ``catalog``;
``observations`` names the catalog of each run; ``price_changes.age_days`` counts from the
change's own catalog's latest observation. One view is new:

* ``cross_catalog_prices``: each non-zero current price of a listed model, beside what the
  same model (same ``match_key``, :mod:`etl.ingest.match`) costs in the other catalogs now:
  ``catalogs_compared`` (how many catalogs price it, dynamic prices aside), ``lowest``,
  ``highest`` and ``spread_percent`` ((highest - lowest) / lowest). A key that several models
  of one catalog share is ``ambiguous``: those rows show their own amount and are left out
  of the comparison, never guessed between.
"""

from __future__ import annotations

from typing import Final

from etl.db.views import ANALYST_VIEWS, OBSERVATIONS, View

_NAMING = (
    ("SELECT pr.name AS provider", "SELECT cat.name AS catalog, pr.name AS provider"),
    ("{joins_", "{catalog_joins_"),
    ("{age_days}", "{catalog_age_days}"),
)


def _with_catalog(view: View) -> View:
    """Revision 0002's view with its catalog named."""
    if view is OBSERVATIONS:
        return OBSERVATIONS_BY_CATALOG
    sql = view.sql
    for old, new in _NAMING:
        sql = sql.replace(old, new)
    return View(view.name, sql)


OBSERVATIONS_BY_CATALOG = View(
    "observations",
    """SELECT cat.name AS catalog, r.id AS run_id, r.observed_at, {day} AS observed_on,
       {month} AS month, r.source, r.models_seen, r.added, r.removed, r.returned,
       r.versions_written, r.price_changes
FROM sync_runs r
JOIN catalogs cat ON cat.id = r.catalog_id
WHERE r.status = 'succeeded'""",
)

CROSS_CATALOG_PRICES = View(
    "cross_catalog_prices",
    """WITH listed AS (
  SELECT cat.name AS catalog, pr.name AS provider, m.model, m.match_key, v.name AS vendor,
         p.component, {unit_p} AS unit, p.amount, p.dynamic,
         COUNT(*) OVER (PARTITION BY pr.catalog_id, m.match_key, p.component) AS candidates
  FROM prices p
  {catalog_joins_p}
  JOIN model_availability a ON a.model_id = m.id AND a.valid_to IS NULL
  WHERE p.valid_to IS NULL
), comparable AS (
  SELECT listed.*, CASE WHEN candidates = 1 AND NOT dynamic THEN amount END AS compared
  FROM listed
)
SELECT match_key, component, unit, catalog, provider, model, vendor, amount, dynamic,
       candidates > 1 AS ambiguous,
       COUNT(compared) OVER w AS catalogs_compared,
       MIN({compared}) OVER w AS lowest,
       MAX({compared}) OVER w AS highest,
       CASE WHEN COUNT(compared) OVER w > 1 AND MIN({compared}) OVER w > 0
            THEN ROUND((MAX({compared}) OVER w - MIN({compared}) OVER w) * 100
                       / MIN({compared}) OVER w, 2) END AS spread_percent
FROM comparable
WINDOW w AS (PARTITION BY match_key, component)""",
)

CATALOG_VIEWS: Final = (*(_with_catalog(view) for view in ANALYST_VIEWS), CROSS_CATALOG_PRICES)
"""The views of revision 0007, in creation order."""
