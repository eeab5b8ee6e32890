"""SQL views for analysts, on SQLite and PostgreSQL alike (created by migration 0002).

* ``model_version_modalities``, ``model_version_parameters``, ``model_version_categories``:
  each input or output modality, supported parameter and category of each version (stored
  once per capability set, see :class:`etl.db.tables.CapabilitySet`);
* ``current_models``: each model listed now, its current attributes, and its prompt and
  completion prices per 1M tokens;
* ``current_prices``: each non-zero price component of a model listed now;
* ``price_history``: each stored price interval (every price a model ever had);
* ``price_changes``: each change of one component of one model, old and new values, the
  change in percent;
* ``availability_intervals``: each interval during which a model was listed;
* ``observations``: each successful sync, with its day and month for grouping.

Money: ``amount``, ``old_amount`` and ``new_amount`` are the exact stored values (NUMERIC
on PostgreSQL, canonical decimal text on SQLite). The ``*_per_million`` and ``percent``
columns are exact NUMERIC on PostgreSQL but floating point (REAL, approximate) on SQLite,
where any arithmetic on the text goes through a float: fine to sort and compare, not to
add up invoices. ``per_million`` columns are only set for per-token components (see
:mod:`etl.read.units`; the list below must match it, which a test checks).

These definitions are frozen as shipped in a revision: a view that needs to change gets a
new revision holding the new definition, and this module keeps the old one for that
revision's downgrade (Alembic's "replaceable objects" recipe). A later migration that
rebuilds a table on SQLite (batch mode: copy, drop, rename) must drop these views first and
create them again after, since SQLite refuses to rename a table while a view is broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from etl.ingest.litellm_prices import UNIT_PREFIXES


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    """``SELECT ...`` with ``{placeholders}`` for the dialect-specific fragments."""

    def create(self, dialect: str) -> str:
        # The fragments are constants of this module, never input.
        body = self.sql.format(**_FRAGMENTS[_dialect(dialect)])
        return f"CREATE VIEW {self.name} AS\n{body}"

    def drop(self) -> str:
        return f"DROP VIEW IF EXISTS {self.name}"


def _dialect(name: str) -> str:
    if name not in _FRAGMENTS:
        raise ValueError(f"no analyst views for the {name} dialect")
    return name


TOKEN_COMPONENTS_SQL: Final = (
    "'prompt', 'completion', 'internal_reasoning', 'input_cache_read', "
    "'input_cache_write', 'audio', 'input_audio_cache'"
)

_UNIT = (
    "CASE WHEN {component} IN ({tokens}) THEN 'token'"
    " WHEN {component} = 'request' THEN 'request'"
    " WHEN {component} = 'image' THEN 'image'"
    " WHEN {component} = 'web_search' THEN 'search' ELSE 'unit' END"
)

_LATEST = "(SELECT MAX(observed_at) FROM sync_runs WHERE status = 'succeeded')"

_FRAGMENTS: Final[dict[str, dict[str, str]]] = {
    "sqlite": {
        # Amounts are decimal text on SQLite: the zero of a component a model does not list.
        "zero": "'0'",
        "million_old": "CAST(c.old_amount AS REAL) * 1000000",
        "million_new": "CAST(c.new_amount AS REAL) * 1000000",
        "million_amount": "CAST(p.amount AS REAL) * 1000000",
        "million_prompt": "CAST(pp.amount AS REAL) * 1000000",
        "million_completion": "CAST(pc.amount AS REAL) * 1000000",
        "percent": "ROUND((CAST(c.new_amount AS REAL) - CAST(c.old_amount AS REAL)) * 100.0"
        " / CAST(c.old_amount AS REAL), 2)",
        "old_is_nonzero": "CAST(c.old_amount AS REAL) <> 0",
        "age_days": f"ROUND(julianday({_LATEST}) - julianday(c.changed_at), 2)",
        "day": "strftime('%Y-%m-%d', observed_at)",
        "month": "strftime('%Y-%m', observed_at)",
    },
    "postgresql": {
        "zero": "0",
        # trim_scale: 0.000003 * 1000000 is 3.000000, shown as 3.
        "million_old": "trim_scale(c.old_amount * 1000000)",
        "million_new": "trim_scale(c.new_amount * 1000000)",
        "million_amount": "trim_scale(p.amount * 1000000)",
        "million_prompt": "trim_scale(pp.amount * 1000000)",
        "million_completion": "trim_scale(pc.amount * 1000000)",
        "percent": "ROUND((c.new_amount - c.old_amount) * 100 / c.old_amount, 2)",
        "old_is_nonzero": "c.old_amount <> 0",
        "age_days": f"ROUND(EXTRACT(EPOCH FROM ({_LATEST} - c.changed_at)) / 86400, 2)",
        "day": "to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        "month": "to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM')",
    },
}
_MODEL_JOINS = """JOIN models m ON m.id = {alias}.model_id
JOIN providers pr ON pr.id = m.provider_id
JOIN vendors v ON v.id = m.vendor_id"""

# Revision 0007's: each catalog's own latest observation, amounts to compare (exact on
# PostgreSQL, approximate on SQLite as above).
_CATALOG_LATEST = _LATEST[:-1] + " AND catalog_id = pr.catalog_id)"
_FRAGMENTS["sqlite"]["catalog_age_days"] = (
    f"ROUND(julianday({_CATALOG_LATEST}) - julianday(c.changed_at), 2)"
)
_FRAGMENTS["postgresql"]["catalog_age_days"] = (
    f"ROUND(EXTRACT(EPOCH FROM ({_CATALOG_LATEST} - c.changed_at)) / 86400, 2)"
)
_FRAGMENTS["sqlite"]["compared"] = "CAST(compared AS REAL)"
_FRAGMENTS["postgresql"]["compared"] = "compared"


# Revision 0007's units also know LiteLLM's own components, read from the name after
# "cost_per_" by the table etl.ingest.litellm_prices.price_unit reads them with.
def _like(column: str, pattern: str) -> str:
    return f"{column} LIKE '{pattern.replace('_', '!_')}' ESCAPE '!'"


def _catalog_unit(column: str, position: str) -> str:
    """The unit of the component in ``column``: OpenRouter's names, then LiteLLM's."""
    rest = f"substr({column}, {position}({column}, 'cost_per_') + 9)"
    price_name = " OR ".join(
        _like(column, pattern)
        for pattern in ("cost_per_%", "%_cost_per_%", "%_token_cost", "%_token_cost_%")
    )
    litellm = "".join(
        f" WHEN {_like(rest, prefix + '%')} THEN '{name or prefix}'"
        for prefixes, name in UNIT_PREFIXES
        for prefix in prefixes
    )
    return (
        _UNIT.format(component=column, tokens=TOKEN_COMPONENTS_SQL).removesuffix(" ELSE 'unit' END")
        + f" WHEN NOT ({price_name}) THEN 'unit'"
        + f" WHEN {position}({column}, 'cost_per_') = 0 THEN 'token'{litellm} ELSE 'unit' END"
    )


# Fragments every dialect shares: the unit of a component, the joins naming a model.
_POSITION: Final = {"sqlite": "instr", "postgresql": "strpos"}
for _dialect_name, _fragments in _FRAGMENTS.items():
    _fragments["tokens"] = TOKEN_COMPONENTS_SQL
    for _alias in ("p", "c"):
        _fragments[f"unit_{_alias}"] = _UNIT.format(
            component=f"{_alias}.component", tokens=TOKEN_COMPONENTS_SQL
        )
        _fragments[f"catalog_unit_{_alias}"] = _catalog_unit(
            f"{_alias}.component", _POSITION[_dialect_name]
        )
    for _alias in ("mv", "p", "c", "a"):
        _fragments[f"joins_{_alias}"] = _MODEL_JOINS.format(alias=_alias)
        _fragments[f"catalog_joins_{_alias}"] = (
            _MODEL_JOINS.format(alias=_alias) + "\nJOIN catalogs cat ON cat.id = pr.catalog_id"
        )

CURRENT_MODELS = View(
    "current_models",
    """SELECT pr.name AS provider, m.model, v.name AS vendor, mv.name, mv.context_length,
       mv.max_completion_tokens, mv.modality, mv.priced,
       CASE WHEN NOT mv.priced OR pp.dynamic THEN NULL
            WHEN pp.amount IS NULL THEN 0 ELSE {million_prompt} END AS prompt_per_million,
       CASE WHEN NOT mv.priced OR pc.dynamic THEN NULL
            WHEN pc.amount IS NULL THEN 0 ELSE {million_completion} END
         AS completion_per_million,
       mv.version, mv.valid_from AS version_since, a.valid_from AS listed_since,
       m.first_seen_at, pr.last_observed_at AS last_seen_at
