"""Settings from the environment (``CATALOG_ETL_*``), overridable by command-line flags.

Plain data with its own small parser: every command reads its settings before doing
anything, and a settings library would cost each one a fifth of a second of start-up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///catalog.db"
ENV_PREFIX = "CATALOG_ETL_"

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(ValueError):
    """A setting that cannot be used: a value that does not parse or is out of range, or an
    unreadable token file. The message names the setting and never shows a secret."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything catalog-etl can be told. Secrets never appear in ``repr`` or logs.

    ``Settings(...)`` holds the values given and the defaults;
    :meth:`from_environment` reads ``CATALOG_ETL_<NAME>`` for the ones not given.
    """

    # repr=False: a database URL may carry a password.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    """SQLAlchemy URL. ``postgresql://`` uses psycopg 3."""

    source_url: str | None = None
    """Where ``sync`` fetches the catalog when neither ``--file`` nor ``--url`` is given."""

    api_token: str | None = field(default=None, repr=False)
    """Sent as ``Authorization: Bearer ...``; never printed or stored."""

    api_token_file: Path | None = None
    """A file holding the token (a container secret); used when ``api_token`` is unset."""

    timeout: float = 110.0
    """Seconds for a whole fetch, every retry and pause included."""

    retries: int = 4
    """Extra attempts after a failed request that may succeed later (timeouts, 429, 5xx)."""

    max_bytes: int = 64 * 1024 * 1024
    """Largest catalog accepted once decompressed (HTTP bodies, all pages together, and
    ``.json.gz`` files): more is refused as a possible decompression bomb."""

    max_removed_share: float = 0.25
    """Hold a provider whose catalog would retire more than this share of its models..."""

    mass_removal_floor: int = 5
    """...and at least this many of them (fewer never holds)."""

    max_clock_skew: float = 300.0
    """Seconds an observation may lie in the future; further, it is refused."""

    lock_timeout: float = 0.0
    """Seconds a sync waits for another one to finish before it is skipped."""

    allow_insecure_http: bool = False
    """Allow plain http:// to hosts other than loopback."""

    provider: str | None = None
    """Provider name for OpenRouter-shaped catalogs, which name none (``serve``; default
    ``openrouter``)."""

    def __post_init__(self) -> None:
        _check(self.timeout > 0, "timeout", "must be more than 0 seconds")
        _check(self.retries >= 0, "retries", "must not be negative")
        _check(self.max_bytes > 0, "max_bytes", "must be more than 0")
        _check(0 <= self.max_removed_share <= 1, "max_removed_share", "must be from 0 to 1")
        _check(self.lock_timeout >= 0, "lock_timeout", "must not be negative")
        _check(self.mass_removal_floor >= 1, "mass_removal_floor", "must be at least 1")
        _check(self.max_clock_skew >= 0, "max_clock_skew", "must not be negative")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """Settings from ``given`` values, then ``CATALOG_ETL_<NAME>`` variables (any case;
        an empty one counts as unset), then the defaults."""
        environ = os.environ if environ is None else environ
        variables = {
            name.upper(): value
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX) and value != ""
        }
        values = dict(given)
        for setting in fields(cls):
            variable = ENV_PREFIX + setting.name.upper()
            if setting.name not in values and variable in variables:
                values[setting.name] = _parse(setting.type, variables[variable], variable)
        return cls(**values)

    def token(self) -> str | None:
        """The API token from ``api_token`` or ``api_token_file``."""
        if self.api_token is not None:
            return self.api_token.strip() or None
        if self.api_token_file is None:
            return None
        try:
            return self.api_token_file.read_text("utf-8").strip() or None
        except OSError as error:
            raise SettingsError(
                f"cannot read the API token file {self.api_token_file}: {error.strerror}"
            ) from None


def _check(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise SettingsError(f"{name} {problem} ({ENV_PREFIX}{name.upper()})")


def _number(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(raw)


# By the annotation's text: annotations are strings here (``from __future__``).
_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "float": (_number, "a number"),
    "int": (int, "a whole number"),
    "bool": (_flag, "true or false"),
    "Path | None": (Path, "a path"),
}


def _parse(annotation: object, raw: str, variable: str) -> Any:
    parse, expected = _PARSERS.get(str(annotation), (str, "text"))
    try:
        return parse(raw)
    except ValueError:
        # Only numbers and flags fail to parse: no secret reaches this message.
        raise SettingsError(f"{variable} must be {expected}, not {raw!r}") from None
