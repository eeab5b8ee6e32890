"""The Atom feed of changes: `catalog-etl feed` and serve's `/feed.xml`, on SQLite and
PostgreSQL, read back with feedparser (as feed readers do) and checked against Atom's rules
with the standard library's XML parser."""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from etl.cli import cli
from etl.pipeline import sync_bytes
from etl.read.changes import ChangeReport, FieldChange, ModelChange, PriceChange
from etl.read.queries import NO_FILTERS
from etl.read.run_changes import RunChanges, run_changes
from etl.reports.feed import database_feed, render
from etl.service.metrics import FeedMaker, Metrics
from tests.helpers import (
    daily_files,
    hostile_models,
    make_model,
    observed_at,
    payload,
    raw_controls,
    read_bytes,
)
from tests.test_metrics import free_port

ATOM = "{http://www.w3.org/2005/Atom}"
EVIL = "acme/evil"
EVIL_NAME = "Evil \x1b[2J\x00 \ufffe\uffff <script>alert(1)</script> & co"


def run_feed(database_url: str, *args: str, expect: int = 0) -> bytes:
    """`catalog-etl feed` through click's runner: its stdout, as bytes."""
    result = CliRunner().invoke(
        cli, ["feed", "--database-url", database_url, *args], catch_exceptions=False
    )
    assert result.exit_code == expect, result.output
    return result.stdout_bytes


def parse(document: bytes) -> Any:
    """The feed as a feed reader sees it; a feed it had to guess at fails the test."""
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def rfc3339(text: str | None) -> datetime:
    assert text, "a date is missing"
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def check_atom(document: bytes) -> ET.Element:
    """Atom (RFC 4287) rules a reader relies on: the feed has one id, title and updated and
    an author; every entry has one id, title and updated and content (there is no alternate
    link); ids are unique; the feed's updated is its newest entry's; nothing links out."""
    root = ET.fromstring(document)
    assert root.tag == f"{ATOM}feed"
    for element in (root, *root.findall(f"{ATOM}entry")):
        for name in ("id", "title", "updated"):
            found = element.findall(f"{ATOM}{name}")
            assert len(found) == 1 and (found[0].text or "").strip(), (element.tag, name)
        rfc3339(element.findtext(f"{ATOM}updated"))
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "catalog-etl"
    entries = root.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(set(ids)) == len(ids)
    for entry in entries:
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html" and content.text
        assert "<a " not in content.text and "<img" not in content.text
    if entries:
        newest = max(rfc3339(entry.findtext(f"{ATOM}updated")) for entry in entries)
        assert rfc3339(root.findtext(f"{ATOM}updated")) == newest
    assert not [element for element in root.iter() if element.tag == f"{ATOM}link"]
    assert not [element for element in root.iter() if "href" in element.attrib]
    return root


def sync(engine: Engine, models: list[dict[str, Any]], at: datetime) -> int:
    result = sync_bytes(engine, payload(models), observed_at=at)
    assert result.status == "succeeded", result.error
    return result.run_id


def rocket(prompt: str = "0.000001", **changes: Any) -> dict[str, Any]:
    return make_model(
        "acme/rocket-1", pricing={"prompt": prompt, "completion": "0.000002"}, **changes
    )


def steady(prompt: str = "0.000001") -> dict[str, Any]:
    return make_model(
        "acme/steady", name="Acme: Steady", pricing={"prompt": prompt, "completion": "0.000002"}
    )


