"""Hostile text on the way out: catalog text (ids, names, descriptions, warnings, upstream
error bodies) holding rich markup, ANSI and OSC escapes, NUL, lone surrogates, C1 controls,
U+2028, formulas and a 1 MB string reaches every command's output as inert text.

End to end through the command line, as a user types it (a real subprocess where the bytes
of stdout and stderr matter), then the escaping rule and the CSV rule on their own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from html import escape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from rich.console import Console
from sqlalchemy import Engine, update

from etl.cli import cli
from etl.db.engine import make_engine
from etl.db.tables import sync_runs_table
from etl.reports import html, terminal
from etl.reports.csv_out import cell_text, spreadsheet_cell
from etl.reports.safe_text import styled, text, visible
from etl.times import utcnow
from tests.helpers import (
    ANSI_CLEAR,
    CONTROL_TEXT,
    FORMULA_TEXT,
    HUGE_TEXT,
    MARKUP_TEXT,
    OSC_LINK,
    TESTS,
    hostile_models,
    make_model,
    payload,
    raw_controls,
)

WINDOW = ("--since", "2026-03-01", "--until", "2026-03-02T12:00:00Z")
MARKUP_MODEL = "hostile/[/]markup"
MATH_MODEL = "hostile/$\\notacommand$"
HOSTILE_ERROR = (
    "[/] [bold]x[/bold] \x1b[2J\x1b]8;;https://example.invalid\x1b\\ \x85 \u2028 \u202e boom"
)
"""What the gateway's error body says, stored as the failed run's error."""


def check_output(out: bytes, err: bytes, allowed: str = "\n") -> tuple[str, str]:
    """Both streams decode as strict UTF-8 (no lone surrogate was written), hold no
    traceback and no raw control character."""
    texts = out.decode("utf-8"), err.decode("utf-8")
    for stream in texts:
        assert "Traceback" not in stream, stream[-3000:]
        assert not raw_controls(stream, allowed), sorted(raw_controls(stream, allowed))
    return texts


def cli_run(*args: str, expect: int = 0, allowed: str = "\n") -> str:
    """The command in-process; returns stdout."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "160"})
    assert result.exit_code == expect, result.output[-3000:]
    out, _ = check_output(result.stdout_bytes, result.stderr_bytes, allowed)
    return out


