"""Settings from the environment (``CATALOG_ETL_*``), overridable by command-line flags."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///catalog.db"


class Settings(BaseSettings):
    """Everything catalog-etl can be told. Secrets never appear in ``repr`` or logs."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_ETL_", extra="ignore")

    # repr=False: a database URL may carry a password.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    """SQLAlchemy URL. ``postgresql://`` uses psycopg 3."""

    source_url: str | None = None
    """Where ``sync`` fetches the catalog when no ``--file`` or ``--url`` is given."""

    api_token: SecretStr | None = None
    """Sent as ``Authorization: Bearer ...``; never printed or stored."""

    @property
    def database_display(self) -> str:
        """The database URL with its password masked, for messages."""
        from etl.db.engine import display_url

        return display_url(self.database_url)
