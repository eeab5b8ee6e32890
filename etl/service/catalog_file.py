"""``serve --config FILE``: the catalogs one service keeps in sync, read from a TOML file::

    [defaults]                          # optional: applied to every catalog
    every = "1h"

    [catalogs.insforge]
    url = "https://gateway.example/api/ai/models"
    token_env = "INSFORGE_TOKEN"        # or token_file = "/run/secrets/insforge"
    cron = "17 * * * *"                 # the catalog's own schedule wins over [defaults]'
    max_removed_share = 0.1

    [catalogs.litellm]
    url = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"

A catalog's keys are the settings of ``sync --url`` and of the schedule, by the names of
:class:`etl.config.Settings` (``url`` is ``source_url``, ``token_file`` ``api_token_file``),
and each value is read by that one parser: a duration is ``"1h"`` or a number of seconds, a
number may be written as TOML's or as text. The catalog's table wins over ``[defaults]``;
``CATALOG_ETL_*`` variables are not read for them (the file says everything about each
catalog). A relative ``token_file`` or ``subscriptions`` path is relative to the file.

The token is never in the file: ``token_env`` names the environment variable holding it,
``token_file`` the file. Anything else is refused before serve starts, in one line naming
the file, the catalog and the key: a literal ``token``, an unknown key, a bad value, a bad
catalog name, no url, no schedule, a token variable that is unset or a token file that
cannot be read or is empty (a catalog configured with a token must not quietly be synced
without one).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etl.config import Settings, SettingsError, check_catalog_name
from etl.service.schedules import Schedule, ScheduleError, parse_timezone, schedule_of

KEYS: dict[str, str] = {
    "url": "source_url",
    "token_file": "api_token_file",
    **{
        name: name
        for name in (
            "every",
            "cron",
            "timezone",
            "jitter",
            "provider",
            "timeout",
            "retries",
            "max_bytes",
            "max_removed_share",
            "mass_removal_floor",
            "max_clock_skew",
            "allow_insecure_http",
            "notify",
            "subscriptions",
        )
    },
}
"""Each key of a catalog's table, and the setting it gives (besides ``token_env``)."""
TOKEN_KEYS = ("token_env", "token_file")
ONE_CATALOG_KEYS = frozenset({"url", *TOKEN_KEYS})
"""Keys that say what one catalog is: never in ``[defaults]`` (one gateway's token must not
reach every other)."""
SCHEDULE_KEYS = ("every", "cron")
_SECRET_KEYS = frozenset({"token", "api_token", "bearer", "password", "secret"})
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
_SETTINGS = {setting.name: setting for setting in fields(Settings)}
_TEXT_TYPES = ("str", "str | None", "Path | None")
"""Settings given as TOML strings only (a number there is a mistake, not a value)."""


class CatalogFileError(SettingsError):
    """A configuration file that cannot be served; the message names the file, the catalog
    and the key, and never shows a token."""


@dataclass(frozen=True)
class CatalogSettings:
    """One catalog of the file: its settings (no token among them), its token and its
    schedule."""

    name: str
    settings: Settings
    schedule: Schedule
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None
    """The variable the token came from, if it came from one."""


def load_catalogs(path: Path, environ: Mapping[str, str] | None = None) -> list[CatalogSettings]:
    """Every catalog of the file at ``path``, in its order; ``environ`` (the process's
    environment) holds the variables ``token_env`` names. Raises :class:`CatalogFileError`."""
    environ = os.environ if environ is None else environ
    document = _read(path)
    unknown = sorted(set(document) - {"defaults", "catalogs"})
    if unknown:
        raise CatalogFileError(
            f"{path}: unknown table or key {unknown[0]!r}: the file holds [defaults] and"
            " [catalogs.NAME] tables"
        )
    defaults = _table(document.get("defaults", {}), f"{path}: [defaults]")
    _check_keys(defaults, f"{path}: [defaults]", in_defaults=True)
    catalogs = _table(document.get("catalogs", {}), f"{path}: [catalogs]")
    if not catalogs:
        raise CatalogFileError(
            f"{path}: no catalogs: add a [catalogs.NAME] table with its url and schedule"
        )
    return [_catalog(path, name, table, defaults, environ) for name, table in catalogs.items()]


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise CatalogFileError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        # tomllib names the line and column, never the text there (a token, perhaps).
        raise CatalogFileError(f"{path} is not valid TOML: {error}") from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogFileError(f"{where} must be a table")
    return value


