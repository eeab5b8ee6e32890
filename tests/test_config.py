"""Settings: read from CATALOG_ETL_* variables, checked, and never showing a secret."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.config import DEFAULT_DATABASE_URL, Settings, SettingsError, variable_name

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
        ("CATALOG_ETL_TIMEOUT", "0", "CATALOG_ETL_TIMEOUT must be more than 0 seconds"),
        ("CATALOG_ETL_RETRIES", "1.5", "CATALOG_ETL_RETRIES must be a whole number, not '1.5'"),
        ("CATALOG_ETL_RETRIES", "-1", "CATALOG_ETL_RETRIES must not be negative"),
        (
            "CATALOG_ETL_MAX_REMOVED_SHARE",
            "2",
            "CATALOG_ETL_MAX_REMOVED_SHARE must be from 0 to 1",
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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CATALOG_ETL_GRACE_PERIOD", "soon", "CATALOG_ETL_GRACE_PERIOD must be a duration such"),
        ("CATALOG_ETL_LOG_FORMAT", "xml", "CATALOG_ETL_LOG_FORMAT must be one of human, json"),
        ("CATALOG_ETL_METRICS_PORT", "70000", "CATALOG_ETL_METRICS_PORT must be from 1 to 65535"),
        ("CATALOG_ETL_RUN_NOW", "perhaps", "CATALOG_ETL_RUN_NOW must be true or false"),
    ],
)
def test_serve_settings_share_the_parser(variable: str, value: str, message: str) -> None:
    """serve's settings are read and checked by the same parser as every other setting."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment({variable: value})


def test_serve_settings_parse_to_their_types() -> None:
    """Durations, switches and ports from the environment become their types."""
    settings = Settings.from_environment(
        {
            "CATALOG_ETL_EVERY": "1h30m",
            "CATALOG_ETL_GRACE_PERIOD": "45",
            "CATALOG_ETL_RUN_NOW": "1",
            "CATALOG_ETL_METRICS_PORT": "9108",
        }
    )
    assert settings.every == timedelta(hours=1, minutes=30)
    assert settings.grace_period == timedelta(seconds=45)
    assert (settings.run_now, settings.metrics_port) == (True, 9108)
    assert Settings().grace_period == timedelta(seconds=30)


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        param.name: param
        for param in command.params
        if isinstance(param, click.Option) and param.name
    }


@pytest.mark.parametrize("name", ["sync", "serve", "backfill"])
def test_help_names_every_variable(name: str) -> None:
    """`--help` of sync, serve and backfill shows, for every option that is a setting, its
    environment variable and default; sync and serve also name the token's variables."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    settings = {setting.name: setting for setting in fields(Settings)}
    result = CliRunner().invoke(cli, [name, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    shown = " ".join(result.output.split())
    options = _options(command)
    assert "database_url" in options and "max_removed_share" in options
    for option_name, option in options.items():
        if option_name not in settings:
            continue
        assert option.envvar is None  # one system: the variables are read by Settings only
        help_text = " ".join((option.help or "").split())
        assert f"env {variable_name(option_name)}" in help_text, option_name
        assert help_text in shown
        default = settings[option_name].default
        if isinstance(default, float):
            assert f"default {default:g}" in help_text, option_name
        elif isinstance(default, int) and not isinstance(default, bool):
            assert f"default {default}" in help_text, option_name
    if name != "backfill":
        assert "CATALOG_ETL_API_TOKEN " in shown and "CATALOG_ETL_API_TOKEN_FILE" in shown


def test_no_option_reads_the_environment_by_itself() -> None:
    """No command declares click's own envvar=: Settings is the only reader of variables."""
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert {"sync", "serve", "backfill", "status"} <= set(names)
    for name in names:
        command = cli.get_command(context, name)
        assert command is not None
        subcommands = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subcommands:
            for param in sub.params:
                assert not getattr(param, "envvar", None), (sub.name, param.name)


class TestPrecedence:
    """Flags win over variables, which win over defaults, for every command alike."""

    def test_flag_beats_variable_beats_default(self, tmp_path: Path) -> None:
        """`sync --lock-timeout`, CATALOG_ETL_LOCK_TIMEOUT and the default 0 in that order;
        shown through the error each bad value gives."""
        catalog = tmp_path / "models.json"
        catalog.write_text('{"data": []}')
        url = f"sqlite:///{tmp_path / 'c.db'}"
        args = ["sync", "--file", str(catalog), "--database-url", url]
        env = {"CATALOG_ETL_LOCK_TIMEOUT": "-1"}
        from_variable = CliRunner().invoke(cli, args, env=env)
        assert from_variable.exit_code == 1
        assert "CATALOG_ETL_LOCK_TIMEOUT must not be negative" in from_variable.stderr
        from_flag = CliRunner().invoke(cli, [*args, "--lock-timeout", "-2"], env=env)
        assert from_flag.exit_code == 2  # a flag's bad value is a usage error
        assert "--lock-timeout must not be negative" in from_flag.stderr
        good_flag = CliRunner().invoke(cli, [*args, "--lock-timeout", "0", "--format", "json"])
        assert good_flag.exit_code == 0, good_flag.output

    def test_serve_reads_its_variables(self, tmp_path: Path) -> None:
        """serve's schedule and log settings come from the same variables, a flag wins."""
        env = {"CATALOG_ETL_EVERY": "1x"}
        result = CliRunner().invoke(cli, ["serve"], env=env)
        assert result.exit_code == 1
        assert "CATALOG_ETL_EVERY must be a duration" in result.stderr
        result = CliRunner().invoke(cli, ["serve", "--every", "1h"], env=env)
        assert result.exit_code == 2 and "give the catalog's URL" in result.stderr
        result = CliRunner().invoke(cli, ["serve", "--every", "1y"])
        assert result.exit_code == 2 and "--every must be a duration" in result.stderr