class History:
    """Four syncs, ten to seven days ago: the first observation; a price cut and a model
    added; rounding noise alone; a removal, a capability change and a rename."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        now = datetime.now(UTC).replace(microsecond=0)
        self.times = [now - timedelta(days=10 - day) for day in range(4)]
        newcomer = make_model("acme/new-1", name="Acme: New 1")
        self.runs = [
            sync(engine, [rocket(), steady()], self.times[0]),
            sync(engine, [rocket("0.00000075"), steady(), newcomer], self.times[1]),
            sync(
                engine,
                [rocket("0.00000075"), steady("0.0000009999999997"), newcomer],
                self.times[2],
            ),
            sync(
                engine,
                [
                    rocket("0.00000075", name="Acme: Rocket One", context_length=256000),
                    steady("0.0000009999999997"),
                ],
                self.times[3],
            ),
        ]

    def add(self, models: list[dict[str, Any]]) -> int:
        self.times.append(self.times[-1] + timedelta(days=1))
        self.runs.append(sync(self.engine, models, self.times[-1]))
        return self.runs[-1]


@pytest.fixture
def history(engine: Engine) -> History:
    return History(engine)


def tag(run_id: int, at: datetime) -> str:
    return f"tag:catalog-etl,2025:changes/run/{run_id}/{at:%Y%m%dT%H%M%S}Z"


class TestEntries:
    def test_one_entry_per_sync_with_news(self, history: History, database_url: str) -> None:
        """Newest first, one entry per sync that changed something: not the first
        observation (every model "added") and not a sync that was rounding noise alone;
        titles count the changes, updated is the observation time."""
        parsed = parse(run_feed(database_url))
        entries = parsed.entries
        assert [entry.id for entry in entries] == [
            tag(history.runs[3], history.times[3]),
            tag(history.runs[1], history.times[1]),
        ]
        assert [entry.title for entry in entries] == [
            "1 removed, 1 capability change, 1 other change",
            "1 price cut, 1 added",
        ]
        assert [rfc3339(entry.updated) for entry in entries] == [
            history.times[3],
            history.times[1],
        ]
        assert parsed.feed.title == "Model catalog changes"
        assert rfc3339(parsed.feed.updated) == history.times[3]

    def test_content_lists_the_changes(self, history: History, database_url: str) -> None:
        """A price cut shows its old and new price per 1M tokens and the percentage; an added
        or removed model its prices; field changes old → new; rounding noise is left out."""
        document = run_feed(database_url)
        newest, cut = (entry.content[0].value for entry in parse(document).entries)
        assert "acme/rocket-1</code> prompt: 1 → 0.75 USD per 1M tokens (\u221225%)" in cut
        assert "acme/new-1</code> (Acme: New 1): context 128000; prompt 1, completion 2" in cut
        assert "acme/new-1</code> (Acme: New 1)" in newest  # removed, with its last prices
        assert "context_length: 128000 → 256000" in newest
        assert "name: Acme: Rocket 1 → Acme: Rocket One" in newest
        assert "steady" not in document.decode()  # its only change was rounding noise
        check_atom(document)

    def test_rounding_noise_is_counted_not_listed(self, engine: Engine, database_url: str) -> None:
        """A sync with a real move and rounding noise lists the move and says how much noise
        it left out."""
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        sync(engine, [rocket(), steady()], start)
        sync(engine, [rocket("0.000002"), steady("0.0000009999999997")], start + timedelta(1))
        (entry,) = parse(run_feed(database_url)).entries
        assert entry.title == "1 price increase"
        assert "1 price change smaller than one part in a million" in entry.content[0].value
        assert "acme/steady" not in entry.content[0].value


class TestStability:
    def test_same_database_same_bytes(self, history: History, database_url: str) -> None:
        """Two generations of the feed from one database are the same bytes: updated comes
        from the newest entry, never from the clock."""
        first = run_feed(database_url)
        assert run_feed(database_url) == first
        check_atom(first)

    def test_ids_survive_a_new_sync(self, history: History, database_url: str) -> None:
        """A new sync adds an entry at the top; the entries already published keep their
        ids, titles, times and content; the feed's updated moves to the new entry."""
        before = parse(run_feed(database_url)).entries
        run_id = history.add(
            [rocket("0.000001", name="Acme: Rocket One", context_length=256000), steady()]
        )
        document = run_feed(database_url)
        after = parse(document).entries
        assert after[0].id == tag(run_id, history.times[-1])
        assert after[0].title == "1 price increase"
        keys = ("id", "title", "updated", "content")
        assert [[entry[k] for k in keys] for entry in after[1:]] == [
            [entry[k] for k in keys] for entry in before
        ]
        root = check_atom(document)
        assert rfc3339(root.findtext(f"{ATOM}updated")) == history.times[-1]