def process_run(*args: str, expect: int = 0) -> tuple[str, str]:
    """The command as ``python -m etl``, in a process of its own; returns stdout, stderr."""
    env = {**os.environ, "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "etl", *args],
        capture_output=True,
        cwd=TESTS.parent,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == expect, (done.stdout[-3000:], done.stderr[-3000:])
    return check_output(done.stdout, done.stderr)


def read_csv(text: str) -> list[dict[str, str]]:
    csv.field_size_limit(max(csv.field_size_limit(), 2 * len(HUGE_TEXT)))  # the 1 MB cells
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def hostile_url(database_url: str, tmp_path: Path) -> str:
    """Two hostile catalogs synced from files with `sync` printing its table: day 0, then
    day 1 (renamed, repriced)."""
    for day in (0, 1):
        path = tmp_path / f"hostile-{day}.json"
        path.write_bytes(payload(hostile_models(day)))
        out, err = process_run(
            "sync",
            "--file",
            str(path),
            "--observed-at",
            f"2026-03-0{day + 1}",
            "--database-url",
            database_url,
        )
        assert "succeeded" in out
        # The rejected ids are quoted in warnings (on stderr), shown as text.
        assert "warning: skipped 'hostile/[/] '" in err
        assert "'hostile/\\x1b[31mred'" in err
    return database_url


class TestCommands:
    def test_models_and_runs(self, hostile_url: str) -> None:
        """`models` and `runs` list the hostile models and runs as text."""
        out = cli_run("models", "--database-url", hostile_url)
        assert MARKUP_MODEL in out and "[/] \\x1b]8;;https://example.invalid" in out
        document = json.loads(cli_run("models", "--database-url", hostile_url, "--format", "json"))
        names = {m["model"]: m["name"] for m in document["models"]}
        assert names[MARKUP_MODEL] == "[/] " + OSC_LINK  # JSON: the exact data
        assert names["hostile/huge"] == HUGE_TEXT + "!"
        assert "succeeded" in cli_run("runs", "--database-url", hostile_url)

    def test_diff_in_every_format(self, hostile_url: str) -> None:
        """Table, Markdown, HTML, CSV and JSON of a diff whose old and new values are hostile."""
        base = ("diff", *WINDOW, "--database-url", hostile_url, "--format")
        table = cli_run(*base, "table")
        assert "price changes (2)" in table and "\\x1b]8;;" in table
        assert "\\\\x1b\\]8;;" in cli_run(*base, "markdown")  # backslash and ] escaped
        page = cli_run(*base, "html")
        assert f'<meta http-equiv="Content-Security-Policy" content="{escape(html.CSP)}">' in page
        assert "<script" not in page and "\\x1b]8;;https://example.invalid" in page
        document = json.loads(cli_run(*base, "json"))
        percents = {(c["model"], c["change_percent"]) for c in document["price_changes"]}
        assert percents == {(MARKUP_MODEL, "-35"), (MATH_MODEL, "100")}
        field = {(c["model"], c["field"]): c for c in document["changes"]}
        assert field[(MARKUP_MODEL, "name")]["new"] == "[/] " + OSC_LINK
        rows = read_csv(cli_run(*base, "csv"))
        price = next(r for r in rows if r["section"] == "price" and r["model"] == MARKUP_MODEL)
        assert (price["change_percent"], price["new"]) == ("-35", "0.0000013")
        named = next(r for r in rows if r["model"] == "'=1+2/formula" and r["field"] == "name")
        assert (named["vendor"], named["old"], named["new"]) == (
            "'=1+2",
            "'" + FORMULA_TEXT[0],
            "'" + FORMULA_TEXT[1],
        )
        assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())

    def test_history_and_prices(self, hostile_url: str) -> None:
        """`history` of a model whose id is markup, and `prices`, in their formats."""
        for output_format in ("table", "markdown", "html", "json"):
            out = cli_run(
                "history", MARKUP_MODEL, "--database-url", hostile_url, "--format", output_format
            )
            assert "hostile/[/]markup" in out or "hostile/\\[/\\]markup" in out
        assert escape(html.CSP) in cli_run(
            "history", MARKUP_MODEL, "--database-url", hostile_url, "--format", "html"
        )
        for output_format in ("table", "markdown", "html", "json"):
            cli_run("prices", "--database-url", hostile_url, "--format", output_format)
        rows = read_csv(cli_run("prices", "--database-url", hostile_url, "--format", "csv"))
        by_model = {row["model"]: row for row in rows}
        assert by_model["'-2+3/formula"]["name"] == "'-2+3"
        assert by_model["'=1+2/formula"]["name"] == "'" + FORMULA_TEXT[1]
        assert by_model[MARKUP_MODEL]["completion"] == "0.0000013"
        assert len(by_model["hostile/huge"]["name"]) == len(HUGE_TEXT) + 1  # not cut short

    def test_report_and_chart(self, hostile_url: str, tmp_path: Path) -> None:
        """`report` writes HTML with the policy and a chart; `chart` draws an id that
        matplotlib would read as (broken) mathtext, as text."""
        out = cli_run(
            *("report", *WINDOW), "--out", str(tmp_path / "r.html"), "--database-url", hostile_url
        )
        assert "2 charts" in out
        page = (tmp_path / "r.html").read_text("utf-8")
        assert escape(html.CSP) in page and page.count("<svg") == 2
        assert not raw_controls(page)
        chart = tmp_path / "c.svg"
        cli_run(
            "chart", MATH_MODEL, MARKUP_MODEL, "--out", str(chart), "--database-url", hostile_url
        )
        assert "notacommand" in chart.read_text("utf-8")

    def test_unknown_model_message(self, hostile_url: str) -> None:
        """`history` of an unknown id exits 1 with one escaped line naming close matches."""
        _, err = process_run(
            "history", "hostile/[/]markup\x1b[2J", "--database-url", hostile_url, expect=1
        )
        assert "error: no model 'hostile/[/]markup\\x1b[2J'" in err and MARKUP_MODEL in err


