"""The relational schema: current state, dated history, runs and the raw payload archive.

History follows one pattern (SCD type 2): a row is valid from the observation that first
showed it (``valid_from``) until the observation that showed something else
(``valid_to``; NULL while current). The state as of time T is every row with
``valid_from <= T`` and ``valid_to`` NULL or ``> T``. Partial unique indexes make two
current rows for one thing impossible; check constraints forbid empty or inverted intervals.

Plain SQLAlchemy Core tables: catalog-etl works on sets of rows and maps no objects, and
leaving the ORM out saves every command a fifth of a second of start-up.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.schema import SchemaItem

from etl.db.types import ExactDecimal, JSONDocument, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_COUNTS = ("models_seen", "added", "removed", "returned", "versions_written", "price_changes")
"""What a sync counts: columns of ``sync_runs``, fields of every report of a run."""
NOTIFICATION_STATUSES = ("pending", "delivered")
"""``pending`` until a destination accepted it (retried with backoff, in order), then
``delivered``."""
RUN_STATUSES = ("running", "succeeded", "failed", "held", "skipped", "forgotten")
"""``skipped``: another sync held the lock (or another replica claimed the tick), so this
one did nothing; ``forgotten``: an observation taken back out of the history by an operator
(``catalog-etl runs forget``), its payload still archived."""
DIRECTIONS = ("input", "output")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

Id = BigInteger().with_variant(Integer(), "sqlite")
"""The key of a table that grows with time: 64 bits. On SQLite an ``INTEGER PRIMARY KEY`` is
already 64 bits, and must be spelled INTEGER to stay the rowid."""


def _current_unique(table: str, *columns: str) -> Index:
    """At most one current (``valid_to IS NULL``) row per key."""
    where = text("valid_to IS NULL")
    return Index(
        f"uq_{table}_current",
        *columns,
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def _interval_check() -> CheckConstraint:
    return CheckConstraint("valid_to IS NULL OR valid_from < valid_to", name="interval")


def _in(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")", name=name)


payloads_table = Table(
    "payloads",
    metadata,
    # A raw catalog payload exactly as received, stored once per sha256, compressed: a zstd
    # frame of its own (``zstd``; older rows ``gzip``), or a zstd frame of the difference from
    # another payload, its base (``zstd-delta``; see etl.store.archive).
    Column("sha256", String(64), primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("compression", String(16), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
    # The payload a delta is taken against: it cannot be deleted while this row needs it.
    Column("base_sha256", String(64), ForeignKey("payloads.sha256")),
    # Frames to decompress to read this one: 0 for a frame of its own, the base's + 1.
    Column("depth", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(
        "(base_sha256 IS NULL AND depth = 0) OR (base_sha256 IS NOT NULL AND depth > 0)",
        name="base_depth",
    ),
)

catalogs_table = Table(
    "catalogs",
    metadata,
    # A named source of observations (an InsForge instance, OpenRouter's list, LiteLLM's
    # price map): each has its own runs, providers and history. ``default`` until named.
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

sync_runs_table = Table(
    "sync_runs",
    metadata,
    # One attempt to sync, whatever its outcome. Data rows point at the run that wrote them.
    Column("id", Id, primary_key=True),
    Column("catalog_id", Integer, ForeignKey("catalogs.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", Text),  # file path or URL (credentials removed)
    # Provider name given to OpenRouter-shaped payloads, which do not name one.
    Column("default_provider", Text, nullable=False),
    Column("observed_at", UTCDateTime),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("shape", String(32)),
    Column("http_status", Integer),
    Column("attempts", Integer),
    Column("bytes", BigInteger),
    Column("payload_sha256", String(64)),
    *(Column(count, Integer, nullable=False, default=0) for count in RUN_COUNTS),
    Column("warnings", JSONDocument, nullable=False, default=list),
    Column("error", Text),
    # The providers the applied catalog spoke for: {"openrouter": true} (configured).
    Column("providers", JSONDocument),
    # The normalization that derived the rows of a succeeded run (see etl.ingest.normalize).
    Column("normalization_version", Integer),
    # Providers whose part of the catalog the mass-removal guard held (kept as they were),
    # with the reason: {"openrouter": "would remove 40 of 300 ..."}; NULL when none.
    Column("held_providers", JSONDocument),
    # The scheduled tick a `serve` replica claimed for this run: one run per tick and catalog.
    Column("tick_at", UTCDateTime),
    _in("status", RUN_STATUSES, "status"),
    Index("ix_sync_runs_catalog_id_status_observed_at", "catalog_id", "status", "observed_at"),
    Index(
        "uq_sync_runs_catalog_id_tick_at",
        "catalog_id",
        "tick_at",
        unique=True,
        sqlite_where=text("tick_at IS NOT NULL"),
        postgresql_where=text("tick_at IS NOT NULL"),
    ),
)

services_table = Table(
    "services",
    metadata,
    # A running `catalog-etl serve`: its schedule and heartbeat, for `catalog-etl status`.
    Column("id", Id, primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    # The trigger as given: "every 1h" or "cron 17 * * * * (UTC)".
    Column("schedule", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("next_run_at", UTCDateTime),
    Column("stopped_at", UTCDateTime),
)

notifications_table = Table(
    "notifications",
    metadata,
    # The outbox: one message per sync and subscription, written in the sync's transaction,
    # delivered after its commit. The destination URL is not stored (it may hold a secret):
    # the subscription's name finds it in the running configuration.
    Column("id", Id, primary_key=True),
    Column("subscription", String(255), nullable=False),
    Column("sync_run_id", Id, ForeignKey("sync_runs.id"), nullable=False),
    # Sent with the message, so that a receiver can drop a redelivery.
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("body", JSONDocument, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    # A process delivering the message holds it until lease_until: never two at once.
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    _in("status", NOTIFICATION_STATUSES, "status"),
    Index("ix_notifications_subscription_status_id", "subscription", "status", "id"),
)

providers_table = Table(
    "providers",
    metadata,
    # A gateway as one catalog lists it (openrouter): two catalogs that both list openrouter
    # have a provider each, so their models are two series, never one.
    Column("id", Integer, primary_key=True),
    Column("catalog_id", Integer, ForeignKey("catalogs.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    # The latest observation of its complete catalog (configured): when each of its available
    # models was last seen. One row to update per sync, not one per model.
    Column("last_observed_at", UTCDateTime),
    UniqueConstraint("catalog_id", "name"),
)

provider_states_table = Table(
    "provider_states",
    metadata,
    # History of a provider's `configured` flag (false: an InsForge gateway without a key).
    Column("id", Id, primary_key=True),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False),
    Column("configured", Boolean, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_to", UTCDateTime),
    Column("sync_run_id", Id, ForeignKey("sync_runs.id"), nullable=False),
    _interval_check(),
    _current_unique("provider_states", "provider_id"),
)

vendors_table = Table(
    "vendors",
    metadata,
    # The model's author, from its id prefix (openai in openai/gpt-4o).
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
)

models_table = Table(
    "models",
    metadata,
    # A model of one provider. Identity is (provider, model id); nothing here is ever deleted.
    Column("id", Id, primary_key=True),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False),
    Column("model", String(255), nullable=False),  # the upstream id, e.g. openai/gpt-4o
    # What matches the same model across catalogs (etl.ingest.match): openai/gpt-4o.
    Column("match_key", String(512), nullable=False),
    Column("vendor_id", Integer, ForeignKey("vendors.id"), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    # Listed now. Last seen: its provider's last_observed_at while available, else the
    # last_seen_at of its latest availability interval (the views spell it out).
    Column("available", Boolean, nullable=False),
    # Fingerprint (XXH3-128) of the last record applied, as received: an equal one means
    # nothing to do, without even validating the record again. A cache: empty means
    # "validate the next record" (a rewind of the history clears the ones set after it).
    Column("source_hash", String(64), nullable=False),
    # The observation that set source_hash.
    Column("source_hash_at", UTCDateTime),
    UniqueConstraint("provider_id", "model"),
    Index("ix_models_match_key", "match_key"),
)

model_versions_table = Table(
    "model_versions",
    metadata,
    # Every scalar attribute of a model, one row per distinct state.
    Column("id", Id, primary_key=True),
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sync_run_id", Id, ForeignKey("sync_runs.id"), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_to", UTCDateTime),
    Column("content_hash", String(64), nullable=False),
    # Its modalities, supported parameters and categories.
    Column("capability_set_id", Id, ForeignKey("capability_sets.id"), nullable=False),
    Column("name", Text),
    Column("description", Text),
    Column("created", BigInteger),  # upstream `created`, Unix seconds as sent
    Column("context_length", BigInteger),
    Column("canonical_slug", Text),
    Column("hugging_face_id", Text),
    Column("modality", Text),
    Column("tokenizer", Text),
    Column("instruct_type", Text),
    Column("top_provider_context_length", BigInteger),
    Column("max_completion_tokens", BigInteger),
    Column("is_moderated", Boolean),
    # False when the model came without a pricing block: unpriced, not free.
    Column("priced", Boolean, nullable=False),
    Column("pricing_discount", ExactDecimal),
    Column("pricing_overrides", JSONDocument),
    # Fields catalog-etl has no column for, kept as sent.
    Column("extra", JSONDocument, nullable=False, default=dict),
    UniqueConstraint("model_id", "version"),
    _interval_check(),
    _current_unique("model_versions", "model_id"),
    Index("ix_model_versions_valid_from", "valid_from"),
    Index("ix_model_versions_valid_to", "valid_to"),
)


def _names(name: str) -> Table:
    """A vocabulary: modality, category or parameter names, each stored once."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(255), nullable=False, unique=True),
    )