class TestOptions:
    def test_since_and_limit(self, history: History, database_url: str) -> None:
        """--limit keeps the newest entries; --since leaves out older syncs."""
        newest = tag(history.runs[3], history.times[3])
        assert [e.id for e in parse(run_feed(database_url, "--limit", "1")).entries] == [newest]
        since = (history.times[2]).isoformat()
        assert [e.id for e in parse(run_feed(database_url, "--since", since)).entries] == [newest]
        assert parse(run_feed(database_url, "--since", "1d")).entries == []

    def test_limit_looks_past_runs_without_news(self, engine: Engine, database_url: str) -> None:
        """Syncs that were rounding noise alone take no place: --limit 2 still finds two
        entries behind three noisy syncs."""
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=9)
        sync(engine, [rocket(), steady()], start)
        sync(engine, [rocket("0.000002"), steady()], start + timedelta(1))
        sync(engine, [rocket("0.000003"), steady()], start + timedelta(2))
        for day, prompt in enumerate(("0.0000009999999997", "0.000001", "0.0000009999999997")):
            sync(engine, [rocket("0.000003"), steady(prompt)], start + timedelta(3 + day))
        entries = parse(run_feed(database_url, "--limit", "2")).entries
        assert [entry.title for entry in entries] == ["1 price increase", "1 price increase"]
        assert "(+50%)" in entries[0].content[0].value

    def test_title_id_and_out(self, history: History, database_url: str, tmp_path: Path) -> None:
        """--title and --id name the feed (entry ids start with the id); --out writes the
        same bytes to a file, replacing it whole, and says how many entries it holds."""
        (tmp_path / "www").mkdir()
        out = tmp_path / "www" / "changes.xml"
        out.write_text("old")
        args = ("--title", "Prices at Acme", "--id", "tag:example.com,2026:acme")
        result = CliRunner().invoke(
            cli, ["feed", "--database-url", database_url, *args, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert result.stdout == f"wrote {out} (2 entries)\n"
        assert out.read_bytes() == run_feed(database_url, *args)
        parsed = parse(out.read_bytes())
        assert parsed.feed.title == "Prices at Acme"
        assert parsed.feed.id == "tag:example.com,2026:acme"
        assert parsed.entries[0].id.startswith("tag:example.com,2026:acme/run/")
        assert [p.name for p in out.parent.iterdir()] == ["changes.xml"]  # no temporary left

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("--id", "not a uri"), "--id"),
            (("--id", "tag:example.com,2026:x#frag"), "--id"),
            (("--title", " "), "--title"),
            (("--limit", "0"), "--limit"),
        ],
    )
    def test_bad_options_are_usage_errors(
        self, database_url: str, args: tuple[str, ...], message: str
    ) -> None:
        """An id that is not an absolute URI (or has a fragment), an empty title, a limit
        below 1: exit 2 naming the option."""
        result = CliRunner().invoke(cli, ["feed", "--database-url", database_url, *args])
        assert result.exit_code == 2
        assert message in result.stderr

    def test_empty_history(self, engine: Engine, database_url: str) -> None:
        """No observation: a valid feed without entries, updated at the Unix epoch; after the
        first observation, still no entry, updated at that observation."""
        document = run_feed(database_url)
        check_atom(document)
        parsed = parse(document)
        assert parsed.entries == []
        assert rfc3339(parsed.feed.updated) == datetime(1970, 1, 1, tzinfo=UTC)
        first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        sync(engine, [rocket()], first)
        parsed = parse(run_feed(database_url))
        assert parsed.entries == []
        assert rfc3339(parsed.feed.updated) == first


class TestRealCatalogs:
    def test_daily_captures(self, engine: Engine, database_url: str) -> None:
        """Four real OpenRouter captures: the sync that repriced DeepSeek and the one that
        removed a model are entries; the one that changed nothing and the first are not."""
        files = daily_files()[:4]
        runs = [
            sync_bytes(engine, read_bytes(f"openrouter-daily/{path.name}"), observed_at=at)
            for path in files
            for at in [observed_at(path)]
        ]
        assert all(result.status == "succeeded" for result in runs)
        document = run_feed(database_url, "--since", "2026-01-01")
        entries = parse(document).entries
        assert [entry.id for entry in entries] == [
            tag(runs[3].run_id, observed_at(files[3])),
            tag(runs[2].run_id, observed_at(files[2])),
        ]
        assert entries[0].title == "1 removed"
        assert entries[1].title == (
            "1 price cut, 5 price increases, 1 removed, 2 capability changes, 1 other change"
        )
        content = entries[1].content[0].value
        assert (
            "deepseek/deepseek-chat-v3-0324</code> completion: 0.87 → 0.77 USD per 1M tokens"
            " (\u221211.49%)"
        ) in content
        assert "supported_parameters: +logprobs, +top_logprobs" in content
        check_atom(document)