class TestFailedRun:
    def test_error_from_the_gateway(self, hostile_url: str) -> None:
        """A 404 whose body holds markup and an escape: `sync` exits 1, `runs` and `status`
        show the error as text, `status --max-age 1h` answers by its exit code."""
        server = HTTPServer(host="127.0.0.1")
        server.start()
        try:
            body = {"error": {"code": "X", "message": "[/] \x1b[2J boom"}}
            server.expect_request("/models").respond_with_json(body, status=404)
            out, err = process_run(
                "sync", "--url", server.url_for("/models"), "--database-url", hostile_url, expect=1
            )
        finally:
            server.clear()
            server.stop()
        assert "failed" in out and "[/]" in err and "boom" in err
        _, err = process_run("status", "--max-age", "1h", "--database-url", hostile_url)
        assert err == ""
        self._store_error(hostile_url)  # what the fetch layer would not have cleaned
        out = cli_run("runs", "--database-url", hostile_url)
        assert "[/] [bold]x[/bold]" in out
        out, _ = process_run("status", "--database-url", hostile_url)
        assert "#3 failed" in out and "[/] [bold]x[/bold] \\x1b[2J\\x1b]8;;" in out
        assert "\\x85 \\u2028 \\u202e boom" in out
        out, _ = process_run("status", "--max-age", "1h", "--database-url", hostile_url)
        assert re.search(r"^health: +ok$", out, re.MULTILINE), out
        self._age_successes(hostile_url)
        out, _ = process_run("status", "--max-age", "1h", "--database-url", hostile_url, expect=1)
        assert "unhealthy" in out and "\\x1b[2J" in out
        document = json.loads(
            cli_run("runs", "--database-url", hostile_url, "--format", "json", expect=0)
        )
        assert document["runs"][0]["error"] == HOSTILE_ERROR  # JSON: the exact data

    @staticmethod
    def _store_error(url: str) -> None:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.status == "failed")
                .values(error=HOSTILE_ERROR)
            )
        engine.dispose()

    @staticmethod
    def _age_successes(url: str) -> None:
        engine = make_engine(url)
        long_ago = utcnow() - timedelta(hours=5)
        with engine.begin() as connection:
            connection.execute(
                update(sync_runs_table)
                .where(sync_runs_table.c.status == "succeeded")
                .values(started_at=long_ago, finished_at=long_ago)
            )
        engine.dispose()


def test_backfill_failure_names_the_file_as_text(database_url: str, tmp_path: Path) -> None:
    """A snapshot whose file name holds markup and an escape fails; the report says so in
    text."""
    folder = tmp_path / "snapshots"
    folder.mkdir()
    (folder / "[bold]\x1b[2Jbad.json").write_text("<html>gateway error</html>")
    _, err = process_run(
        "backfill", str(folder), "--time-from", "mtime", "--database-url", database_url, expect=1
    )
    assert "failed:" in err and "[bold]\\x1b[2Jbad.json" in err


# --- The rules on their own ----------------------------------------------------------------


class TestVisible:
    @pytest.mark.parametrize(
        ("raw", "shown"),
        [
            ("\x1b[2J", "\\x1b[2J"),
            ("a\x00b", "a\\x00b"),
            ("\x01\x1f", "\\x01\\x1f"),
            ("tab\tcr\rnl\n", "tab\\tcr\\rnl\\n"),
            ("\x7f", "\\x7f"),
            ("\x80\x85\x9b\x9f", "\\x80\\x85\\x9b\\x9f"),
            ("\u2028\u2029", "\\u2028\\u2029"),
            ("\ufffe\uffff", "\\ufffe\\uffff"),
            ("\udc9d\ud83d", "\\udc9d\\ud83d"),
            (
                "\u202eevil\u2066\u2069\u200e\u200f\u061c",
                "\\u202eevil\\u2066\\u2069\\u200e\\u200f\\u061c",
            ),
            ("émoji 🧪 \u00a0 ünïcode \ufffd", "émoji 🧪 \u00a0 ünïcode \ufffd"),
            ("[/] [bold]", "[/] [bold]"),
        ],
    )
    def test_controls_are_made_visible(self, raw: str, shown: str) -> None:
        """Every C0, DEL, C1, separator, bidirectional control and lone surrogate becomes a
        backslash escape; printable text, markup included, is left alone."""
        assert visible(raw) == shown

    def test_newlines_are_kept_only_when_intended(self) -> None:
        assert visible("one\ntwo") == "one\\ntwo"
        assert visible("one\ntwo\r\x1b", newlines=True) == "one\ntwo\\r\\x1b"

    def test_nothing_is_cut_short(self) -> None:
        assert visible(HUGE_TEXT) == HUGE_TEXT
        assert visible(12) == "12"

    @pytest.mark.parametrize(
        "raw", [*MARKUP_TEXT, *CONTROL_TEXT, "ends with \\", "\\[bold]", "[/]\\", "[[/]]"]
    )
    def test_markup_is_never_interpreted(self, raw: str) -> None:
        """:func:`text` and :func:`styled` are never parsed as markup."""
        assert text(raw).plain == visible(raw) and text(raw, "bold").style == "bold"
        line = styled(("error:", "red"), " ", raw)
        assert line.plain == f"error: {visible(raw)}"
        assert [(span.start, span.end, span.style) for span in line.spans] == [(0, 6, "red")]

    def test_rendered_text_holds_no_control(self) -> None:
        """Through a rich console (as the commands print), nothing raw reaches the output."""
        console = Console(file=io.StringIO(), width=80, emoji=False, highlight=False)
        for raw in (*MARKUP_TEXT, *CONTROL_TEXT):
            console.print(text(raw), styled(("x", "red"), raw, newlines=True))
            terminal.sync_result(console, _result(raw), console)
        output = console.file.getvalue()  # type: ignore[attr-defined]
        assert not raw_controls(output)