modalities_table = _names("modalities")
categories_table = _names("categories")
parameters_table = _names("parameters")

capability_sets_table = Table(
    "capability_sets",
    metadata,
    # One distinct combination of input and output modalities, supported parameters and
    # categories. Versions share them (a catalog has a few hundred combinations for thousands
    # of models), so a new version costs one id instead of a dozen link rows. The views
    # model_version_modalities, model_version_parameters and model_version_categories give
    # the same facts per version.
    Column("id", Id, primary_key=True),
    # sha256 of the four sorted lists: equal digest, same set.
    Column("digest", String(64), nullable=False, unique=True),
)


def _capability_link(name: str, *items: SchemaItem) -> Table:
    """A capability set's link to one vocabulary."""
    return Table(
        name,
        metadata,
        Column("capability_set_id", Id, ForeignKey("capability_sets.id"), primary_key=True),
        *items,
    )


capability_modalities_table = _capability_link(
    "capability_modalities",
    Column("direction", String(6), primary_key=True),
    Column("modality_id", Integer, ForeignKey("modalities.id"), primary_key=True),
    _in("direction", DIRECTIONS, "direction"),
)
capability_categories_table = _capability_link(
    "capability_categories",
    Column("category_id", Integer, ForeignKey("categories.id"), primary_key=True),
)
capability_parameters_table = _capability_link(
    "capability_parameters",
    Column("parameter_id", Integer, ForeignKey("parameters.id"), primary_key=True),
)