class TestHostileText:
    def test_controls_and_markup(self, engine: Engine, database_url: str) -> None:
        """Names with ESC, NUL, U+FFFE, U+FFFF, a lone surrogate, C1 controls, OSC links,
        rich markup and a <script>: the feed is well-formed XML, every control character
        shows as an escape, and the HTML carries the script as text, never as an element."""
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        sync(engine, hostile_models(0), start)
        sync(engine, [*hostile_models(1), make_model(EVIL, name=EVIL_NAME)], start + timedelta(1))
        document = run_feed(database_url)
        check_atom(document)
        text = document.decode("utf-8")
        assert raw_controls(text) == set()
        assert "\ufffe" not in text and "\uffff" not in text
        (entry,) = ET.fromstring(document).findall(f"{ATOM}entry")
        html = entry.findtext(f"{ATOM}content") or ""
        # The sync stores NUL as U+FFFD (PostgreSQL text cannot hold it); see test_every_control.
        shown = "Evil \\x1b[2J\ufffd \\ufffe\\uffff &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
        assert f"<code>acme/evil</code> ({shown}): context 128000" in html
        assert "<script" not in html
        assert "\\x1b]8;;https://example.invalid" in html  # the OSC link, shown as text
        (parsed,) = parse(document).entries
        assert "1 added" in parsed.title
        assert "<script" not in parsed.content[0].value

    def test_every_control(self) -> None:
        """Whatever a report holds (NUL, ESC, C1, U+FFFE, a lone surrogate, in an id, a name,
        a component, a field's values), the feed is XML that parses, with the escapes shown."""
        hostile = "x\x00\x1b[31m\x85\ufffe\uffff\udc9d\u202e<b>&"
        shown = "x\\x00\\x1b[31m\\x85\\ufffe\\uffff\\udc9d\\u202e"
        at = datetime(2026, 3, 2, tzinfo=UTC)
        ident = ("p", f"m/{hostile}", "v", hostile)
        report = ChangeReport(
            at - timedelta(1),
            at,
            at - timedelta(1),
            at,
            False,
            NO_FILTERS,
            "model",
            added=(ModelChange("added", *ident, 1, {hostile: Decimal(1)}),),
            price_changes=(PriceChange(*ident, hostile, Decimal(1), "dynamic"),),
            changes=(FieldChange(*ident, "description", hostile, hostile + "!"),),
        )
        run = RunChanges(7, at, at - timedelta(1), report)
        document = render([run], title=f"T {hostile}")
        root = check_atom(document)
        assert root.findtext(f"{ATOM}title") == f"T {shown}<b>&"
        html = root.findtext(f"{ATOM}entry/{ATOM}content") or ""
        # Names and values read on one line: whitespace (U+0085 is some) becomes a space.
        spaced = shown.replace("\\x85", " ")
        assert f"<code>m/{shown}&lt;b&gt;&amp;</code> ({spaced}&lt;b&gt;&amp;)" in html
        assert f"{shown}&lt;b&gt;&amp;: 1 → dynamic USD per unit" in html
        assert f"description: {spaced}&lt;b&gt;&amp; → {spaced}&lt;b&gt;&amp;!" in html
        assert raw_controls(document.decode()) == set()
        parse(document)


class TestRunChanges:
    def test_a_repeat_at_the_same_time_brought_nothing(self, engine: Engine) -> None:
        """The same payload synced again at the same time is a no-op recorded as succeeded:
        its changes are empty, while the first run at that time keeps them."""
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        sync(engine, [rocket()], start)
        first = sync(engine, [rocket("0.000002")], start + timedelta(1))
        repeat = sync(engine, [rocket("0.000002")], start + timedelta(1))
        with engine.connect() as connection:
            original, again = run_changes(connection, first), run_changes(connection, repeat)
        assert len(original.report.price_changes) == 1 and original.previous_at == start
        assert again.empty and again.report.empty


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def serving(feed: FeedMaker | None = None, metrics: Metrics | None = None) -> Any:
    metrics = metrics or Metrics()
    port = free_port()
    return f"http://127.0.0.1:{port}", metrics.serve(port, "127.0.0.1", feed=feed)


