"""What one ``serve`` runs: the sync each tick makes (:class:`SyncJob`) and the service's own
settings (:class:`ServiceConfig`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from etl.config import DEFAULT_CATALOG
from etl.ingest.fetch import FetchSettings, safe_url
from etl.ingest.shapes import DEFAULT_PROVIDER
from etl.notify.subscriptions import Subscription
from etl.pipeline import (
    DEFAULT_MASS_REMOVAL_FLOOR,
    DEFAULT_MAX_CLOCK_SKEW,
    DEFAULT_MAX_REMOVED_SHARE,
)
from etl.service.metrics import Metrics
from etl.service.schedules import Schedule
from etl.service.status import HEARTBEAT_SECONDS

DEFAULT_GRACE_PERIOD = 30.0


@dataclass(frozen=True)
class SyncJob:
    """What each tick syncs, and how (the same settings as ``catalog-etl sync --url``)."""

    url: str
    token: str | None = field(default=None, repr=False)
    catalog: str = DEFAULT_CATALOG
    fetch_settings: FetchSettings = field(default_factory=FetchSettings)
    provider: str = DEFAULT_PROVIDER
    max_removed_share: float | None = DEFAULT_MAX_REMOVED_SHARE
    mass_removal_floor: int = DEFAULT_MASS_REMOVAL_FLOOR
    max_clock_skew: float = DEFAULT_MAX_CLOCK_SKEW
    subscriptions: Sequence[Subscription] = ()
    """Who hears of each sync's changes: written to the outbox with the sync, delivered by
    the service's notifier."""

    @property
    def shown_url(self) -> str:
        shown = safe_url(self.url)
        return shown.replace(self.token, "***") if self.token else shown


@dataclass
class ServiceConfig:
    database_url: str = field(repr=False)
    schedule: Schedule
    job: SyncJob
    run_now: bool = False
    migrate: bool = False
    grace_period: float = DEFAULT_GRACE_PERIOD
    heartbeat_interval: float = HEARTBEAT_SECONDS
    metrics: Metrics | None = None
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"
