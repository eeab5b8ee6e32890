"""Changes inside long texts and unknown fields: a description cut short, a name that only
lost a space, keys appearing in `extra`. Reports show what changed (a compact word diff,
the keys with their values), never two values that read the same; JSON and HTML keep the
full texts."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from etl.cli import cli
from etl.pipeline import sync_bytes
from etl.read.changes import FieldChange
from etl.read.text_changes import change_detail, character_counts, text_pieces
from etl.reports.markdown import escape as markdown_escape
from etl.reports.text_diff import change_text, object_diff, text_diff, values_diff
from etl.times import parse_time
from tests.helpers import make_model, payload

WINDOW = ("--since", "2026-01-01T12:00:00Z", "--until", "2026-01-03")
LONG = (
    "Jamba Large 1.7 is the latest model in the Jamba open family, offering improvements in"
    " grounding, instruction-following, and overall efficiency. Built on a hybrid"
    " SSM-Transformer architecture with a 256K context window, it delivers more accurate,"
    " contextually grounded responses and better steerability than previous versions."
)
"""A real description (ai21/jamba-large-1.7), which OpenRouter later cut to 214 characters."""
CUT = LONG[:211] + "..."
MIDDLE = LONG.replace("256K context window", "512K context window")


def change(field: str, old: object, new: object) -> FieldChange:
    return FieldChange("openrouter", "acme/x", "acme", "X", field, old, new)


def markers(text: str) -> list[tuple[str, str]]:
    """The ``[-old-]`` and ``{+new+}`` of a diff, each change as (old, new)."""
    pattern = r"(?:\[-(.*?)-\])?(?:\{\+(.*?)\+\})?"
    return [(m[0], m[1]) for m in re.findall(pattern, text) if m[0] or m[1]]


class TestWordDiff:
    def test_a_cut_description(self) -> None:
        """A description cut short shows the characters removed and added, the words just
        before the cut, and the start and end of what was removed."""
        shown = text_diff(LONG, CUT)
        assert shown.startswith("−114 +2 chars: … architecture with a 256K [-context window, it")
        assert shown.endswith("previous versions.-]{+context...+}")
        assert len(shown) < 200

    def test_a_change_in_the_middle(self) -> None:
        """A word changed in the middle shows that word, with a few words either side."""
        assert text_diff(LONG, MIDDLE) == (
            "−3 +3 chars: … architecture with a [-256K-]{+512K+} context window, it delivers …"
        )

    def test_whitespace_alone_is_made_visible(self) -> None:
        """A lost space, or newlines turned into a space, still shows: whitespace that is
        the whole change is written visibly."""
        assert text_diff("Acme: Rocket 1 ", "Acme: Rocket 1") == "−1 +0 chars: Acme: Rocket 1[-␣-]"
        assert text_diff("First.\n\nSecond.", "First. Second.") == (
            "−2 +1 chars: First.[-\\n\\n-]{+␣+}Second."
        )
        assert values_diff("GPT-4o  mini", "GPT-4o mini", 60) == (
            "−1 +0 chars: GPT-4o[-␣␣-]{+␣+}mini"
        )

    def test_many_changes_are_counted(self) -> None:
        """Only the first changes are shown; the others are counted."""
        old = " ".join(f"word{i}" for i in range(40))
        new = " ".join(f"word{i}" if i % 5 else f"WORD{i}" for i in range(40))
        shown = text_diff(old, new)
        assert len(markers(shown)) == 3 and shown.endswith("(5 more changes)")

    def test_a_huge_text_differing_at_the_end(self) -> None:
        """A 1 MB name that gains one character: the cut keeps the character that differs."""
        shown = text_diff("H" * 1_000_000, "H" * 1_000_000 + "!")
        ((old, new),) = markers(shown)
        assert old != new and new.endswith("!") and len(shown) < 200

    def test_pieces_give_both_texts_back(self) -> None:
        """The pieces of a diff, joined, are the old and the new text exactly."""
        for old, new in (
            (LONG, CUT),
            (LONG, MIDDLE),
            ("a  b", "a b c"),
            ("", "x"),
            ("x" * 9000, "y"),
        ):
            pieces = text_pieces(old, new)
            assert "".join(p.old for p in pieces) == old
            assert "".join(p.new for p in pieces) == new
        # "versions." and "context..." share "context" and the final dot.
        assert character_counts(LONG, CUT) == (114, 2)

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet="ab .\n\t", max_size=120),
        st.text(alphabet="ab .\n\t", max_size=120),
    )
    def test_old_and_new_never_read_the_same(self, old: str, new: str) -> None:
        """Whatever two different texts, the cell shows a change whose two sides differ,
        also once Markdown has collapsed its whitespace."""
        if old == new:
            return
        shown = values_diff(old, new, 20)
        if "chars:" not in shown:
            before, after = (" ".join(markdown_escape(side).split()) for side in shown.split(" → "))
            assert before != after and before and after, shown
        else:
            pairs = markers(shown)
            assert pairs and pairs[0][0] != pairs[0][1], shown


class TestObjects:
    def test_keys_added_removed_and_changed(self) -> None:
        """`extra` shows each key that changed, with its old and new values as JSON."""
        old: dict[str, object] = {
            "per_request_limits": None,
            "expiration_date": None,
            "default_parameters": {},
        }
        new: dict[str, object] = {
            "per_request_limits": None,
            "default_parameters": {"temperature": 0.6},
            "knowledge_cutoff": "2025-01-31",
        }
        assert object_diff(old, new, 60) == (
            'default_parameters: {} → {"temperature": 0.6}; −expiration_date: null;'
            ' +knowledge_cutoff: "2025-01-31"'
        )
        assert change_detail(old, new) == {
            "keys_added": ["knowledge_cutoff"],
            "keys_removed": ["expiration_date"],
            "keys_changed": ["default_parameters"],
        }

    def test_a_long_value_inside_extra(self) -> None:
        """A long text under a key is diffed like a description."""
        shown = change_text(change("extra", {"notes": LONG}, {"notes": MIDDLE}))
        assert shown.startswith("notes: −3 +3 chars: …") and "[-256K-]{+512K+}" in shown

    def test_values_that_read_the_same(self) -> None:
        """None and "-", or "" and None, are told apart by their JSON."""
        assert values_diff(None, "-", 60) == 'null → "-"'
        assert change_text(change("hugging_face_id", "org/model", "")) == 'org/model → ""'


@pytest.fixture
def url(database_url: str, engine: Engine) -> str:
    """A description cut short, a name that lost a trailing space, newlines that became a
    space, and `extra` gaining and losing keys, between two days."""
    day1 = [
        make_model("acme/jamba", description=LONG, expiration_date=None, default_parameters={}),
        make_model("acme/spaces", name="Acme: Spaces ", description="First.\n\nSecond."),
    ]
    day2 = [
        make_model(
            "acme/jamba",
            description=CUT,
            default_parameters={},
            knowledge_cutoff="2024-08-31",
            links={"details": "/api/v1/models/ai21/jamba-large-1.7/endpoints"},
        ),
        make_model("acme/spaces", name="Acme: Spaces", description="First. Second."),
    ]
    for models, day in ((day1, "2026-01-01"), (day2, "2026-01-02")):
        result = sync_bytes(engine, payload(models), observed_at=parse_time(day))
        assert result.ok, result.error
    return database_url


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def diff(url: str, output_format: str) -> str:
    return run("diff", *WINDOW, "--database-url", url, "--format", output_format)


class TestCommands:
    def test_table(self, url: str) -> None:
        """The terminal shows each change whole: the cut, the keys, the lost space."""
        out = " ".join(diff(url, "table").replace("│", " ").split())
        assert "other changes (4)" in out
        assert "−114 +2 chars: … architecture with a 256K [-context window, it" in out
        assert '+knowledge_cutoff: "2024-08-31"' in out and "−expiration_date: null" in out
        assert "Acme: Spaces[-␣-]" in out and "First.[-\\n\\n-]{+␣+}Second." in out

    def test_markdown(self, url: str) -> None:
        """Markdown shows the same, escaped, never cut to look the same."""
        out = diff(url, "markdown")
        assert "| `acme/spaces` | `name` | −1 +0 chars: Acme: Spaces\\[-␣-\\] |" in out
        assert '+links: {"details": "/api/v1/models/ai21/jamba-large-1.7/endpoints"}' in out

    def test_json_keeps_the_full_texts(self, url: str) -> None:
        """JSON has both whole texts, with the characters removed and added, and for
        `extra` the keys added, removed and changed."""
        document = json.loads(diff(url, "json"))
        by_field = {(c["model"], c["field"]): c for c in document["changes"]}
        description = by_field[("acme/jamba", "description")]
        assert (description["old"], description["new"]) == (LONG, CUT)
        assert (description["chars_removed"], description["chars_added"]) == (114, 2)
        extra = by_field[("acme/jamba", "extra")]
        assert extra["keys_added"] == ["knowledge_cutoff", "links"]
        assert extra["keys_removed"] == ["expiration_date"]
        assert extra["new"]["knowledge_cutoff"] == "2024-08-31"
        assert by_field[("acme/spaces", "name")]["new"] == "Acme: Spaces"

    def test_html_folds_the_full_texts_away(self, url: str) -> None:
        """HTML shows the diff, with both whole texts behind a "full text" fold."""
        page = diff(url, "html")
        row = next(line for line in page.splitlines() if "<code>description</code>" in line)
        assert "[-context window, it" in row and "<summary>full text</summary>" in row
        assert f"<dt>old</dt><dd>{LONG}</dd><dt>new</dt><dd>{CUT}</dd>" in row

    def test_csv_keeps_the_full_texts(self, url: str) -> None:
        """CSV has both whole texts, as before."""
        rows = list(csv.DictReader(io.StringIO(diff(url, "csv"))))
        (row,) = [r for r in rows if r["field"] == "description" and r["model"] == "acme/jamba"]
        assert (row["old"], row["new"]) == (LONG, CUT)

    def test_history_shows_the_keys(self, url: str) -> None:
        """`history` names the keys of `extra` that changed in each version."""
        out = run("history", "acme/jamba", "--database-url", url, "--format", "markdown")
        assert 'extra −expiration\\_date: null; +knowledge\\_cutoff: "2024-08-31"' in out
