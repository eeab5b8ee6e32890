"""Settings: one declaration of everything catalog-etl can be told, read from command-line
flags, then ``CATALOG_ETL_*`` variables, then defaults, by one parser.

Each setting documents itself (help text, option name): the commands build their options
from it, so every option shows its variable and default in ``--help``. Plain data with its
own small parser: every command reads its settings before doing anything, and a settings
library would cost each one a fifth of a second of start-up.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from etl.times import parse_duration

DEFAULT_DATABASE_URL = "sqlite:///catalog.db"
DEFAULT_MAX_FAILURES = 3
"""Failed runs in a row that make ``status`` unhealthy: one failure may be a passing
outage; three in a row (a revoked key answering 401 at every tick) is not."""
ENV_PREFIX = "CATALOG_ETL_"
DEFAULT_CATALOG = "default"
"""The catalog of a sync that names none, and of everything synced before catalogs had
names."""
_CATALOG_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(ValueError):
    """A setting that cannot be used: a value that does not parse or is out of range, or an
    unreadable token file. The message names the flag or variable the value came from (the
    setting's name when given in code) and never shows a secret."""

    def __init__(self, message: str, *, setting: str | None = None, source: str | None = None):
        super().__init__(message if setting is None else f"{message} ({variable_name(setting)})")
        self.setting, self.source = setting, source
        self.problem = message.removeprefix(f"{setting} ") if setting else message

    @property
    def from_flag(self) -> bool:
        """Whether the value came from a command-line option (a usage error)."""
        return bool(self.source and self.source.startswith("--"))


def check_catalog_name(name: str) -> str:
    """``name`` if it can name a catalog, else ValueError with a one-line reason."""
    if not _CATALOG_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name a catalog: use 1 to 64 lowercase letters, digits, '.', '_'"
            " or '-', starting with a letter or digit"
        )
    return name