FROM model_versions mv
{joins_mv}
JOIN model_availability a ON a.model_id = m.id AND a.valid_to IS NULL
LEFT JOIN prices pp ON pp.model_id = m.id AND pp.component = 'prompt' AND pp.valid_to IS NULL
LEFT JOIN prices pc
  ON pc.model_id = m.id AND pc.component = 'completion' AND pc.valid_to IS NULL
WHERE mv.valid_to IS NULL""",
)

CURRENT_PRICES = View(
    "current_prices",
    """SELECT pr.name AS provider, m.model, v.name AS vendor, p.component, {unit_p} AS unit,
       p.amount, p.dynamic,
       CASE WHEN p.component IN ({tokens}) AND NOT p.dynamic
            THEN {million_amount} END AS usd_per_million,
       p.valid_from AS since
FROM prices p
{joins_p}
JOIN model_availability a ON a.model_id = m.id AND a.valid_to IS NULL
WHERE p.valid_to IS NULL""",
)

PRICE_HISTORY = View(
    "price_history",
    """SELECT pr.name AS provider, m.model, v.name AS vendor, p.component, {unit_p} AS unit,
       p.amount, p.dynamic,
       CASE WHEN p.component IN ({tokens}) AND NOT p.dynamic
            THEN {million_amount} END AS usd_per_million,
       p.valid_from, p.valid_to
