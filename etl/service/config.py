"""What one ``serve`` runs: the sync each tick makes (:class:`SyncJob`), on which schedule
(:class:`CatalogJob`, one per catalog), and the service's own settings (:class:`ServiceConfig`)."""

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


@dataclass(frozen=True)
class CatalogJob:
    """One catalog a service keeps in sync: what each tick syncs, and when."""

    job: SyncJob
    schedule: Schedule

    @property
    def name(self) -> str:
        return self.job.catalog


@dataclass
class ServiceConfig:
    """A service of one catalog (``serve --url``: ``schedule`` and ``job``) or of several
    (``serve --config``: ``catalogs``, each on its own schedule)."""

    database_url: str = field(repr=False)
    schedule: Schedule | None = None
    job: SyncJob | None = None
    catalogs: Sequence[CatalogJob] = ()
    run_now: bool = False
    migrate: bool = False
    grace_period: float = DEFAULT_GRACE_PERIOD
    heartbeat_interval: float = HEARTBEAT_SECONDS
    metrics: Metrics | None = None
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"

    def __post_init__(self) -> None:
        if (self.job is None) == (not self.catalogs):
            raise ValueError("a service runs either one job (with its schedule) or catalogs")
        if self.job is not None and self.schedule is None:
            raise ValueError("the job needs a schedule")
        names = [entry.name for entry in self.catalogs]
        if len(set(names)) != len(names):
            raise ValueError("each catalog may be served once")

    @property
    def jobs(self) -> tuple[CatalogJob, ...]:
        """Every catalog served, with its schedule."""
        if self.job is not None and self.schedule is not None:
            return (CatalogJob(self.job, self.schedule),)
        return tuple(self.catalogs)

    @property
    def named(self) -> bool:
        """Whether log lines and metrics name each run's catalog: a service given catalogs
        (a configuration file) does; ``serve --url`` keeps its single-catalog output."""
        return bool(self.catalogs)

    @property
    def schedule_text(self) -> str:
        """As stored in ``services.schedule``: ``every 1h``, or for catalogs each one's
        (``insforge: every 1h; litellm: cron 17 * * * * (UTC)``)."""
        if not self.named:
            return self.jobs[0].schedule.description
        return "; ".join(f"{entry.name}: {entry.schedule.description}" for entry in self.jobs)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every catalog's subscriptions, each once: the notifier delivers them all."""
        seen: dict[str, Subscription] = {}
        for entry in self.jobs:
            for subscription in entry.job.subscriptions:
                seen.setdefault(subscription.name, subscription)
        return tuple(seen.values())
