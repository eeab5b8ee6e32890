"""Settings: read from CATALOG_ETL_* variables, checked, and never showing a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.config import DEFAULT_DATABASE_URL, Settings, SettingsError

SECRET = "s3cr3t-token-value"


def test_defaults_without_environment() -> None:
    """No variables: the documented defaults."""
    settings = Settings.from_environment({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.timeout, settings.retries, settings.max_removed_share) == (110.0, 4, 0.25)
    assert settings.allow_insecure_http is False
    assert settings.token() is None


def test_variables_are_parsed_to_their_types() -> None:
    """Each variable becomes its setting's type; names match in any case."""
    settings = Settings.from_environment(
        {
            "CATALOG_ETL_DATABASE_URL": "postgresql://u@h/db",
            "CATALOG_ETL_TIMEOUT": "2.5",
            "catalog_etl_retries": "7",
            "CATALOG_ETL_MAX_REMOVED_SHARE": "1",
            "CATALOG_ETL_LOCK_TIMEOUT": "0",
            "CATALOG_ETL_ALLOW_INSECURE_HTTP": "Yes",
            "CATALOG_ETL_API_TOKEN_FILE": "/run/secrets/token",
            "CATALOG_ETL_PROVIDER": "insforge",
            "OTHER_TIMEOUT": "nonsense",
        }
    )
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.timeout == 2.5
    assert settings.retries == 7
    assert settings.max_removed_share == 1.0
    assert settings.lock_timeout == 0.0
    assert settings.allow_insecure_http is True
    assert settings.api_token_file == Path("/run/secrets/token")
    assert settings.provider == "insforge"


def test_given_values_win_and_empty_variables_are_unset() -> None:
    """A value given (a command-line flag) beats the variable; ``NAME=`` means unset."""
    environ = {"CATALOG_ETL_TIMEOUT": "5", "CATALOG_ETL_RETRIES": ""}
    settings = Settings.from_environment(environ, timeout=9.0)
    assert (settings.timeout, settings.retries) == (9.0, 4)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CATALOG_ETL_TIMEOUT", "abc", "CATALOG_ETL_TIMEOUT must be a number, not 'abc'"),
        ("CATALOG_ETL_TIMEOUT", "nan", "CATALOG_ETL_TIMEOUT must be a number, not 'nan'"),
        ("CATALOG_ETL_TIMEOUT", "0", "timeout must be more than 0 seconds (CATALOG_ETL_TIMEOUT)"),
        ("CATALOG_ETL_RETRIES", "1.5", "CATALOG_ETL_RETRIES must be a whole number, not '1.5'"),
        ("CATALOG_ETL_RETRIES", "-1", "retries must not be negative (CATALOG_ETL_RETRIES)"),
        (
            "CATALOG_ETL_MAX_REMOVED_SHARE",
            "2",
            "max_removed_share must be from 0 to 1 (CATALOG_ETL_MAX_REMOVED_SHARE)",
        ),
        (
            "CATALOG_ETL_ALLOW_INSECURE_HTTP",
            "maybe",
            "CATALOG_ETL_ALLOW_INSECURE_HTTP must be true or false, not 'maybe'",
        ),
    ],
)
def test_bad_values_are_one_clear_error(variable: str, value: str, message: str) -> None:
    """A value that does not parse or is out of range names the variable and what it needs."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_environment({variable: value})
    assert str(caught.value) == message


def test_secrets_stay_out_of_repr() -> None:
    """Neither the token nor a database password shows in ``repr``."""
    settings = Settings.from_environment(
        {
            "CATALOG_ETL_API_TOKEN": SECRET,
            "CATALOG_ETL_DATABASE_URL": f"postgresql://u:{SECRET}@h/d",
        }
    )
    assert settings.token() == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)


def test_token_file(tmp_path: Path) -> None:
    """The token file is read and stripped; an unreadable one is a clear error."""
    secret = tmp_path / "token"
    secret.write_text(f"  {SECRET}\n")
    assert Settings(api_token_file=secret).token() == SECRET
    with pytest.raises(SettingsError, match=r"cannot read the API token file .*missing"):
        Settings(api_token_file=tmp_path / "missing").token()


def test_cli_reports_a_bad_variable_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad variable makes a command fail with one line on stderr and exit 1, changing
    nothing: no database is created."""
    monkeypatch.setenv("CATALOG_ETL_TIMEOUT", "abc")
    database = tmp_path / "catalog.db"
    catalog = tmp_path / "models.json"
    catalog.write_text('{"data": []}')
    result = CliRunner().invoke(
        cli, ["sync", "--file", str(catalog), "--database-url", f"sqlite:///{database}"]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: CATALOG_ETL_TIMEOUT must be a number, not 'abc'"
    assert not database.exists()