def setting(
    default: Any,
    help: str,
    *,
    flag: str | None = "",
    metavar: str | None = None,
    choices: tuple[str, ...] = (),
    secret: bool = False,
) -> Any:
    """A field of :class:`Settings` that documents itself: ``help`` is the text of the
    command-line option and of the README's table; ``flag`` is the option (by default the
    setting's name with dashes; None: no option, as for the token, which ``ps`` would show)."""
    return field(
        default=default,
        repr=not secret,
        metadata={"help": help, "flag": flag, "metavar": metavar, "choices": choices},
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything catalog-etl can be told, from flags, ``CATALOG_ETL_<NAME>`` variables and
    defaults, in that order. Secrets never appear in ``repr`` or logs.

    ``Settings(...)`` holds the values given and the defaults; :meth:`from_environment`
    reads the variables for the ones not given, and parses text given for any setting.
    """

    database_url: str = setting(
        DEFAULT_DATABASE_URL,
        "SQLAlchemy URL of a SQLite or PostgreSQL database (postgresql:// uses psycopg 3).",
        metavar="URL",
        secret=True,  # it may carry a password
    )
    catalog: str = setting(
        DEFAULT_CATALOG,
        "The catalog a sync joins: each catalog (a gateway, a price map) has its own runs,"
        " providers and history in the database.",
        metavar="NAME",
    )
    source_url: str | None = setting(
        None, "Catalog URL, for syncs over HTTP.", flag="--url", metavar="URL"
    )
    api_token: str | None = setting(
        None,
        "Bearer token for the gateway; never printed, logged or stored.",
        flag=None,
        secret=True,
    )
    api_token_file: Path | None = setting(
        None,
        "File holding the bearer token (a container secret), used when CATALOG_ETL_API_TOKEN"
        " is unset.",
        flag="--token-file",
        metavar="PATH",
    )
    provider: str | None = setting(
        None,
        "Provider name for OpenRouter-shaped catalogs, which name none (default: openrouter).",
        metavar="NAME",
    )
    timeout: float = setting(
        110.0, "Seconds for a whole fetch, every retry and pause included.", metavar="SECONDS"
    )
    retries: int = setting(4, "Extra attempts after timeouts, 429 and 5xx answers.", metavar="N")
    max_bytes: int = setting(
        64 * 1024 * 1024,
        "Largest catalog accepted once decompressed (HTTP bodies, all pages together, and"
        " .json.gz files); more is refused as a possible decompression bomb.",
        metavar="BYTES",
    )
    max_removed_share: float = setting(
        0.25,
        "Hold a provider whose catalog would retire more than this share of its models...",
        metavar="SHARE",
    )
    mass_removal_floor: int = setting(
        5, "...and at least this many of them (fewer never holds).", metavar="N"
    )
    max_clock_skew: float = setting(
        300.0,
        "Seconds an observation may lie in the future; further, it is refused.",
        metavar="SECONDS",
    )
    lock_timeout: float = setting(
        0.0,
        "Seconds a sync waits while another one applies, instead of being skipped.",
        metavar="SECONDS",
    )
    allow_insecure_http: bool = setting(False, "Allow plain http:// to hosts other than loopback.")
    notify: str | None = setting(
        None,
        "Destinations told of every change: apprise URLs (slack://..., json://...) or https://"
        " webhooks, separated by spaces. They may hold secrets: prefer the variable or a file.",
        metavar="URLS",
        secret=True,
    )
    subscriptions: Path | None = setting(
        None,
        "A TOML file of [[subscription]] tables: a name, a url and what to hear of.",
        metavar="FILE",
    )
    # serve
    config: Path | None = setting(
        None,
        "Serve every catalog of this TOML file, each with its URL, token source, schedule and"
        " options (see the README). The options that describe one catalog (--url, --catalog,"
        " --every, --cron, --timeout...) then belong in the file; the service's own (database,"
        " metrics, logs, --grace-period, --migrate, --run-now) stay options.",
        metavar="FILE",
    )
    every: timedelta | None = setting(
        None,
        "Sync every DURATION (30s, 15m, 1h, 1d), on multiples of it since the epoch.",
        metavar="DURATION",
    )
    cron: str | None = setting(
        None, "Sync when a standard 5-field cron line matches ('17 * * * *').", metavar="EXPR"
    )
    timezone: str = setting("UTC", "Time zone of --cron (an IANA name).", metavar="ZONE")
    jitter: timedelta | None = setting(
        None, "Delay each run by a random time up to DURATION.", metavar="DURATION"
    )
    run_now: bool = setting(False, "Also sync once at start.")
    migrate: bool = setting(
        False, "Upgrade the database schema first instead of refusing to start."
    )
    grace_period: timedelta = setting(
        timedelta(seconds=30),
        "On SIGTERM/SIGINT, how long a running sync may take to finish before it is rolled back.",
        metavar="DURATION",
    )
    log_format: str = setting(
        "human", "Log lines for people, or JSON lines.", choices=("human", "json")
    )
    log_level: str = setting(
        "info", "Least severe level logged.", choices=("debug", "info", "warning", "error")
    )
    metrics_port: int | None = setting(
        None, "Serve Prometheus metrics on this port at /metrics.", metavar="PORT"
    )
    metrics_address: str = setting(
        "0.0.0.0", "Address the metrics server listens on.", metavar="ADDRESS"
    )

    def __post_init__(self) -> None:
        checks = (
            (self.timeout > 0, "timeout", "must be more than 0 seconds"),
            (self.retries >= 0, "retries", "must not be negative"),
            (self.max_bytes > 0, "max_bytes", "must be more than 0"),
            (0 <= self.max_removed_share <= 1, "max_removed_share", "must be from 0 to 1"),
            (self.lock_timeout >= 0, "lock_timeout", "must not be negative"),
            (self.mass_removal_floor >= 1, "mass_removal_floor", "must be at least 1"),
            (self.max_clock_skew >= 0, "max_clock_skew", "must not be negative"),
            (
                self.metrics_port is None or 1 <= self.metrics_port <= 65535,
                "metrics_port",
                "must be from 1 to 65535",
            ),
        )
        for ok, name, problem in checks:
            if not ok:
                raise SettingsError(f"{name} {problem}", setting=name)
        try:
            check_catalog_name(self.catalog)
        except ValueError as error:
            raise SettingsError(f"catalog {error}", setting="catalog") from None
        for setting in fields(self):
            choices = setting.metadata.get("choices")
            if choices and getattr(self, setting.name) not in choices:
                raise SettingsError(
                    f"{setting.name} must be one of {', '.join(choices)}", setting=setting.name
                )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """Settings from ``given`` values (a command's flags; text is parsed), then
        ``CATALOG_ETL_<NAME>`` variables (any case; an empty one counts as unset), then the
        defaults. A value that does not parse or is out of range raises :class:`SettingsError`
        naming the flag or the variable it came from."""
        environ = os.environ if environ is None else environ
        variables = {
            name.upper(): value
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX) and value != ""
        }
        values, sources = {}, {}
        for setting in fields(cls):
            variable = variable_name(setting.name)
            if setting.name in given:
                value, source = given[setting.name], option_name(setting) or setting.name
            elif variable in variables:
                value, source = variables[variable], variable
            else:
                continue
            sources[setting.name] = source
            values[setting.name] = (
                _parse(setting.type, value, source) if isinstance(value, str) else value
            )
        try:
            return cls(**values)
        except SettingsError as error:
            source = sources.get(error.setting or "", variable_name(error.setting or ""))
            raise SettingsError(f"{source} {error.problem}", source=source) from None

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


def variable_name(name: str) -> str:
    """The environment variable of a setting: ``CATALOG_ETL_<NAME>``."""
    return ENV_PREFIX + name.upper()


def option_name(setting: Field[Any]) -> str | None:
    """The command-line option of a setting, or None when it has none."""
    flag: str | None = setting.metadata.get("flag", "")
    return None if flag is None else flag or "--" + setting.name.replace("_", "-")


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
    "int | None": (int, "a whole number"),
    "bool": (_flag, "true or false"),
    "Path | None": (Path, "a path"),
    "timedelta": (parse_duration, "a duration such as 30s, 15m, 1h or 1h30m"),
    "timedelta | None": (parse_duration, "a duration such as 30s, 15m, 1h or 1h30m"),
}


def _parse(annotation: object, raw: str, source: str) -> Any:
    parse, expected = _PARSERS.get(str(annotation), (str, "text"))
    try:
        return parse(raw)
    except ValueError:
        # Only numbers, durations and flags fail to parse: no secret reaches this message.
        raise SettingsError(f"{source} must be {expected}, not {raw!r}", source=source) from None
