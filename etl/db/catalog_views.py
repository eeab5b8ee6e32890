"""The analyst views of revision 0007, which gave catalogs names (see :mod:`etl.db.views`
for the conventions: exact amounts, approximate arithmetic on SQLite, frozen definitions).

Every view of revision 0002 that names a model gains a first column, ``catalog``;
``observations`` names the catalog of each run; ``price_changes.age_days`` counts from the
change's own catalog's latest observation. One view is new:

* ``cross_catalog_prices``: each current price of a listed, priced model for each component
  its key is charged for in some catalog (``0`` where the model lists none: free there),
  beside what the same model (same ``match_key``, :mod:`etl.ingest.match`) costs in the
  other catalogs now: ``catalogs_compared`` (how many catalogs price it, dynamic prices
  aside), ``lowest``, ``highest`` and ``spread_percent`` ((highest - lowest) / lowest; NULL
  when the lowest is 0). A key that several listed models of one catalog share is
  ``ambiguous`` (whether they are priced or not): those rows show their own amount and are
  left out of the comparison, never guessed between. ``catalog-etl compare``
  (:mod:`etl.read.compare`) applies the same rules at any time.
"""

from __future__ import annotations

from typing import Final

from etl.db.views import ANALYST_VIEWS, OBSERVATIONS, View

_NAMING = (
    ("SELECT pr.name AS provider", "SELECT cat.name AS catalog, pr.name AS provider"),
    ("{joins_", "{catalog_joins_"),
    ("{age_days}", "{catalog_age_days}"),
    # Units (and per-1M values) for LiteLLM's own components too.
    ("p.component IN ({tokens})", "{catalog_unit_p} = 'token'"),
    ("c.component IN ({tokens})", "{catalog_unit_c} = 'token'"),
    ("{unit_", "{catalog_unit_"),
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

# A priced model that lists no price for a component its key is charged for elsewhere costs
# 0 for it (a row of its own: the free offer is the lowest); an unpriced one has no rows.
# Ambiguity counts every listed model of the catalog with the key, priced or not.
CROSS_CATALOG_PRICES = View(
    "cross_catalog_prices",
    """WITH models_listed AS (
  SELECT m.id AS model_id, cat.name AS catalog, pr.name AS provider, m.model, m.match_key,
         v.name AS vendor, mv.priced,
         COUNT(*) OVER (PARTITION BY pr.catalog_id, m.match_key) AS candidates
  FROM model_versions mv
  {catalog_joins_mv}
  JOIN model_availability a ON a.model_id = m.id AND a.valid_to IS NULL
  WHERE mv.valid_to IS NULL
), charged AS (
  SELECT DISTINCT l.match_key, p.component
  FROM prices p
  JOIN models_listed l ON l.model_id = p.model_id
  WHERE p.valid_to IS NULL
), listed AS (
  SELECT l.catalog, l.provider, l.model, l.match_key, l.vendor, c.component,
         {catalog_unit_c} AS unit, CASE WHEN p.id IS NULL THEN {zero} ELSE p.amount END AS amount,
         COALESCE(p.dynamic, FALSE) AS dynamic, l.candidates
  FROM models_listed l
  JOIN charged c ON c.match_key = l.match_key
  LEFT JOIN prices p
    ON p.model_id = l.model_id AND p.component = c.component AND p.valid_to IS NULL
  WHERE l.priced
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