def _check_keys(table: Mapping[str, Any], where: str, *, in_defaults: bool = False) -> None:
    for key in table:
        if key in _SECRET_KEYS:
            raise CatalogFileError(
                f"{where}: {key}: a secret does not belong in the file; give token_env ="
                ' "VARIABLE" (the environment variable holding the token) or token_file ='
                ' "/run/secrets/NAME"'
            )
        if key not in KEYS and key != "token_env":
            raise CatalogFileError(
                f"{where}: unknown key {key!r}; the keys are"
                f" {', '.join(sorted([*KEYS, 'token_env']))}"
            )
        if in_defaults and key in ONE_CATALOG_KEYS:
            raise CatalogFileError(
                f"{where}: {key} belongs to one catalog: give it in each [catalogs.NAME] table"
            )
    both = [key for key in SCHEDULE_KEYS if key in table]
    if len(both) == 2:
        raise CatalogFileError(f"{where}: give either every or cron, not both")
    if all(key in table for key in TOKEN_KEYS):
        raise CatalogFileError(f"{where}: give either token_env or token_file, not both")


def _catalog(
    path: Path, name: str, table: Any, defaults: Mapping[str, Any], environ: Mapping[str, str]
) -> CatalogSettings:
    try:
        check_catalog_name(name)
    except ValueError as error:
        raise CatalogFileError(f"{path}: [catalogs.{name}]: {error}") from None
    where = f"{path}: catalog {name!r}"
    table = _table(table, where)
    _check_keys(table, where)
    own_schedule = any(key in table for key in SCHEDULE_KEYS)
    merged = {
        key: value
        for key, value in defaults.items()
        if not (own_schedule and key in SCHEDULE_KEYS)  # the catalog's own schedule wins
    }
    merged.update(table)
    if "url" not in merged:
        raise CatalogFileError(f'{where}: no url: give url = "https://..."')
    url = merged["url"]
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        # Not shown: a URL may carry a key (?api_key=...).
        raise CatalogFileError(f"{where}: url must be an http:// or https:// URL")
    if not any(key in merged for key in SCHEDULE_KEYS):
        raise CatalogFileError(
            f'{where}: no schedule: give every = "1h" or cron = "17 * * * *" (here or in'
            " [defaults])"
        )
    given = {
        KEYS[key]: _text(key, value, path, where) for key, value in merged.items() if key in KEYS
    }
    settings = Settings.from_environment({}, catalog=name, **given)
    return CatalogSettings(
        name,
        settings,
        _schedule(settings, where),
        _token(merged, settings, where, environ),
        merged.get("token_env"),
    )


def _text(key: str, value: Any, path: Path, where: str) -> Any:
    """``value`` as the settings parser reads it (text), checked on its own so that an error
    names its key. Text settings take TOML strings only; a path is relative to the file."""
    name = KEYS[key]
    kind = str(_SETTINGS[name].type)
    if key == "notify" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = " ".join(value)
    if kind in _TEXT_TYPES and not isinstance(value, str):
        raise CatalogFileError(f'{where}: {key} must be text in quotes ("...")')
    if kind == "Path | None":
        value = str(path.parent / Path(value).expanduser())
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    try:
        Settings.from_environment({}, **{name: text})
    except SettingsError as error:
        # The parser names the option the value came from; here it came from this key.
        problem = str(error).removeprefix(f"{error.source} ")
        raise CatalogFileError(f"{where}: {key} {problem}") from None
    return text


def _schedule(settings: Settings, where: str) -> Schedule:
    try:
        zone = parse_timezone(settings.timezone)
    except ScheduleError as error:
        raise CatalogFileError(f"{where}: timezone: {error}") from None
    # Without the jitter first, so that an error names the key at fault.
    for key, jitter in (
        ("every" if settings.every is not None else "cron", None),
        ("jitter", settings.jitter),
    ):
        try:
            schedule = schedule_of(
                every_interval=settings.every,
                cron_expression=settings.cron,
                timezone=zone,
                jitter=jitter,
            )
        except ScheduleError as error:
            raise CatalogFileError(f"{where}: {key}: {error}") from None
    return schedule


def _token(
    table: Mapping[str, Any], settings: Settings, where: str, environ: Mapping[str, str]
) -> str | None:
    """The catalog's token, from the variable ``token_env`` names or from ``token_file``;
    None when it names neither. What it names must hold a token."""
    variable = table.get("token_env")
    if variable is not None:
        if not isinstance(variable, str) or not _VARIABLE.fullmatch(variable):
            # Not echoed: it may be the token itself, written where its variable's name goes.
            raise CatalogFileError(
                f"{where}: token_env must name an environment variable (letters, digits and"
                " _), not hold the token"
            )
        token = environ.get(variable, "").strip()
        if not token:
            shown = variable if _SHOWN_VARIABLE.fullmatch(variable) else "the variable it names"
            raise CatalogFileError(
                f"{where}: token_env: {shown} is unset or empty; set it, or remove token_env"
                " if this catalog needs no token"
            )
        return token
    if settings.api_token_file is None:
        return None
    try:
        from_file = settings.token()
    except SettingsError as error:
        raise CatalogFileError(f"{where}: token_file: {error}") from None
    if from_file is None:
        raise CatalogFileError(f"{where}: token_file: {settings.api_token_file} is empty")
    return from_file
