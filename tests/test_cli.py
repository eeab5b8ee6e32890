"""The command line: each command end to end, its exit codes, and its documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from etl.cli import cli
from etl.samples import SAMPLES
from tests.helpers import TESTS, data_file, make_model, payload

README = (TESTS.parent / "README.md").read_text("utf-8")


def run(*args: str, expect: int = 0) -> str:
    """The command's stdout, once it exited with ``expect``."""
    return run_both(*args, expect=expect)[0]


def run_both(*args: str, expect: int = 0) -> tuple[str, str]:
    """The command's stdout and stderr, once it exited with ``expect``."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.stdout, result.stderr


def all_commands() -> list[tuple[str, click.Command]]:
    found = []
    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((name, command))
    return found


class TestSync:
    def test_sync_file_prints_json_summary(self, database_url: str) -> None:
        """`sync --file` applies a real catalog and prints the documented JSON summary."""
        out = run(
            "sync",
            "--file",
            str(data_file("openrouter/2025-11-19_teatreechat.json.gz")),
            "--observed-at",
            "2025-11-19",
            "--database-url",
            database_url,
            "--format",
            "json",
        )
        summary = json.loads(out)
        assert summary["status"] == "succeeded"
        assert summary["observed_at"] == "2025-11-19T00:00:00Z"
        assert (summary["models_seen"], summary["added"], summary["versions_written"]) == (
            337,
            337,
            337,
        )
        for key in ("run_id", "removed", "returned", "price_changes", "warnings"):
            assert key in summary

    @pytest.mark.parametrize("output_format", ["table", "json"])
    def test_failed_sync_exits_1_with_the_reason(
        self, database_url: str, tmp_path: Path, output_format: str
    ) -> None:
        """A payload that is not JSON fails the run: exit code 1, the run's outcome on
        stdout and the one-line reason on stderr (in JSON too, where it is also a field)."""
        bad = tmp_path / "bad.json"
        bad.write_text("<html>gateway error</html>")
        result = CliRunner().invoke(
            cli,
            ["sync", "--file", str(bad), "--database-url", database_url, "--format", output_format],
        )
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: payload is not valid JSON")
        if output_format == "json":
            assert "payload is not valid JSON" in json.loads(result.stdout)["error"]
        else:
            assert result.stdout.startswith("run 1: failed") and "error" not in result.stdout

    def test_missing_file_is_a_failed_run(self, database_url: str, tmp_path: Path) -> None:
        """A file that does not exist is reported in one line and recorded as a failed run."""
        out = run(
            "sync",
            "--file",
            str(tmp_path / "nope.json"),
            "--database-url",
            database_url,
            "--format",
            "json",
            expect=1,
        )
        assert "cannot read" in json.loads(out)["error"]

    def test_bad_time_is_a_usage_error(self, database_url: str) -> None:
        """An unreadable --observed-at is a usage error (exit 2) naming the accepted forms."""
        _, err = run_both(
            "sync",
            "--file",
            "x.json",
            "--observed-at",
            "yesterday-ish",
            "--database-url",
            database_url,
            expect=2,
        )
        assert "ISO 8601" in err

    def test_sync_without_a_source_is_a_usage_error(self, database_url: str) -> None:
        """`sync` with nothing to read exits 2."""
        run("sync", "--database-url", database_url, expect=2)


class TestReadCommands:
    @pytest.fixture
    def loaded(self, database_url: str, engine: Engine) -> str:
        for sample in SAMPLES:
            run(
                "sync",
                "--file",
                str(sample.path),
                "--observed-at",
                sample.observed_at.isoformat(),
                "--database-url",
                database_url,
                "--allow-mass-removal",
            )
        return database_url

    def test_models_json_as_of(self, loaded: str) -> None:
        """`models --as-of` between the two samples shows the July catalog."""
        report = json.loads(
            run("models", "--as-of", "2025-08-01", "--database-url", loaded, "--format", "json")
        )
        assert report["observed_at"] == "2025-07-24T00:00:00Z"
        assert len(report["models"]) == 319

    def test_models_table(self, loaded: str) -> None:
        """The table view names the count and shows prices."""
        out = run("models", "--database-url", loaded)
        assert "337 models" in out and "prompt=" in out

    def test_diff_json_and_table(self, loaded: str) -> None:
        """`diff` finds the models added and removed between the samples, in both formats."""
        report = json.loads(
            run(
                "diff",
                "--since",
                "2025-08-01",
                "--until",
                "2025-12-01",
                "--database-url",
                loaded,
                "--format",
                "json",
            )
        )
        assert (len(report["added"]), len(report["removed"])) == (108, 90)
        assert report["price_changes"]
        out = run(
            "diff", "--since", "2025-08-01", "--until", "2025-12-01", "--database-url", loaded
        )
        assert "added (108)" in out and "removed (90)" in out

    def test_diff_rejects_an_inverted_window(self, loaded: str) -> None:
        """--since after --until is a usage error."""
        run(
            "diff",
            "--since",
            "2025-12-01",
            "--until",
            "2025-08-01",
            "--database-url",
            loaded,
            expect=2,
        )

    def test_runs_json(self, loaded: str) -> None:
        """`runs` lists both syncs, newest first."""
        report = json.loads(run("runs", "--database-url", loaded, "--format", "json"))
        assert [r["observed_at"] for r in report["runs"]] == [
            "2025-11-19T00:00:00Z",
            "2025-07-24T00:00:00Z",
        ]

    def test_read_command_on_missing_sqlite_file(self, tmp_path: Path) -> None:
        """Reading a database that does not exist says so instead of creating an empty one."""
        missing = tmp_path / "missing.db"
        result = CliRunner().invoke(cli, ["models", "--database-url", f"sqlite:///{missing}"])
        assert result.exit_code == 1
        assert "no database at" in result.output
        assert not missing.exists()


class TestDatabaseCommands:
    def test_upgrade_and_status(self, tmp_path: Path) -> None:
        """`db upgrade` creates the schema; `db status` then reports it current."""
        url = f"sqlite:///{tmp_path / 'new.db'}"
        assert "(latest)" in run("db", "upgrade", "--database-url", url)
        status = run("db", "status", "--database-url", url)
        assert re.search(r"revision (\w+), latest \1\n", status), status

    def test_stale_schema_is_refused(self, tmp_path: Path) -> None:
        """A database behind the latest revision is refused with the command that fixes it."""
        url = f"sqlite:///{tmp_path / 'old.db'}"
        run("db", "upgrade", "--database-url", url)
        from etl.db.engine import make_engine

        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        engine.dispose()
        result = CliRunner().invoke(cli, ["models", "--database-url", url])
        assert result.exit_code == 1
        assert "catalog-etl db upgrade" in result.output

    def test_password_is_masked(self) -> None:
        """An unreachable PostgreSQL URL is reported with its password masked."""
        url = "postgresql://user:s3cret-marker@127.0.0.1:1/db"
        result = CliRunner().invoke(cli, ["models", "--database-url", url])
        assert result.exit_code == 1
        assert "s3cret-marker" not in result.output
        assert "***" in result.output

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("mysql://root:pw-marker@127.0.0.1/test", "mysql is not supported ('mysql://root:***@"),
            ("foo", "not a database URL: 'foo'"),
            ("postgresql//u:pw-marker@h/x", "not a database URL: 'postgresql//u:***@h/x'"),
            ("postgresql+nope://u@127.0.0.1/x", "unknown driver 'postgresql+nope'"),
        ],
    )
    def test_unusable_url_is_named(self, url: str, shown: str) -> None:
        """A URL of an unsupported database, or no URL at all, is one line on stderr that
        echoes what was typed (its password masked) and names the supported databases."""
        result = CliRunner().invoke(cli, ["models", "--database-url", url])
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert shown in result.stderr
        assert "pw-marker" not in result.stderr
        if "driver" not in shown:
            assert "SQLite (sqlite:///PATH) and PostgreSQL" in result.stderr

    def test_missing_driver_is_named(self) -> None:
        """A supported database whose driver is not installed says which module is missing."""
        result = CliRunner().invoke(
            cli, ["models", "--database-url", "postgresql+pg8000://u@127.0.0.1/x"]
        )
        assert result.exit_code == 1
        assert "the driver for postgresql+pg8000 is not installed: no module 'pg8000'" in (
            result.stderr
        )


class TestDemo:
    def test_demo_twice(self, tmp_path: Path) -> None:
        """`demo` syncs both samples and summarizes; running it again changes nothing."""
        url = f"sqlite:///{tmp_path / 'demo.db'}"
        out = run("demo", "--database-url", url)
        assert "108 models added, 90 removed" in out
        again = run("demo", "--database-url", url)
        assert "0 versions and 0 price changes" in again


class TestDocumentation:
    @pytest.mark.parametrize(("name", "command"), all_commands(), ids=lambda v: str(v))
    def test_every_command_is_documented(self, name: str, command: click.Command) -> None:
        """Each command has help text and a README section, and its options are in the README."""
        assert command.help, f"{name} has no help"
        assert f"catalog-etl {name}" in README or f"`{name.split()[-1]}`" in README
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in README for opt in param.opts), f"{name}: {param.opts}"

    def test_every_setting_is_documented(self) -> None:
        """Each setting's environment variable is in the README's configuration table."""
        from dataclasses import fields

        from etl.config import Settings, variable_name

        table = README[README.index("## Configuration") : README.index("## Commands")]
        for setting in fields(Settings):
            variable = variable_name(setting.name)
            short = "_" + variable.removeprefix("CATALOG_ETL_")
            assert f"`{variable}`" in table or f"`{short}`" in table, variable

    def test_readme_sql_examples_run(self, engine: Engine, database_url: str) -> None:
        """Every ```sql block of the README runs on a loaded database and returns rows: the
        demo's two captures, and the July one again as a second catalog (for the examples that
        compare catalogs)."""
        catalogs = [(sample, "default") for sample in SAMPLES] + [(SAMPLES[0], "july")]
        for sample, catalog in catalogs:
            run(
                "sync",
                "--file",
                str(sample.path),
                "--observed-at",
                sample.observed_at.isoformat(),
                "--catalog",
                catalog,
                "--database-url",
                database_url,
                "--allow-mass-removal",
            )
        queries = re.findall(r"```sql\n(.*?)```", README, flags=re.S)
        assert len(queries) >= 5
        with engine.connect() as connection:
            for query in queries:
                rows = connection.execute(text(query)).all()
                assert rows, query


def test_payload_helper_round_trips() -> None:
    """The payload() helper writes the OpenRouter envelope (guards the CLI tests' inputs)."""
    assert json.loads(payload([make_model()]))["data"][0]["id"] == "acme/rocket-1"


class TestOperatorOutput:
    def test_runs_show_has_everything_in_full(self, engine: Engine, database_url: str) -> None:
        """`runs` wraps a long error instead of cutting it; `runs show ID` prints the run
        in full, as text or JSON; an unknown id is one line on stderr."""
        from sqlalchemy import update

        from etl.db.tables import sync_runs_table
        from etl.pipeline import sync_bytes

        failed = sync_bytes(engine, b"not json")
        error = "upstream said: " + "no key; " * 30 + "END"
        with engine.begin() as connection:
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.id == failed.run_id)
                .values(error=error, warnings=["first warning", "second warning"])
            )
        listed = run("runs", "--database-url", database_url)
        assert "END" in listed and "…" not in listed
        shown = run("runs", "show", str(failed.run_id), "--database-url", database_url)
        assert f"error: {error}\n" in shown
        assert "warnings:        2\n  first warning\n  second warning\n" in shown
        document = json.loads(
            run(
                "runs",
                "show",
                str(failed.run_id),
                "--database-url",
                database_url,
                "--format",
                "json",
            )
        )
        assert (document["status"], document["error"]) == ("failed", error)
        assert document["warnings"] == ["first warning", "second warning"]
        _, err = run_both("runs", "show", "999", "--database-url", database_url, expect=1)
        assert err == "error: no run 999: `catalog-etl runs` lists them\n"

    def test_piped_tables_never_split_an_identifier(self, tmp_path: Path) -> None:
        """Piped into another program (no terminal, no COLUMNS), a table is as wide as its
        content: each long model id stays whole on one line; --width narrows it."""
        import os
        import subprocess
        import sys

        url = f"sqlite:///{tmp_path / 'c.db'}"
        long_id = "acme/" + "very-long-model-name-" * 5 + "v1"
        catalog = tmp_path / "models.json"
        catalog.write_bytes(payload([make_model(long_id), make_model("acme/rocket-1")]))
        run("sync", "--file", str(catalog), "--database-url", url)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}

        def piped(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "etl", *args, "models", "--database-url", url],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=60,
            )
            return done.stdout

        wide = piped()
        assert any(long_id in line for line in wide.splitlines()), wide
        assert max(map(len, wide.splitlines())) > 120
        narrow = piped("--width", "80")
        assert max(map(len, narrow.splitlines())) <= 80
        assert not any(long_id in line for line in narrow.splitlines())
