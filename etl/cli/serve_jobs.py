"""What ``serve`` syncs: the one catalog its options describe, or the catalogs of its
configuration file (``--config``), each built into the same :class:`SyncJob`."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from etl.cli.common import fetch_settings_from, subscriptions_from

if TYPE_CHECKING:
    from etl.config import Settings
    from etl.service.config import CatalogJob, SyncJob

CATALOG_SETTINGS = (
    "catalog",
    "source_url",
    "api_token",
    "api_token_file",
    "provider",
    "timeout",
    "retries",
    "max_bytes",
    "allow_insecure_http",
    "max_removed_share",
    "mass_removal_floor",
    "max_clock_skew",
    "notify",
    "subscriptions",
    "every",
    "cron",
    "timezone",
    "jitter",
)
"""Settings that describe one catalog: with ``--config``, the file gives them."""


class ConfigFileError(click.ClickException):
    """A configuration file serve cannot run: one line, exit 2 (a usage error)."""

    exit_code = 2


def sync_job(settings: Settings, token: str | None) -> SyncJob:
    """What each tick of the catalog these settings describe syncs, and how."""
    from etl.ingest.shapes import DEFAULT_PROVIDER
    from etl.service.config import SyncJob

    assert settings.source_url is not None
    return SyncJob(
        url=settings.source_url,
        catalog=settings.catalog,
        token=token,
        fetch_settings=fetch_settings_from(settings),
        provider=settings.provider or DEFAULT_PROVIDER,
        max_removed_share=settings.max_removed_share,
        mass_removal_floor=settings.mass_removal_floor,
        max_clock_skew=settings.max_clock_skew,
        subscriptions=subscriptions_from(settings),
    )


def refuse_catalog_flags(flags: dict[str, Any]) -> None:
    """With ``--config`` the file describes every catalog: an option that describes one is
    a usage error."""
    from etl.config import Settings, option_name

    declared = {setting.name: setting for setting in fields(Settings)}
    for name in CATALOG_SETTINGS:
        if flags.get(name) is not None:
            option = option_name(declared[name])
            raise click.UsageError(
                f"{option} describes one catalog: with --config give it in the file"
                " ([defaults] or a [catalogs.NAME] table)"
            )


def file_catalogs(path: Path) -> tuple[list[CatalogJob], set[str]]:
    """The catalogs of the file at ``path``, each with its job and schedule, and the
    variables their tokens came from. Raises :class:`ConfigFileError` for anything that
    stops serve from starting."""
    from etl.config import SettingsError
    from etl.service.catalog_file import CatalogFileError, load_catalogs
    from etl.service.config import CatalogJob

    try:
        catalogs = load_catalogs(path)
    except CatalogFileError as error:
        raise ConfigFileError(str(error)) from None
    jobs = []
    for catalog in catalogs:
        try:
            job = sync_job(catalog.settings, catalog.token)
        except SettingsError as error:  # its subscriptions
            raise ConfigFileError(f"{path}: catalog {catalog.name!r}: {error}") from None
        # A 401's hint names where this catalog's token comes from, not the service's.
        source = catalog.token_env or f"{path}: catalog {catalog.name!r}: token_file"
        job = replace(job, fetch_settings=replace(job.fetch_settings, token_source=source))
        jobs.append(CatalogJob(job, catalog.schedule))
    _check_subscriptions(path, jobs)
    return jobs, {catalog.token_env for catalog in catalogs if catalog.token_env}


def _check_subscriptions(path: Path, jobs: list[CatalogJob]) -> None:
    """One service delivers every catalog's messages: a subscription name must mean the
    same destination and filter in every catalog that uses it."""
    seen: dict[str, tuple[str, Any]] = {}
    for entry in jobs:
        for subscription in entry.job.subscriptions:
            first = seen.setdefault(subscription.name, (entry.name, subscription))
            if first[1] != subscription:
                raise ConfigFileError(
                    f"{path}: catalogs {first[0]!r} and {entry.name!r} both have a"
                    f" subscription named {subscription.name!r}, each different: name them"
                    " apart"
                )


def ignored_variables(settings: Settings, token_variables: set[str]) -> list[str]:
    """The ``CATALOG_ETL_*`` variables about one catalog that are set, which ``--config``
    does not read (but for a token variable a catalog names in ``token_env``)."""
    from etl.config import Settings, variable_name

    defaults = Settings()
    return [
        variable_name(name)
        for name in CATALOG_SETTINGS
        if getattr(settings, name) != getattr(defaults, name)
        and variable_name(name) not in token_variables
    ]
