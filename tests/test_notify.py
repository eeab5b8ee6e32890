"""Notifications: subscriptions and their filters, the outbox written with the sync, and
delivery to real loopback receivers (a JSON webhook and apprise's json://), in order, once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, text, update
from werkzeug import Request, Response

import etl.pipeline
from etl.cli import cli
from etl.db.tables import notifications_table
from etl.errors import SyncError
from etl.notify import outbox
from etl.notify.deliver import DeliveryError, deliver_due, send
from etl.notify.messages import idempotency_key
from etl.notify.subscriptions import (
    Subscription,
    SubscriptionError,
    from_urls,
    load_file,
    parse_min_change,
    shown_url,
)
from etl.pipeline import sync_bytes
from tests.helpers import make_model, payload

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "hook-SECRET-5c1e"


def priced(prompt: str, model: str = "openai/gpt-4o") -> dict[str, Any]:
    return make_model(model, pricing={"prompt": prompt, "completion": "0.00001"})


class Receiver:
    """A loopback endpoint that records what it is sent; ``down`` answers 503."""

    def __init__(self, server: HTTPServer, path: str = f"/hook/{SECRET}") -> None:
        self.server, self.path = server, path
        self.received: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        self.down = False
        self.delay = 0.0
        self.lock = threading.Lock()
        server.expect_request(path).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def handle(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        if self.down:
            return Response("maintenance", status=503)
        with self.lock:
            self.received.append(json.loads(request.data))
            self.keys.append(request.headers.get("Idempotency-Key"))
        return Response("ok")


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Iterator[Receiver]:
    yield Receiver(httpserver)


def sync_at(
    engine: Engine, models: list[dict[str, Any]], day: int, subs: list[Subscription]
) -> Any:
    result = sync_bytes(
        engine, payload(models), observed_at=T0 + timedelta(days=day), subscriptions=subs
    )
    assert result.status == "succeeded", result.error
    return result


def pending(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(select(notifications_table).order_by(notifications_table.c.id))
        )


# --- Subscriptions on their own --------------------------------------------------------------


class TestSubscriptions:
    def test_file_with_filters(self, tmp_path: Path) -> None:
        """A TOML file gives names, URLs, catalogs, vendors, model globs, kinds and a minimum
        move."""
        path = tmp_path / "subs.toml"
        path.write_text(
            '[[subscription]]\nname = "team"\nurl = "slack://a/b/c"\nvendors = ["OpenAI"]\n'
            'models = ["openai/gpt-4*"]\nkinds = ["price_cut", "removed"]\nmin_change = "10%"\n'
            'catalogs = ["gateway"]\n'
        )
        (sub,) = load_file(path)
        assert sub.catalogs == {"gateway"} and not sub.wants_catalog("litellm")
        assert (sub.name, set(sub.vendors), sub.models) == ("team", {"openai"}, ("openai/gpt-4*",))
        assert sub.kinds == {"price_cut", "removed"} and sub.min_change == Decimal("0.1")
        assert sub.wants_model("openai", "openai/gpt-4o")
        assert not sub.wants_model("openai", "openai/o3") and not sub.wants_model("x", "x/gpt-4")

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ('[[subscription]]\nurl = "json://h"\n', "give it a name"),
            ('[[subscription]]\nname = "a"\n', r"\(a\): give it a url"),
            ('[[subscription]]\nname = "a"\nurl = "json://h"\ncolour = 1\n', "unknown keys colour"),
            ('[[subscription]]\nname = "a"\nurl = "json://h"\nkinds = ["cheaper"]\n', "cheaper"),
            ('[[subscription]]\nname = "a"\nurl = "nowhere"\n', "is not a URL"),
            ("[[subscription]\n", "is not valid TOML"),
        ],
    )
    def test_bad_file_is_one_clear_error(self, tmp_path: Path, body: str, message: str) -> None:
        """A subscription that cannot work is refused naming the problem, never the URL."""
        path = tmp_path / "subs.toml"
        path.write_text(body)
        with pytest.raises(SubscriptionError, match=message) as caught:
            load_file(path)
        assert "json://h" not in str(caught.value)

    @pytest.mark.parametrize(
        ("value", "fraction"), [("10%", "0.1"), (0.25, "0.25"), ("0.5%", "0.005"), (None, None)]
    )
    def test_min_change_forms(self, value: object, fraction: str | None) -> None:
        """A minimum move is a percentage or a fraction."""
        expected = None if fraction is None else Decimal(fraction)
        assert parse_min_change(value, "x") == expected

    def test_urls_are_never_shown(self) -> None:
        """Only the scheme, and a web hook's host, of a destination are ever shown."""
        assert shown_url("slack://T1/B2/SECRET") == "slack://***"
        assert shown_url(f"https://hooks.example/{SECRET}?k=1") == "https://hooks.example/***"
        (sub,) = from_urls([f"json://user:{SECRET}@h/x"])
        assert SECRET not in repr(sub) and SECRET not in sub.shown and sub.name.startswith("url-")