class TestServe:
    def test_feed_next_to_metrics(self, history: History, database_url: str) -> None:
        """The metrics server answers /feed.xml with the feed built from the database at
        each request (the same bytes as the command), application/atom+xml, with an ETag
        that earns a 304; /metrics answers as before; a new sync shows at the next request."""
        base, stop = serving(database_feed(database_url))
        try:
            status, headers, body = get(f"{base}/feed.xml")
            assert status == 200
            assert headers["Content-Type"].startswith("application/atom+xml")
            assert body == run_feed(database_url)
            assert len(parse(body).entries) == 2
            status, _, _ = get(f"{base}/feed.xml", **{"If-None-Match": headers["ETag"]})
            assert status == 304
            assert b"catalog_etl_models_available" in get(f"{base}/metrics")[2]
            history.add([rocket("0.000002"), steady()])
            status, _, body = get(f"{base}/feed.xml", **{"If-None-Match": headers["ETag"]})
            assert status == 200
            assert parse(body).entries[0].id == tag(history.runs[-1], history.times[-1])
        finally:
            stop()

    def test_a_feed_per_catalog(self, history: History, database_url: str) -> None:
        """``/feed.xml?catalog=NAME`` is the feed of that catalog (as `feed --catalog`);
        without it the feed covers every catalog, each entry naming its own; an unknown
        catalog is a 404 and a name no catalog can have a 400, both saying why."""
        later = history.times[-1] + timedelta(hours=1)
        for offset, prompt in ((0, "0.000004"), (1, "0.000003")):
            sync_bytes(
                history.engine,
                payload([rocket(prompt)]),
                observed_at=later + timedelta(hours=offset),
                catalog="gateway",
            )
        base, stop = serving(database_feed(database_url))
        try:
            gateway = parse(get(f"{base}/feed.xml?catalog=gateway")[2]).entries
            assert [entry.title for entry in gateway] == ["1 price cut"]
            assert get(f"{base}/feed.xml?catalog=default")[2] == run_feed(
                database_url, "--catalog", "default"
            )
            everything = parse(get(f"{base}/feed.xml")[2]).entries
            assert everything[0].title == "gateway: 1 price cut"
            assert len(everything) == len(gateway) + 2
            status, _, body = get(f"{base}/feed.xml?catalog=nope")
            assert status == 404 and b"no catalog 'nope'" in body
            status, _, body = get(f"{base}/feed.xml?catalog=%1b%5B2J")
            assert status == 400 and b"\\x1b" in body and b"\x1b" not in body
        finally:
            stop()


class TestServeWithoutDatabase:
    def test_a_broken_feed_is_a_503(self, caplog: pytest.LogCaptureFixture) -> None:
        """A feed that cannot be built (the database is down) answers 503 and logs why;
        the server keeps serving /metrics and the next /feed.xml."""
        calls: list[int] = []

        def feed(_catalogs: Sequence[str]) -> bytes:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("database went away")
            return b"<feed/>"

        base, stop = serving(metrics=Metrics(feed=feed))  # given to Metrics, not to serve
        try:
            assert get(f"{base}/feed.xml")[0] == 503
            assert "database went away" in caplog.text
            assert get(f"{base}/metrics")[0] == 200
            assert get(f"{base}/feed.xml")[2] == b"<feed/>"
        finally:
            stop()

    def test_no_feed_is_a_404(self) -> None:
        """Without a feed, /feed.xml is 404 and /metrics answers as before."""
        base, stop = serving()
        try:
            assert get(f"{base}/feed.xml")[0] == 404
            assert b"catalog_etl_sync_runs_total" in get(f"{base}/metrics")[2]
        finally:
            stop()

    def test_a_port_in_use_raises(self) -> None:
        """A port another server holds raises OSError at once (serve exits 1 on it)."""
        base, stop = serving()
        try:
            port = int(base.rsplit(":", 1)[1])
            with pytest.raises(OSError):
                Metrics().serve(port, "127.0.0.1", feed=lambda _catalogs: b"")
        finally:
            stop()

    def test_unreachable_database(self, tmp_path: Path) -> None:
        """A feed over a database that is not there answers 503, not a hung request."""
        url = f"sqlite:///{tmp_path / 'missing' / 'catalog.db'}"
        base, stop = serving(database_feed(url))
        try:
            assert get(f"{base}/feed.xml")[0] == 503
        finally:
            stop()