prices_table = Table(
    "prices",
    metadata,
    # One price component of one model: an exact amount per unit, or dynamic. Only components
    # with a non-zero effective price have rows: inside a pricing block an absent component
    # costs 0. A model without a pricing block (`priced` false on its version) has no rows.
    Column("id", Id, primary_key=True),
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    Column("component", String(64), nullable=False),
    Column("amount", ExactDecimal),  # USD per unit (token, request, image ...), exact
    # Priced per request by the router (sent as "-1").
    Column("dynamic", Boolean, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_to", UTCDateTime),
    Column("sync_run_id", Id, ForeignKey("sync_runs.id"), nullable=False),
    _interval_check(),
    _current_unique("prices", "model_id", "component"),
    CheckConstraint(
        "(dynamic AND amount IS NULL) OR (NOT dynamic AND amount IS NOT NULL)",
        name="amount_or_dynamic",
    ),
    Index("ix_prices_model_id_component_valid_from", "model_id", "component", "valid_from"),
    Index("ix_prices_valid_from", "valid_from"),
    Index("ix_prices_valid_to", "valid_to"),
)

model_availability_table = Table(
    "model_availability",
    metadata,
    # Intervals during which a model was listed by its provider.
    Column("id", Id, primary_key=True),
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    # The first observation that no longer listed the model.
    Column("valid_to", UTCDateTime),
    # The last observation that listed it, set when the interval closes.
    Column("last_seen_at", UTCDateTime),
    Column("sync_run_id", Id, ForeignKey("sync_runs.id"), nullable=False),
    _interval_check(),
    _current_unique("model_availability", "model_id"),
    Index("ix_model_availability_model_id_valid_from", "model_id", "valid_from"),
)