# --- The outbox and delivery, on both databases ------------------------------------------------


class TestOutbox:
    def test_a_price_cut_is_one_message_with_its_numbers(
        self, engine: Engine, receiver: Receiver
    ) -> None:
        """A sync with a price cut writes one message per subscription in its transaction;
        delivered, the webhook gets the JSON body with old and new prices per 1M tokens, the
        percent and the idempotency key (also as a header); the URL is stored nowhere."""
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.0000025")], 0, [sub])
        assert pending(engine) == []  # the first observation: nothing to tell yet
        result = sync_at(engine, [priced("0.000002")], 1, [sub])
        assert result.notifications == 1
        assert deliver_due(engine, [sub]).delivered == 1
        (body,) = receiver.received
        assert body["version"] == 1 and body["counts"] == {"price_cut": 1}
        (change,) = body["changes"]
        assert (change["kind"], change["model"], change["component"]) == (
            "price_cut",
            "openai/gpt-4o",
            "prompt",
        )
        assert (change["old_per_million"], change["new_per_million"]) == ("2.5", "2")
        assert change["change_percent"] == "-20"
        assert "openai/gpt-4o prompt: $2.5 → $2 per 1M tokens (−20%)" in body["text"]
        assert receiver.keys == [body["idempotency_key"]]
        assert body["idempotency_key"] == idempotency_key(sub.name, result.run_id)
        with engine.connect() as connection:
            dump = connection.execute(text("SELECT * FROM notifications")).all()
        assert SECRET not in repr(dump)
        assert [row.status for row in pending(engine)] == ["delivered"]

    def test_filters_decide_who_hears(self, engine: Engine, receiver: Receiver) -> None:
        """A 20% cut reaches a subscription asking for cuts of 10% or more, not one asking
        for 30%, for another vendor or for removals only; those write no message at all."""
        wanted = Subscription("cuts", receiver.url, kinds=frozenset({"price_cut"}))
        small = Subscription("big-moves", receiver.url, min_change=Decimal("0.3"))
        vendor = Subscription("anthropic", receiver.url, vendors=frozenset({"anthropic"}))
        removals = Subscription("removals", receiver.url, kinds=frozenset({"removed"}))
        subs = [wanted, small, vendor, removals]
        sync_at(engine, [priced("0.0000025")], 0, subs)
        sync_at(engine, [priced("0.000002")], 1, subs)
        assert [row.subscription for row in pending(engine)] == ["cuts"]

    def test_each_catalog_tells_of_its_own_changes(
        self, engine: Engine, receiver: Receiver
    ) -> None:
        """A message names its run's catalog and holds that catalog's changes only; a
        subscription with ``catalogs`` hears of those catalogs alone; another catalog's first
        observation is not news, even in a database that has history already."""
        everyone = Subscription("all", receiver.url)
        gateway = Subscription("gateway", receiver.url, catalogs=frozenset({"gateway"}))
        subs = [everyone, gateway]
        for catalog, prompt in (("default", "0.0000025"), ("gateway", "0.000003")):
            result = sync_bytes(
                engine,
                payload([priced(prompt)]),
                observed_at=T0,
                catalog=catalog,
                subscriptions=subs,
            )
            assert result.ok and result.notifications == 0
        cut = sync_bytes(
            engine,
            payload([priced("0.000002")]),
            observed_at=T0 + timedelta(days=1),
            subscriptions=subs,
        )
        assert cut.notifications == 1  # "gateway" does not hear of catalog default
        rows = pending(engine)
        assert [(row.subscription, row.body["catalog"]) for row in rows] == [("all", "default")]
        assert [c["old_per_million"] for c in rows[0].body["changes"]] == ["2.5"]

    def test_rounding_noise_never_notifies(self, engine: Engine, receiver: Receiver) -> None:
        """A price that moves by float noise writes no message."""
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.00000003")], 0, [sub])
        result = sync_at(engine, [priced("0.0000000299999997")], 1, [sub])
        assert result.price_changes == 1 and result.notifications == 0
        assert pending(engine) == []

    def test_a_sync_that_rolls_back_notifies_nobody(
        self, engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the sync's transaction fails after the messages were written, they roll back
        with it: the run is failed and nothing is sent."""
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.0000025")], 0, [sub])
        real = outbox.enqueue

        def enqueue_then_fail(*args: Any, **kwargs: Any) -> int:
            real(*args, **kwargs)
            raise SyncError("the disk is full")

        monkeypatch.setattr(etl.pipeline, "enqueue", enqueue_then_fail)
        result = sync_bytes(
            engine,
            payload([priced("0.000002")]),
            observed_at=T0 + timedelta(days=1),
            subscriptions=[sub],
        )
        assert result.status == "failed" and pending(engine) == []
        assert deliver_due(engine, [sub]).delivered == 0 and receiver.received == []

    def test_a_receiver_down_gets_everything_once_in_order(
        self, engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Three syncs while the receiver is down: the first message fails and holds the two
        after it; back up, all three arrive once each, in the order of the syncs."""
        monkeypatch.setattr(outbox, "BACKOFF_BASE", timedelta(0))
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.000010")], 0, [sub])
        receiver.down = True
        runs = [
            sync_at(engine, [priced(f"0.00000{9 - day}")], day, [sub]).run_id for day in (1, 2, 3)
        ]
        for _ in range(3):
            done = deliver_due(engine, [sub])
            assert done.delivered == 0 and len(done.failed) == 1
            assert "503 Service Unavailable" in done.failed[0] and SECRET not in done.failed[0]
        rows = pending(engine)
        assert [row.attempts for row in rows] == [3, 0, 0]
        assert rows[0].last_error == "webhook answered 503 Service Unavailable"
        receiver.down = False
        assert deliver_due(engine, [sub]).delivered == 3
        assert [body["run_id"] for body in receiver.received] == runs
        assert deliver_due(engine, [sub]).delivered == 0 and len(receiver.received) == 3

    def test_two_deliverers_never_send_one_message_twice(
        self, engine: Engine, receiver: Receiver
    ) -> None:
        """Two processes emptying the outbox at once, with a slow receiver: each message is
        sent exactly once."""
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.000010")], 0, [sub])
        for day in (1, 2, 3, 4):
            sync_at(engine, [priced(f"0.00000{9 - day}")], day, [sub])
        receiver.delay = 0.2
        results: list[int] = []

        def deliver(owner: str) -> None:
            results.append(deliver_due(engine, [sub], owner=owner).delivered)

        threads = [threading.Thread(target=deliver, args=(f"host:{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        leftover = deliver_due(engine, [sub]).delivered
        assert sum(results) + leftover == 4
        assert len(receiver.received) == 4
        assert len(set(receiver.keys)) == 4

    def test_a_dead_process_lease_is_released(self, engine: Engine, receiver: Receiver) -> None:
        """A message held by a process of this host that is gone is freed for the next one;
        one held by a live process stays held."""
        (sub,) = from_urls([receiver.url])
        sync_at(engine, [priced("0.000010")], 0, [sub])
        sync_at(engine, [priced("0.000009")], 1, [sub])
        now = datetime.now(UTC)
        assert outbox.take_next(engine, sub.name, "box:999999", now) is not None
        assert outbox.take_next(engine, sub.name, "box:1", now) is None
        assert outbox.release_dead_leases(engine, "box", lambda pid: pid != 999999) == 1
        assert deliver_due(engine, [sub]).delivered == 1

    def test_apprise_json_reaches_a_loopback_receiver(
        self, engine: Engine, httpserver: HTTPServer
    ) -> None:
        """An apprise json:// destination receives the title and text, with the key as a
        header."""
        got: list[tuple[dict[str, Any], str | None]] = []

        def handle(request: Request) -> Response:
            got.append((json.loads(request.data), request.headers.get("Idempotency-Key")))
            return Response("ok")

        httpserver.expect_request("/apprise").respond_with_handler(handle)
        url = f"json://{httpserver.host}:{httpserver.port}/apprise"
        (sub,) = from_urls([url])
        sync_at(engine, [priced("0.0000025")], 0, [sub])
        sync_at(engine, [priced("0.000002")], 1, [sub])
        assert deliver_due(engine, [sub]).delivered == 1
        ((document, key),) = got
        assert document["title"] == "Model catalog: 1 price cuts"
        assert "openai/gpt-4o prompt: $2.5 → $2 per 1M tokens (−20%)" in document["message"]
        (row,) = pending(engine)
        assert key == row.idempotency_key


def test_plain_http_goes_only_to_this_machine() -> None:
    """A webhook over plain http:// to another host is refused before any request."""
    sub = Subscription("far", "http://hooks.example/x")
    with pytest.raises(DeliveryError, match="only for this machine"):
        send(sub, {"idempotency_key": "k"}, is_local=lambda host: False)


# --- The commands, on both databases -----------------------------------------------------------


class TestCommands:
    def test_sync_delivers_and_notify_status_shows_failures(
        self, engine: Engine, database_url: str, receiver: Receiver, tmp_path: Path
    ) -> None:
        """`sync --notify` delivers after its commit; a failure is a line on stderr, kept
        for later, and `notify status` shows it with the next attempt; the URL's secret
        appears in no output."""
        env = {"CATALOG_ETL_NOTIFY": receiver.url}
        sync_at(engine, [priced("0.0000025")], 0, [])
        catalog = payload([priced("0.000002")])
        path = tmp_path / "models.json"
        path.write_bytes(catalog)
        receiver.down = True
        args = [
            "sync",
            "--file",
            str(path),
            "--observed-at",
            "2026-03-02",
            "--database-url",
            database_url,
        ]
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
        assert "notification failed: url-" in result.stderr and SECRET not in result.output
        status = CliRunner().invoke(
            cli, ["notify", "status", "--database-url", database_url, "--format", "json"], env=env
        )
        (row,) = json.loads(status.stdout)["subscriptions"]
        assert (row["pending"], row["delivered"], row["attempts"]) == (1, 0, 1)
        assert row["last_error"] == "webhook answered 503 Service Unavailable"
        assert row["destination"] == shown_url(receiver.url).replace(SECRET, "")
        assert row["destination"].endswith("/***") and SECRET not in status.output
        receiver.down = False
        with engine.begin() as connection:
            connection.execute(update(notifications_table).values(next_attempt_at=T0))
        test = CliRunner().invoke(
            cli, ["notify", "test", row["subscription"], "--database-url", database_url], env=env
        )
        assert test.exit_code == 0, test.output
        assert receiver.received[-1]["test"] is True
        digest = CliRunner().invoke(
            cli,
            [
                "notify",
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-03",
                "--to",
                receiver.url,
                "--database-url",
                database_url,
            ],
        )
        assert digest.exit_code == 0, digest.output
        assert receiver.received[-1]["digest"] == {
            "since": "2026-03-01T00:00:00Z",
            "until": "2026-03-03T00:00:00Z",
        }
        assert SECRET not in digest.output
