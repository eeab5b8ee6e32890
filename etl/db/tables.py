"""The relational schema: current state, dated history, runs and the raw payload archive.

History follows one pattern (SCD type 2): a row is valid from the observation that first
showed it (``valid_from``) until the observation that showed something else
(``valid_to``; NULL while current). The state as of time T is every row with
``valid_from <= T`` and ``valid_to`` NULL or ``> T``. Partial unique indexes make two
current rows for one thing impossible; check constraints forbid empty or inverted intervals.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
RUN_STATUSES = ("running", "succeeded", "failed", "held", "skipped")
"""``skipped``: another sync held the lock, so this one did nothing."""
DIRECTIONS = ("input", "output")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        Decimal: ExactDecimal,
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
        str: Text,
    }


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


class Payload(Base):
    """A raw catalog payload exactly as received, gzip-compressed, stored once per sha256."""

    __tablename__ = "payloads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime]


class SyncRun(Base):
    """One attempt to sync, whatever its outcome. Data rows point at the run that wrote them."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in RUN_STATUSES) + ")", name="status"
        ),
        Index("ix_sync_runs_status_observed_at", "status", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None]
    """File path or URL (credentials removed)."""
    default_provider: Mapped[str]
    """Provider name given to OpenRouter-shaped payloads, which do not name one."""
    observed_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    shape: Mapped[str | None] = mapped_column(String(32))
    http_status: Mapped[int | None]
    attempts: Mapped[int | None]
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    models_seen: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    versions_written: Mapped[int] = mapped_column(default=0)
    price_changes: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None]
    providers: Mapped[dict[str, Any] | None]
    """The providers the applied catalog spoke for: ``{"openrouter": true}`` (configured)."""
    normalization_version: Mapped[int | None]
    """The normalization that derived the rows of a succeeded run (see etl.normalize)."""


class Service(Base):
    """A running ``catalog-etl serve``: its schedule and heartbeat, for ``catalog-etl status``."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    schedule: Mapped[str]
    """The trigger as given: ``every 1h`` or ``cron 17 * * * * (UTC)``."""
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    next_run_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]


class Provider(Base):
    """A gateway whose catalog is synced (``openrouter``)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    first_seen_at: Mapped[datetime]
    last_observed_at: Mapped[datetime | None]
    """The latest observation of its complete catalog (configured): when each of its available
    models was last seen. One row to update per sync, not one per model."""


class ProviderState(Base):
    """History of a provider's ``configured`` flag (false: an InsForge gateway without a key)."""

    __tablename__ = "provider_states"
    __table_args__ = (_interval_check(), _current_unique("provider_states", "provider_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    configured: Mapped[bool]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"))


class Vendor(Base):
    """The model's author, from its id prefix (``openai`` in ``openai/gpt-4o``)."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Model(Base):
    """A model of one provider. Identity is (provider, model id); nothing here is ever deleted."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("provider_id", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    model: Mapped[str] = mapped_column(String(255))
    """The upstream id, e.g. ``openai/gpt-4o``."""
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    first_seen_at: Mapped[datetime]
    available: Mapped[bool]
    """Listed now. Last seen: its provider's ``last_observed_at`` while available, else the
    ``last_seen_at`` of its latest availability interval (the views spell it out)."""
    source_hash: Mapped[str] = mapped_column(String(64))
    """Fingerprint (XXH3-128) of the last record applied, as received: an equal one means
    nothing to do, without even validating the record again."""


class ModelVersion(Base):
    """Every scalar attribute of a model, one row per distinct state."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        _interval_check(),
        _current_unique("model_versions", "model_id"),
        Index("ix_model_versions_valid_from", "valid_from"),
        Index("ix_model_versions_valid_to", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int]
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    capability_set_id: Mapped[int] = mapped_column(ForeignKey("capability_sets.id"))
    """Its modalities, supported parameters and categories."""
    name: Mapped[str | None]
    description: Mapped[str | None]
    created: Mapped[int | None] = mapped_column(BigInteger)
    """Upstream ``created``, Unix seconds as sent."""
    context_length: Mapped[int | None] = mapped_column(BigInteger)
    canonical_slug: Mapped[str | None]
    hugging_face_id: Mapped[str | None]
    modality: Mapped[str | None]
    tokenizer: Mapped[str | None]
    instruct_type: Mapped[str | None]
    top_provider_context_length: Mapped[int | None] = mapped_column(BigInteger)
    max_completion_tokens: Mapped[int | None] = mapped_column(BigInteger)
    is_moderated: Mapped[bool | None]
    priced: Mapped[bool]
    """False when the model came without a pricing block: unpriced, not free."""
    pricing_discount: Mapped[Decimal | None]
    pricing_overrides: Mapped[list[Any] | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Fields catalog-etl has no column for, kept as sent."""


class Modality(Base):
    __tablename__ = "modalities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Parameter(Base):
    __tablename__ = "parameters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class CapabilitySet(Base):
    """One distinct combination of input and output modalities, supported parameters and
    categories. Versions share them (a catalog has a few hundred combinations for thousands
    of models), so a new version costs one id instead of a dozen link rows. The views
    ``model_version_modalities``, ``model_version_parameters`` and
    ``model_version_categories`` give the same facts per version."""

    __tablename__ = "capability_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    """sha256 of the four sorted lists: equal digest, same set."""


class CapabilityModality(Base):
    __tablename__ = "capability_modalities"
    __table_args__ = (
        CheckConstraint(
            "direction IN (" + ", ".join(f"'{d}'" for d in DIRECTIONS) + ")", name="direction"
        ),
    )

    capability_set_id: Mapped[int] = mapped_column(
        ForeignKey("capability_sets.id"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(String(6), primary_key=True)
    modality_id: Mapped[int] = mapped_column(ForeignKey("modalities.id"), primary_key=True)


class CapabilityCategory(Base):
    __tablename__ = "capability_categories"

    capability_set_id: Mapped[int] = mapped_column(
        ForeignKey("capability_sets.id"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)


class CapabilityParameter(Base):
    __tablename__ = "capability_parameters"

    capability_set_id: Mapped[int] = mapped_column(
        ForeignKey("capability_sets.id"), primary_key=True
    )
    parameter_id: Mapped[int] = mapped_column(ForeignKey("parameters.id"), primary_key=True)


class Price(Base):
    """One price component of one model: an exact amount per unit, or dynamic.

    Only components with a non-zero effective price have rows: inside a pricing block an
    absent component costs ``0``. A model without a pricing block (``priced`` false on its
    version) has no rows at all.
    """

    __tablename__ = "prices"
    __table_args__ = (
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

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    component: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal | None]
    """USD per unit (token, request, image ...), exact."""
    dynamic: Mapped[bool]
    """Priced per request by the router (sent as ``"-1"``)."""
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"))


class Availability(Base):
    """Intervals during which a model was listed by its provider."""

    __tablename__ = "model_availability"
    __table_args__ = (
        _interval_check(),
        _current_unique("model_availability", "model_id"),
        Index("ix_model_availability_model_id_valid_from", "model_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    """The first observation that no longer listed the model."""
    last_seen_at: Mapped[datetime | None]
    """The last observation that listed it, set when the interval closes."""
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"))