def _result(raw: str) -> dict[str, Any]:
    return {
        "status": "failed",
        "run_id": 1,
        "observed_at": "2026-03-01T00:00:00Z",
        "error": raw,
        "warnings": [raw],
    }


class TestJson:
    def test_lone_surrogate_reaches_stdout(self) -> None:
        """A lone surrogate is written as a JSON escape: no UnicodeEncodeError on a real
        stdout, and the same string for a JSON reader."""
        code = (
            "from etl.cli.common import make_console; from etl.reports import terminal;"
            " terminal.print_json(make_console(), {'name': '\\udc9d \\x1b é'})"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            cwd=TESTS.parent,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            timeout=60,
            check=True,
        )
        assert done.stderr == b""
        assert json.loads(done.stdout) == {"name": "\udc9d \x1b é"}
        assert "é" in done.stdout.decode("utf-8")  # non-ASCII stays as it is


class TestCsv:
    @pytest.mark.parametrize(
        ("raw", "written"),
        [
            ("=1+2", "'=1+2"),
            ('=HYPERLINK("https://example.invalid")', '\'=HYPERLINK("https://example.invalid")'),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-1e5", "'-1e5"),
            ("-35", "-35"),
            ("+35", "+35"),
            ("-33.33", "-33.33"),
            ("0.000003", "0.000003"),
            ("1600", "1600"),
            ("-.5", "-.5"),
            ("a=1", "a=1"),
            ("", ""),
        ],
    )
    def test_formulas_are_neutralized(self, raw: str, written: str) -> None:
        """OWASP: a leading =, +, -, @, tab or CR gets a quote; a plain number stays one."""
        assert spreadsheet_cell(raw) == written

    def test_cells(self) -> None:
        """Control characters become visible first (a leading tab is then plain text);
        newlines inside a cell are kept; lists and dicts are JSON."""
        assert cell_text("\t=1") == "\\t=1"
        assert cell_text("=a\nb\x1b") == "'=a\nb\\x1b"
        assert cell_text(["=x"]) == '["=x"]'
        assert cell_text(None) == ""
        assert cell_text(ANSI_CLEAR) == "\\x1b[2J\\x1b[H"


class TestNamesThatAreNotText:
    def test_a_file_name_that_is_not_utf8_is_recorded(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """`sync --file` of a file whose name holds bytes that are not UTF-8 syncs, and the
        run records the name with those bytes as escapes (it used to fail to be stored)."""
        name = os.fsdecode(b"bad\xff.json")
        (tmp_path / name).write_text(json.dumps({"data": [make_model("a/one")]}))
        result = CliRunner().invoke(
            cli,
            [
                "sync",
                "--file",
                str(tmp_path / name),
                "--database-url",
                database_url,
                "--format",
                "json",
            ],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["source"].endswith("bad\\xff.json")

    @pytest.mark.parametrize("model_id", ["evil/\u2028ls", "evil/\u202etxt", "evil/\x85"])
    def test_ids_with_invisible_controls_are_rejected(self, engine: Engine, model_id: str) -> None:
        """A model id holding a line separator, a bidirectional control or a C1 control is
        rejected with a warning, as one with an ASCII control is."""
        from etl.pipeline import sync_bytes

        result = sync_bytes(engine, payload([make_model(model_id), make_model("a/fine")]))
        assert result.ok and result.added == 1
        assert any("control characters" in warning for warning in result.warnings)