FROM prices p
{joins_p}""",
)

# A change at time t is one of: a row replaced by another at t; a row ending at t with no
# successor (the component fell to 0, or the model became unpriced); a row starting at t
# with no predecessor, after the model's first observation (from 0, or from unpriced).
PRICE_CHANGES = View(
    "price_changes",
    """WITH c AS (
  SELECT o.model_id, o.component, o.valid_to AS changed_at,
         o.amount AS old_amount, o.dynamic AS old_dynamic,
         n.amount AS new_amount, n.dynamic AS new_dynamic
  FROM prices o
  JOIN prices n
    ON n.model_id = o.model_id AND n.component = o.component AND n.valid_from = o.valid_to
  UNION ALL
  SELECT o.model_id, o.component, o.valid_to, o.amount, o.dynamic,
         CASE WHEN mv.priced THEN {zero} END, FALSE
  FROM prices o
  JOIN model_versions mv ON mv.model_id = o.model_id AND mv.valid_from <= o.valid_to
   AND (mv.valid_to IS NULL OR mv.valid_to > o.valid_to)
  WHERE o.valid_to IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM prices n
    WHERE n.model_id = o.model_id AND n.component = o.component AND n.valid_from = o.valid_to)
  UNION ALL
  SELECT n.model_id, n.component, n.valid_from, CASE WHEN mv.priced THEN {zero} END, FALSE,
         n.amount, n.dynamic
  FROM prices n
  JOIN models seen ON seen.id = n.model_id AND n.valid_from > seen.first_seen_at
  JOIN model_versions mv ON mv.model_id = n.model_id AND mv.valid_from < n.valid_from
   AND (mv.valid_to IS NULL OR mv.valid_to >= n.valid_from)
  WHERE NOT EXISTS (
    SELECT 1 FROM prices o
    WHERE o.model_id = n.model_id AND o.component = n.component AND o.valid_to = n.valid_from)
)
SELECT pr.name AS provider, m.model, v.name AS vendor, c.component, {unit_c} AS unit,
       c.changed_at, c.old_amount, c.new_amount, c.old_dynamic, c.new_dynamic,
       CASE WHEN c.component IN ({tokens}) THEN {million_old} END AS old_per_million,
       CASE WHEN c.component IN ({tokens}) THEN {million_new} END AS new_per_million,
       CASE WHEN {old_is_nonzero} THEN {percent} END AS percent,
       {age_days} AS age_days
FROM c
{joins_c}""",
)

AVAILABILITY_INTERVALS = View(
    "availability_intervals",
    """SELECT pr.name AS provider, m.model, v.name AS vendor,
       a.valid_from AS available_from, a.valid_to AS available_until,
       CASE WHEN a.valid_to IS NULL THEN pr.last_observed_at ELSE a.last_seen_at END
         AS last_seen_at
FROM model_availability a
{joins_a}""",
)

OBSERVATIONS = View(
    "observations",
    """SELECT id AS run_id, observed_at, {day} AS observed_on, {month} AS month, source,
       models_seen, added, removed, returned, versions_written, price_changes
FROM sync_runs
WHERE status = 'succeeded'""",
)

# Per-version links, through the version's capability set (see etl.db.tables.CapabilitySet).
VERSION_MODALITIES = View(
    "model_version_modalities",
    """SELECT mv.id AS model_version_id, c.direction, c.modality_id
FROM model_versions mv
JOIN capability_modalities c ON c.capability_set_id = mv.capability_set_id""",
)

VERSION_PARAMETERS = View(
    "model_version_parameters",
    """SELECT mv.id AS model_version_id, c.parameter_id
FROM model_versions mv
JOIN capability_parameters c ON c.capability_set_id = mv.capability_set_id""",
)

VERSION_CATEGORIES = View(
    "model_version_categories",
    """SELECT mv.id AS model_version_id, c.category_id
FROM model_versions mv
JOIN capability_categories c ON c.capability_set_id = mv.capability_set_id""",
)

ANALYST_VIEWS: Final = (
    VERSION_MODALITIES,
    VERSION_PARAMETERS,
    VERSION_CATEGORIES,
    CURRENT_MODELS,
    CURRENT_PRICES,
    PRICE_HISTORY,
    PRICE_CHANGES,
    AVAILABILITY_INTERVALS,
    OBSERVATIONS,
)
"""The views of revision 0002, in creation order."""
