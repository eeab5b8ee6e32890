"""Settings from the environment (``CATALOG_ETL_*``), overridable by command-line flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///catalog.db"


class SettingsError(ValueError):
    """A setting that cannot be used (an unreadable token file, say)."""


class Settings(BaseSettings):
    """Everything catalog-etl can be told. Secrets never appear in ``repr`` or logs."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_ETL_", extra="ignore")

    # repr=False: a database URL may carry a password.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    """SQLAlchemy URL. ``postgresql://`` uses psycopg 3."""

    source_url: str | None = None
    """Where ``sync`` fetches the catalog when neither ``--file`` nor ``--url`` is given."""

    api_token: SecretStr | None = None
    """Sent as ``Authorization: Bearer ...``; never printed or stored."""

    api_token_file: Path | None = None
    """A file holding the token (a container secret); used when ``api_token`` is unset."""

    timeout: float = Field(default=110.0, gt=0)
    """Seconds for a whole fetch, every retry and pause included."""

    retries: int = Field(default=4, ge=0)
    """Extra attempts after a failed request that may succeed later (timeouts, 429, 5xx)."""

    max_removed_share: float = Field(default=0.25, ge=0, le=1)
    """Hold a sync that would retire more than this share of a provider's models."""

    lock_timeout: float = Field(default=0.0, ge=0)
    """Seconds a sync waits for another one to finish before it is skipped."""

    allow_insecure_http: bool = False
    """Allow plain http:// to hosts other than loopback."""

    provider: str | None = None
    """Provider name for OpenRouter-shaped catalogs, which name none (``serve``; default
    ``openrouter``)."""

    def token(self) -> str | None:
        """The API token from ``api_token`` or ``api_token_file``."""
        if self.api_token is not None:
            return self.api_token.get_secret_value().strip() or None
        if self.api_token_file is None:
            return None
        try:
            return self.api_token_file.read_text("utf-8").strip() or None
        except OSError as error:
            raise SettingsError(
                f"cannot read the API token file {self.api_token_file}: {error.strerror}"
            ) from None
