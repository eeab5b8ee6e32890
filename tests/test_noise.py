"""Rounding noise: a price that moves by less than one part in a million (float leftovers
such as 0.0000000299999997 for 0.00000003) is stored exactly, but reports list it apart
from the real price moves, in every format and command, unless --include-noise."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from etl.cli import cli
from etl.ingest.money import DYNAMIC, Price
from etl.pipeline import sync_bytes
from etl.read.noise import ROUNDING_NOISE_THRESHOLD, is_rounding_noise
from etl.times import parse_time
from tests.helpers import make_model, payload

WINDOW = ("--since", "2026-01-01T12:00:00Z", "--until", "2026-01-03")
NOISY = "acme/noisy"
"""input_cache_read 0.00000003 -> 0.0000000299999997 on day 2 (noise), completion a real
cut on day 2 and prompt the float leftover back to its round value (noise) on day 2."""


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == expect, result.output
    return result.output


def diff_json(url: str, *extra: str) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        run("diff", *WINDOW, *extra, "--database-url", url, "--format", "json")
    )
    return document


def changes(items: object) -> list[tuple[str, str, str | None, str | None]]:
    """Each price change as (model, component, old, new)."""
    assert isinstance(items, list)
    return [(c["model"], c["component"], c["old"], c["new"]) for c in items]


@pytest.fixture
def url(database_url: str, engine: Engine) -> str:
    """Two days of a small catalog: noise, real moves, and changes to or from dynamic,
    unpriced and 0 that are tiny but never noise."""
    day1 = [
        make_model(
            NOISY,
            pricing={
                "prompt": "0.0000001300000002",
                "completion": "0.000002",
                "input_cache_read": "0.00000003",
            },
        ),
        make_model("acme/small-move", pricing={"prompt": "0.00000025", "completion": "0"}),
        make_model("acme/dynamic", pricing={"prompt": "-1"}),
        make_model("acme/free", pricing={"prompt": "0"}),
        make_model("acme/unpriced", pricing=None),
        make_model("acme/only-noise", pricing={"prompt": "0.0000000100000002"}),
    ]
    del day1[4]["pricing"]
    day2 = [
        make_model(
            NOISY,
            pricing={
                "prompt": "0.00000013",
                "completion": "0.0000015",
                "input_cache_read": "0.0000000299999997",
            },
        ),
        # 0.8%: small, but a real move.
        make_model("acme/small-move", pricing={"prompt": "0.000000252", "completion": "0"}),
        make_model("acme/dynamic", pricing={"prompt": "0.0000000000000001"}),
        make_model("acme/free", pricing={"prompt": "0.0000000000000001"}),
        make_model("acme/unpriced", pricing={"prompt": "0.0000000000000001"}),
        make_model("acme/only-noise", pricing={"prompt": "0.00000001"}),
    ]
    for models, day in ((day1, "2026-01-01"), (day2, "2026-01-02")):
        result = sync_bytes(engine, payload(models), observed_at=parse_time(day))
        assert result.ok, result.error
    return database_url


class TestRule:
    def test_threshold_is_one_part_in_a_million(self) -> None:
        """The threshold is a Decimal constant, 1e-6 of the old price, compared strictly."""
        assert Decimal("0.000001") == ROUNDING_NOISE_THRESHOLD
        assert isinstance(ROUNDING_NOISE_THRESHOLD, Decimal)
        assert is_rounding_noise(Decimal("1"), Decimal("1.0000009"))
        assert not is_rounding_noise(Decimal("1"), Decimal("1.000001"))
        assert is_rounding_noise(Decimal("0.0000000299999997"), Decimal("0.00000003"))
        assert not is_rounding_noise(Decimal("0.00000025"), Decimal("0.000000252"))

    def test_exact_for_long_decimals(self) -> None:
        """Decimals longer than the default 28-digit context are compared without rounding:
        1.000001 - 1e-40 is just below the threshold from 1 (28 digits would round it up to
        1.000001, which is not noise)."""
        just_below = Decimal("1." + "0" * 6 + "9" * 34)
        assert is_rounding_noise(Decimal(1), just_below)
        assert not is_rounding_noise(Decimal(1), Decimal("1.000001"))

    def test_dynamic_unpriced_and_zero_are_never_noise(self) -> None:
        """Changes to or from dynamic, unpriced (None) or 0 are never noise, however small."""
        tiny = Decimal("1e-30")
        cases: list[tuple[Price | None, Price | None]] = [
            (DYNAMIC, tiny),
            (tiny, DYNAMIC),
            (None, tiny),
            (tiny, None),
        ]
        for old, new in cases:
            assert not is_rounding_noise(old, new)
        assert not is_rounding_noise(Decimal(0), tiny)
        assert not is_rounding_noise(tiny, Decimal(0))


class TestDiff:
    def test_noise_is_listed_apart(self, url: str) -> None:
        """JSON: noise is in `rounding_noise`, not in `price_changes`, with its exact
        values; it is counted apart, and a model with noise alone is not repriced."""
        document = diff_json(url)
        assert changes(document["rounding_noise"]) == [
            ("acme/noisy", "prompt", "0.0000001300000002", "0.00000013"),
            ("acme/noisy", "input_cache_read", "0.00000003", "0.0000000299999997"),
            ("acme/only-noise", "prompt", "0.0000000100000002", "0.00000001"),
        ]
        real = changes(document["price_changes"])
        assert ("acme/noisy", "completion", "0.000002", "0.0000015") in real
        assert ("acme/small-move", "prompt", "0.00000025", "0.000000252") in real
        summary = document["summary"]
        assert summary["rounding_noise"] == 3  # type: ignore[index]
        assert summary["price_changes"] == len(real) == 5  # type: ignore[index]
        assert summary["repriced_models"] == 5  # type: ignore[index]
        assert document["include_noise"] is False

    def test_dynamic_unpriced_and_zero_stay_price_changes(self, url: str) -> None:
        """A tiny price after dynamic, unpriced or 0 is a price change, not noise."""
        real = changes(diff_json(url)["price_changes"])
        for model, old in (("acme/dynamic", "dynamic"), ("acme/free", "0")):
            assert (model, "prompt", old, "0.0000000000000001") in real
        assert ("acme/unpriced", "prompt", None, "0.0000000000000001") in real

    def test_include_noise_lists_them_with_the_moves(self, url: str) -> None:
        """--include-noise puts the noise among the price changes and counts it with them."""
        document = diff_json(url, "--include-noise")
        assert document["rounding_noise"] == [] and document["include_noise"] is True
        assert len(document["price_changes"]) == 8  # type: ignore[arg-type]
        summary = document["summary"]
        assert (summary["rounding_noise"], summary["repriced_models"]) == (0, 6)  # type: ignore[index]
        assert (summary["price_cuts"], summary["price_increases"]) == (4, 2)  # type: ignore[index]

    def test_events_keep_noise_apart_too(self, url: str) -> None:
        """--events lists noise apart, with its time."""
        document = diff_json(url, "--events")
        assert [(c["model"], c["at"]) for c in document["rounding_noise"]] == [  # type: ignore[attr-defined]
            (NOISY, "2026-01-02T00:00:00Z"),
            (NOISY, "2026-01-02T00:00:00Z"),
            ("acme/only-noise", "2026-01-02T00:00:00Z"),
        ]
        assert diff_json(url, "--events", "--include-noise")["rounding_noise"] == []

    def test_storage_keeps_the_exact_amounts(self, url: str) -> None:
        """Nothing is rounded away: the stored prices are the texts the gateway sent."""
        document = json.loads(run("history", NOISY, "--database-url", url, "--format", "json"))
        stored = {(p["component"], p["price"]) for p in document["prices"]}
        assert ("input_cache_read", "0.0000000299999997") in stored
        assert ("prompt", "0.0000001300000002") in stored


class TestFormats:
    def test_table(self, url: str) -> None:
        """The terminal shows a `rounding noise` table, its change muted and never `+0%`."""
        out = run("diff", *WINDOW, "--database-url", url)
        assert "rounding noise (3)" in out and "price changes (5)" in out
        assert "3 rounding noise" in out
        assert "+0%" not in out and "−0.00000015%" in out
        included = run("diff", *WINDOW, "--include-noise", "--database-url", url)
        assert "rounding noise" not in included and "price changes (8)" in included

    def test_markdown(self, url: str) -> None:
        """Markdown: its own section, the threshold stated, no bold on the noise."""
        out = run("diff", *WINDOW, "--database-url", url, "--format", "markdown")
        section = out.split("## Rounding noise (3)")[1].split("##")[0]
        assert "| `acme/noisy` | `input_cache_read` | 0.00000003 | 0.0000000299999997 |" in section
        assert "**" not in section and "−0.000001%" in section
        assert "smaller than 0.0001% of the old price are rounding noise" in out
        assert "**3** rounding noise" in out
        included = run(
            "diff", *WINDOW, "--include-noise", "--database-url", url, "--format", "markdown"
        )
        assert "Rounding noise" not in included and "## Price changes (8)" in included

    def test_csv(self, url: str) -> None:
        """CSV: noise rows are section `rounding_noise`, price moves section `price`."""
        rows = list(
            csv.DictReader(
                io.StringIO(run("diff", *WINDOW, "--database-url", url, "--format", "csv"))
            )
        )
        sections = [row["section"] for row in rows]
        assert (sections.count("rounding_noise"), sections.count("price")) == (3, 5)
        (noise,) = [
            r
            for r in rows
            if r["section"] == "rounding_noise" and r["component"] == "input_cache_read"
        ]
        assert (noise["old"], noise["new"]) == ("0.00000003", "0.0000000299999997")
        included = run("diff", *WINDOW, "--include-noise", "--database-url", url, "--format", "csv")
        assert "rounding_noise" not in included

    def test_html(self, url: str) -> None:
        """HTML: a `rounding_noise` section with its count card, the change muted."""
        page = run("diff", *WINDOW, "--database-url", url, "--format", "html")
        assert '<section id="rounding_noise">' in page
        assert '<li class="card"><b>3</b><span>rounding noise</span></li>' in page
        section = page.split('<section id="rounding_noise">')[1].split("</section>")[0]
        assert '<td class="num muted">−0.000001%</td>' in section
        assert "increase" not in section and "cut" not in section

    def test_report_files(self, url: str, tmp_path: Path) -> None:
        """`report` keeps noise apart in HTML and Markdown (and charts only real moves);
        --include-noise brings it back."""
        page = tmp_path / "r.html"
        out = run("report", *WINDOW, "--out", str(page), "--database-url", url)
        assert "3 rounding noise" in out
        assert '<section id="rounding_noise">' in page.read_text()
        assert "acme/only-noise (Acme" not in page.read_text()  # no chart of noise alone
        notes = tmp_path / "r.md"
        run("report", *WINDOW, "--include-noise", "--out", str(notes), "--database-url", url)
        assert "Rounding noise" not in notes.read_text()
        assert "## Price changes (8)" in notes.read_text()

    def test_history(self, url: str) -> None:
        """`history` lists a model's noise apart (JSON `rounding_noise`), or with the
        price changes under --include-noise."""
        out = run("history", NOISY, "--database-url", url, "--format", "markdown")
        assert "## Rounding noise (2)" in out and "## Price changes (1)" in out
        document = json.loads(run("history", NOISY, "--database-url", url, "--format", "json"))
        assert [c["component"] for c in document["rounding_noise"]] == [
            "prompt",
            "input_cache_read",
        ]
        included = json.loads(
            run("history", NOISY, "--include-noise", "--database-url", url, "--format", "json")
        )
        assert (len(included["price_changes"]), included["rounding_noise"]) == (3, [])
