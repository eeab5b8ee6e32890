"""`diff --format csv`: every row has the same columns, and the rows of models added,
returned or removed carry the model's context length and prices (a removed model's last
ones before it left), net and with --events."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from etl.cli import cli
from etl.pipeline import sync_bytes
from etl.reports.csv_out import CHANGE_COLUMNS
from etl.times import parse_time
from tests.helpers import make_model, payload

WINDOW = ("--since", "2026-01-01T12:00:00Z", "--until", "2026-01-05")
MODEL_COLUMNS = ("context_length", "prompt_per_million", "completion_per_million", "pricing")


@pytest.fixture
def url(database_url: str, engine: Engine) -> str:
    """acme/leaving grows its context and doubles its price on day 2, then is gone on day
    3, when acme/stays halves its prompt price; acme/new (priced), acme/router (dynamic) and
    acme/open (free) arrive on day 2, acme/unpriced (no pricing block) on day 3."""
    stays = make_model("acme/stays")
    unpriced = make_model("acme/unpriced", context_length=32000)
    del unpriced["pricing"]
    days = {
        "2026-01-01": [stays, make_model("acme/leaving")],
        "2026-01-02": [
            stays,
            make_model(
                "acme/leaving",
                context_length=200000,
                pricing={"prompt": "0.000002", "completion": "0.000004", "web_search": "0.01"},
            ),
            make_model("acme/new", context_length=1000000, pricing={"prompt": "0.0000003"}),
            make_model("acme/router", pricing={"prompt": "-1", "completion": "-1"}),
            make_model("acme/open", pricing={"prompt": "0", "completion": "0"}),
        ],
        "2026-01-03": [
            make_model("acme/stays", pricing={"prompt": "0.0000005", "completion": "0.000002"}),
            make_model("acme/new", context_length=1000000, pricing={"prompt": "0.0000003"}),
            make_model("acme/router", pricing={"prompt": "-1", "completion": "-1"}),
            make_model("acme/open", pricing={"prompt": "0", "completion": "0"}),
            unpriced,
        ],
    }
    for day, models in days.items():
        result = sync_bytes(engine, payload(models), observed_at=parse_time(day))
        assert result.ok, result.error
    return database_url


def csv_rows(url: str, *extra: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The header, and the model rows by model id."""
    result = CliRunner().invoke(
        cli,
        ["diff", *WINDOW, *extra, "--database-url", url, "--format", "csv"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.output))
    rows = list(reader)
    for row in rows:
        assert None not in row and None not in row.values()  # every row, every column
    by_model = {r["model"]: r for r in rows if r["section"] in ("added", "removed", "returned")}
    return list(reader.fieldnames or ()), by_model


@pytest.mark.parametrize("events", [(), ("--events",)], ids=["net", "events"])
class TestModelRows:
    def test_every_row_has_the_same_columns(self, url: str, events: tuple[str, ...]) -> None:
        """The header lists the change columns and then the model columns."""
        header, _ = csv_rows(url, *events)
        assert header == list(CHANGE_COLUMNS)
        assert tuple(header[-4:]) == MODEL_COLUMNS

    def test_added_rows_carry_the_new_state(self, url: str, events: tuple[str, ...]) -> None:
        """An added model's row has its context and prices: per 1M tokens, and every
        component per unit as JSON; dynamic reads dynamic, free 0 and {}, unpriced empty."""
        _, rows = csv_rows(url, *events)
        new = rows["acme/new"]
        assert (new["section"], new["context_length"], new["prompt_per_million"]) == (
            "added",
            "1000000",
            "0.3",
        )
        assert new["completion_per_million"] == "0"
        assert json.loads(new["pricing"]) == {"prompt": "0.0000003"}
        router, free = rows["acme/router"], rows["acme/open"]
        assert (router["prompt_per_million"], json.loads(router["pricing"])) == (
            "dynamic",
            {"completion": "dynamic", "prompt": "dynamic"},
        )
        assert (free["prompt_per_million"], free["pricing"]) == ("0", "{}")
        unpriced = rows["acme/unpriced"]
        assert unpriced["context_length"] == "32000"
        assert [unpriced[c] for c in MODEL_COLUMNS[1:]] == ["", "", ""]

    def test_removed_rows_carry_the_last_state(self, url: str, events: tuple[str, ...]) -> None:
        """A removed model's row has its state just before it left, not at --since."""
        _, rows = csv_rows(url, *events)
        leaving = rows["acme/leaving"]
        assert leaving["section"] == "removed"
        assert [leaving[c] for c in MODEL_COLUMNS[:3]] == ["200000", "2", "4"]
        assert json.loads(leaving["pricing"]) == {
            "completion": "0.000004",
            "prompt": "0.000002",
            "web_search": "0.01",
        }

    def test_change_rows_leave_the_model_columns_empty(
        self, url: str, events: tuple[str, ...]
    ) -> None:
        """Price and field changes say what changed in old and new; the model columns are
        empty there."""
        result = CliRunner().invoke(
            cli, ["diff", *WINDOW, *events, "--database-url", url, "--format", "csv"]
        )
        changes = [
            row
            for row in csv.DictReader(io.StringIO(result.output))
            if row["section"] not in ("added", "removed", "returned")
        ]
        assert ("price", "acme/stays") in [(row["section"], row["model"]) for row in changes]
        assert all(row[c] == "" for row in changes for c in MODEL_COLUMNS)
