"""`catalog-etl serve --config FILE`: several catalogs in one process, each on its own schedule,
as operators run it (real processes, upstreams on loopback HTTP servers, SQLite and
PostgreSQL), and the configuration file itself: what it may say and what it refuses.

Every upstream is a server of its own on 127.0.0.1, counting the requests it answers, so
that one catalog's slow or failing upstream cannot hold up another's by sharing a server.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select
from werkzeug import Request, Response

from etl.cli import cli
from etl.cli.serve_jobs import file_catalogs
from etl.db.tables import (
    catalogs_table,
    models_table,
    providers_table,
    services_table,
    sync_runs_table,
)
from etl.service.catalog_file import CatalogFileError, load_catalogs
from etl.service.config import ServiceConfig
from etl.service.metrics import Metrics
from tests.helpers import make_model, payload
from tests.test_serve import (
    WAIT,
    ServeProcess,
    free_port,
    metric,
    metrics_text,
    start_serve,
    wait_until,
)

__all__ = ["start_serve"]  # the fixture, used by name

TOKEN = "tok-CATALOGS-5be9d1f0"


class Upstream:
    """A catalog endpoint on a loopback server of its own. It counts requests and remembers
    their Authorization headers; ``status`` other than 200 answers an error (503 with
    ``Retry-After``), after ``delay`` seconds."""

    def __init__(self, server: HTTPServer, models: list[str], status: int = 200) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.authorizations: list[str | None] = []
        self.models = models
        self.status = status
        self.delay = 0.0
        self.retry_after = "1"
        server.expect_request("/models").respond_with_handler(self)
        self.url = server.url_for("/models")

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
            self.authorizations.append(request.headers.get("Authorization"))
        if self.delay:
            time.sleep(self.delay)
        if self.status == 401:
            denied = {"error": "AUTH_INVALID_CREDENTIALS", "message": "Invalid token"}
            return Response(json.dumps(denied), status=401, content_type="application/json")
        if self.status != 200:
            headers = {"Retry-After": self.retry_after}
            return Response("down for maintenance", status=self.status, headers=headers)
        body = payload([make_model(model) for model in self.models])
        return Response(body, content_type="application/json")


@pytest.fixture
def loopback() -> Iterator[Callable[[], HTTPServer]]:
    """Starts loopback HTTP servers (127.0.0.1, a thread per request), each stopped after
    the test."""
    servers: list[HTTPServer] = []

    def start() -> HTTPServer:
        server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.clear()
        server.stop()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog-etl.toml"
    path.write_text(text, "utf-8")
    return path


def runs_of(engine: Engine, catalog: str) -> list[Any]:
    """The runs of one catalog (found by its name), in the order they were recorded."""
    runs = sync_runs_table.c
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    runs.id,
                    runs.status,
                    runs.tick_at,
                    runs.started_at,
                    runs.source,
                    runs.error,
                )
                .join(catalogs_table, catalogs_table.c.id == runs.catalog_id)
                .where(catalogs_table.c.name == catalog)
                .order_by(runs.id)
            ).all()
        )


def claimed(engine: Engine, catalog: str) -> list[Any]:
    return [run for run in runs_of(engine, catalog) if run.tick_at is not None]


def stop_all(*processes: ServeProcess) -> None:
    for process in processes:
        process.process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.exit_code() == 0, process.output


class Failure(NamedTuple):
    status: int
    delay: float
    toml: str
    """More settings of the failing catalog."""


FAILING = {
    "denied": Failure(401, 0.0, ""),
    "slow": Failure(401, 2.5, ""),
    "retrying": Failure(503, 0.0, "timeout = 3\n"),
}


class TestIsolation:
    @pytest.mark.parametrize("failure", list(FAILING))
    def test_a_failing_catalog_never_delays_another(
        self,
        engine: Engine,
        database_url: str,
        loopback: Callable[[], HTTPServer],
        start_serve: Callable[..., ServeProcess],
        tmp_path: Path,
        failure: str,
    ) -> None:
        """One catalog's upstream answers 401 at every tick (at once, or after 2.5 s), or
        503 with Retry-After so that its fetch pauses between retries: the other catalog,
        every second, still syncs every tick, each within a second of its scheduled time,
        and succeeds; the failing catalog's runs are recorded failed with the upstream's
        status (a 401 naming the catalog's token variable)."""
        case = FAILING[failure]
        good = Upstream(loopback(), ["acme/good-1"])
        bad = Upstream(loopback(), ["acme/bad-1"], status=case.status)
        bad.delay = case.delay
        config = write_config(
            tmp_path,
            f'[defaults]\nevery = "1s"\n'
            f'[catalogs.good]\nurl = "{good.url}"\n'
            f'[catalogs.bad]\nurl = "{bad.url}"\ntoken_env = "BAD_TOKEN"\n{case.toml}',
        )
        serve = start_serve(database_url, "--config", str(config), BAD_TOKEN=TOKEN)
        wait_until(
            lambda: (
                len(claimed(engine, "good")) >= 7
                and len([r for r in runs_of(engine, "bad") if r.status == "failed"]) >= 2
            ),
            "seven ticks of the good catalog and two failed runs of the other",
            3 * WAIT,
            serve,
        )
        stop_all(serve)

        ticks = claimed(engine, "good")
        assert {run.status for run in ticks} == {"succeeded"}
        moments = [run.tick_at for run in ticks]
        # Every second from the first tick to the last: none dropped or coalesced away.
        assert [b - a for a, b in pairwise(moments)] == [timedelta(seconds=1)] * (len(moments) - 1)
        # The first tick may wait for the service to record itself at start; the others
        # wait for nothing.
        late = [run.started_at - run.tick_at for run in ticks[1:]]
        assert max(late) < timedelta(seconds=1), late
        assert good.requests == len(runs_of(engine, "good"))

        failed = runs_of(engine, "bad")
        assert failed and {run.status for run in failed} == {"failed"}
        answered = [run for run in failed if f"answered {case.status}" in (run.error or "")]
        assert len(answered) >= 2, [run.error for run in failed]
        if case.status == 401:  # the hint names this catalog's token, not the service's
            assert all("(check BAD_TOKEN)" in (run.error or "") for run in answered)
        assert TOKEN not in serve.output

    def test_sigterm_abandons_every_catalogs_retry_pause(
        self,
        engine: Engine,
        database_url: str,
        loopback: Callable[[], HTTPServer],
        start_serve: Callable[..., ServeProcess],
        tmp_path: Path,
    ) -> None:
        """Two catalogs whose upstreams both answer 503 with Retry-After: 60, synced at
        start: SIGTERM while both fetches pause ends serve at once (exit 0, well inside the
        30 s grace period), and each catalog's run is recorded failed, abandoned between
        retries, with no further request."""
        first = Upstream(loopback(), [], status=503)
        second = Upstream(loopback(), [], status=503)
        first.retry_after = second.retry_after = "60"
        config = write_config(
            tmp_path,
            f'[catalogs.first]\nurl = "{first.url}"\nevery = "1h"\n'
            f'[catalogs.second]\nurl = "{second.url}"\ncron = "0 0 * * *"\n',
        )
        serve = start_serve(database_url, "--config", str(config), "--run-now")
        wait_until(
            lambda: len([e for e in serve.events() if "retrying in" in str(e.get("message"))]) >= 2,
            "both fetches pausing",
            WAIT,
            serve,
        )
        stopped = time.monotonic()
        assert serve.stop() == 0, serve.output
        assert time.monotonic() - stopped < 10, "serve kept waiting to retry"
        assert (first.requests, second.requests) == (1, 1)
        for name in ("first", "second"):
            (run,) = runs_of(engine, name)
            assert run.status == "failed"
            assert "received SIGTERM" in run.error and "abandoned between retries" in run.error


class TestReplicas:
    def test_two_replicas_fetch_each_catalogs_tick_once(
        self,
        engine: Engine,
        database_url: str,
        loopback: Callable[[], HTTPServer],
        start_serve: Callable[..., ServeProcess],
        tmp_path: Path,
    ) -> None:
        """Two serve processes with the same file of two catalogs, on one database: each
        catalog's server answers exactly one request per tick of that catalog, whichever
        replica claimed it; the other replica records the tick skipped without a request.
        Both catalogs claim the same tick times, each for itself."""
        upstreams = {
            "alpha": Upstream(loopback(), ["acme/alpha-1"]),
            "beta": Upstream(loopback(), ["acme/beta-1"]),
        }
        config = write_config(
            tmp_path,
            '[defaults]\nevery = "2s"\n'
            + "".join(f'[catalogs.{n}]\nurl = "{u.url}"\n' for n, u in upstreams.items()),
        )
        replicas = [start_serve(database_url, "--config", str(config)) for _ in range(2)]
        wait_until(
            lambda: all(len(claimed(engine, name)) >= 4 for name in upstreams),
            "four claimed ticks of each catalog",
            4 * WAIT,
            *replicas,
        )
        stop_all(*replicas)

        tick_times = []
        for name, upstream in upstreams.items():
            claims, every_run = claimed(engine, name), runs_of(engine, name)
            assert {run.status for run in claims} == {"succeeded"}
            assert upstream.requests == len(claims), name  # one request per tick
            assert len({run.tick_at for run in claims}) == len(claims)
            skipped = [run for run in every_run if run.status == "skipped"]
            assert all("claimed by run" in (run.error or "") for run in skipped)
            # Both replicas were up from the second tick on: the other one skipped each.
            assert len(skipped) >= len(claims) - 1
            assert len(every_run) == len(claims) + len(skipped)
            tick_times.append({run.tick_at for run in claims})
        assert tick_times[0] & tick_times[1], "the catalogs never ticked together"


class TestCatalogs:
    def test_each_catalog_syncs_into_its_own_catalog(
        self,
        engine: Engine,
        database_url: str,
        loopback: Callable[[], HTTPServer],
        start_serve: Callable[..., ServeProcess],
        tmp_path: Path,
    ) -> None:
        """Two catalogs listing the same provider (openrouter) and one model in common: each
        one's runs, provider and models land in its own catalog, found by name; only the
        catalog that names a token sends it (to its own upstream), and it shows nowhere.
        The services row describes both schedules, log lines and metrics name the catalog,
        and a CATALOG_ETL_* variable the file overrides is reported as not read."""
        alpha = Upstream(loopback(), ["acme/alpha-only", "acme/shared"])
        beta = Upstream(loopback(), ["acme/beta-only", "acme/shared"])
        token_file = tmp_path / "beta-token"
        token_file.write_text(f"{TOKEN}\n")
        config = write_config(
            tmp_path,
            f'[catalogs.alpha]\nurl = "{alpha.url}"\nevery = "1h"\n'
            f'[catalogs.beta]\nurl = "{beta.url}"\ncron = "17 * * * *"\n'
            'token_file = "beta-token"\n',  # beside the file
        )
        port = free_port()
        serve = start_serve(
            database_url,
            "--config",
            str(config),
            "--run-now",
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
            CATALOG_ETL_TIMEOUT="30",
        )
        wait_until(
            lambda: all(
                [r.status for r in runs_of(engine, name)] == ["succeeded"]
                for name in ("alpha", "beta")
            ),
            "one successful run of each catalog",
            WAIT,
            serve,
        )

        def database_metrics_of_both() -> bool:
            # Refreshed from the database after each sync: the two syncs may land apart.
            scraped = metrics_text(port)
            return all(
                metric(scraped, f'catalog_etl_models_available{{catalog="{name}"}}') == 2
                and metric(
                    scraped, f'catalog_etl_last_success_timestamp_seconds{{catalog="{name}"}}'
                )
                > 0
                for name in ("alpha", "beta")
            )

        wait_until(database_metrics_of_both, "the metrics of both catalogs")
        scraped = metrics_text(port)
        assert serve.stop() == 0, serve.output

        for name, upstream in (("alpha", alpha), ("beta", beta)):
            (run,) = runs_of(engine, name)
            assert run.source == upstream.url
            assert run.tick_at is None  # the run at start claims no tick
        with engine.connect() as connection:
            models = connection.execute(
                select(catalogs_table.c.name, providers_table.c.name, models_table.c.model)
                .join(providers_table, providers_table.c.id == models_table.c.provider_id)
                .join(catalogs_table, catalogs_table.c.id == providers_table.c.catalog_id)
            ).all()
            (schedule,) = connection.execute(select(services_table.c.schedule)).scalars()
        assert sorted(models) == [
            ("alpha", "openrouter", "acme/alpha-only"),
            ("alpha", "openrouter", "acme/shared"),
            ("beta", "openrouter", "acme/beta-only"),
            ("beta", "openrouter", "acme/shared"),
        ]
        assert schedule == "alpha: every 1h; beta: cron 17 * * * * (UTC)"
        assert alpha.authorizations == [None]
        assert beta.authorizations == [f"Bearer {TOKEN}"]
        assert TOKEN not in serve.output

        for name in ("alpha", "beta"):
            assert (
                metric(
                    scraped, f'catalog_etl_sync_runs_total{{catalog="{name}",status="succeeded"}}'
                )
                == 1
            )
            assert (
                metric(scraped, f'catalog_etl_last_success_timestamp_seconds{{catalog="{name}"}}')
                > 0
            )
        syncs = [e for e in serve.events() if e.get("event") == "sync"]
        assert sorted(e["catalog"] for e in syncs) == ["alpha", "beta"]
        assert all(e["message"].startswith(f"{e['catalog']}: run ") for e in syncs)
        (ignored,) = [e for e in serve.events() if e.get("event") == "ignored_variables"]
        assert ignored["variables"] == ["CATALOG_ETL_TIMEOUT"]
        (started,) = [e for e in serve.events() if e.get("event") == "started"]
        assert [c["catalog"] for c in started["catalogs"]] == ["alpha", "beta"]


def serve_error(tmp_path: Path, toml: str | None, *args: str, **env: str) -> str:
    """Run `serve --config` on ``toml`` (None: no file there); asserts that it stops with
    exit code 2 before starting (no database is created) and returns its output."""
    database = tmp_path / "never.db"
    path = tmp_path / "catalog-etl.toml"
    if toml is not None:
        path.write_text(toml, "utf-8")
    result = CliRunner().invoke(
        cli,
        ["serve", "--config", str(path), "--database-url", f"sqlite:///{database}", *args],
        env=env,
    )
    assert result.exit_code == 2, result.output
    assert not database.exists()
    return result.output


GOOD = '[catalogs.a]\nurl = "https://gateway.example/api/ai/models"\nevery = "1h"\n'


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("toml", "message"),
        [
            (
                GOOD + 'token = "sk-live-LITERAL-0f3a"\n',
                "catalog 'a': token: a secret does not belong in the file; give token_env =",
            ),
            (GOOD + 'tokn_env = "A"\n', "catalog 'a': unknown key 'tokn_env'"),
            (
                GOOD.replace("catalogs.a", "catalogs.Insforge"),
                "[catalogs.Insforge]: 'Insforge' cannot name a catalog",
            ),
            ('[catalogs.a]\nevery = "1h"\n', "catalog 'a': no url"),
            ('[catalogs.a]\nurl = "https://x.example/"\n', "catalog 'a': no schedule"),
            ('[catalogs.a\nurl = "https://x.example/"\n', "is not valid TOML"),
            ("", "no catalogs"),
            ('[catalog.a]\nurl = "https://x.example/"\n', "unknown table or key 'catalog'"),
            (GOOD + 'timeout = "abc"\n', "catalog 'a': timeout must be a number, not 'abc'"),
            (GOOD + "retries = 1.5\n", "catalog 'a': retries must be a whole number"),
            (GOOD + "max_removed_share = 2\n", "catalog 'a': max_removed_share must be from 0"),
            (GOOD + 'allow_insecure_http = "maybe"\n', "allow_insecure_http must be true or"),
            (GOOD.replace('"1h"', '"soon"'), "catalog 'a': every must be a duration"),
            (GOOD.replace('every = "1h"', 'cron = "0 * *"'), "catalog 'a': cron: cron expr"),
            (GOOD + 'timezone = "Mars/Base"\n', "catalog 'a': timezone: unknown time zone"),
            (GOOD + 'jitter = "2h"\n', "catalog 'a': jitter: the jitter (2h) must be shorter"),
            (GOOD + "provider = 5\n", "catalog 'a': provider must be text in quotes (\"...\")"),
            (GOOD + 'cron = "* * * * *"\n', "catalog 'a': give either every or cron, not both"),
            (
                GOOD + 'token_env = "A"\ntoken_file = "/run/secrets/a"\n',
                "give either token_env or token_file, not both",
            ),
            (
                '[defaults]\nurl = "https://x.example/"\n' + GOOD,
                "[defaults]: url belongs to one catalog",
            ),
            (
                '[defaults]\ntoken_env = "A"\n' + GOOD,
                "[defaults]: token_env belongs to one catalog",
            ),
            (GOOD.replace("https://gateway", "ftp://gateway"), "url must be an http:// or"),
            (GOOD + 'token_env = "INSFORGE_TOKEN"\n', "INSFORGE_TOKEN is unset or empty"),
            (GOOD + 'token_file = "missing"\n', "catalog 'a': token_file: cannot read the API"),
            (GOOD + 'subscriptions = "subs.toml"\n', "catalog 'a': cannot read"),
        ],
    )
    def test_refused_in_one_line_naming_file_catalog_and_key(
        self, tmp_path: Path, toml: str, message: str
    ) -> None:
        """A file serve cannot run is refused before anything starts: exit 2, one line that
        names the file and says what is wrong where, and never a token's value."""
        output = serve_error(tmp_path, toml)
        (line,) = [line for line in output.splitlines() if line.startswith("Error:")]
        assert str(tmp_path / "catalog-etl.toml") in line
        assert message in line, line
        assert "LITERAL" not in output

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A file that is not there is refused, naming it."""
        output = serve_error(tmp_path, None)
        assert f"cannot read {tmp_path / 'catalog-etl.toml'}: No such file" in output

    def test_a_token_in_token_env_is_not_echoed(self, tmp_path: Path) -> None:
        """A token written where its variable's name belongs is refused without showing it;
        an unset lower-case name is not shown either (it may be a token too)."""
        output = serve_error(tmp_path, GOOD + 'token_env = "sk-live-LITERAL-0f3a"\n')
        assert "token_env must name an environment variable" in output
        output = serve_error(tmp_path, GOOD + 'token_env = "ghp_LITERALlooking0f3a"\n')
        assert "the variable it names is unset or empty" in output
        assert "LITERAL" not in output

    def test_same_subscription_name_for_two_destinations(self, tmp_path: Path) -> None:
        """One service delivers every catalog's messages by subscription name: a name that
        means two different destinations in two catalogs is refused."""
        (tmp_path / "one.toml").write_text(
            '[[subscription]]\nname = "ops"\nurl = "https://hooks.example/one"\n'
        )
        (tmp_path / "two.toml").write_text(
            '[[subscription]]\nname = "ops"\nurl = "https://hooks.example/two"\n'
        )
        output = serve_error(
            tmp_path,
            GOOD + 'subscriptions = "one.toml"\n'
            '[catalogs.b]\nurl = "https://x.example/"\nevery = "1h"\n'
            'subscriptions = "two.toml"\n',
        )
        assert "catalogs 'a' and 'b' both have a subscription named 'ops'" in output

    @pytest.mark.parametrize(
        "flag",
        [
            ["--url", "https://x.example/"],
            ["--catalog", "b"],
            ["--every", "1h"],
            ["--cron", "0 * * * *"],
            ["--timeout", "5"],
        ],
    )
    def test_options_about_one_catalog_are_refused(self, tmp_path: Path, flag: list[str]) -> None:
        """With --config the file describes every catalog: an option that describes one is
        a usage error naming it."""
        output = serve_error(tmp_path, GOOD, *flag)
        assert f"{flag[0]} describes one catalog: with --config give it in the file" in output

    def test_the_file_may_come_from_the_environment(self, tmp_path: Path) -> None:
        """CATALOG_ETL_CONFIG names the file as --config does: its catalogs are checked the
        same way, and an option about one catalog is refused the same way."""
        path = tmp_path / "from-env.toml"
        path.write_text(GOOD + 'token = "sk-live-LITERAL-0f3a"\n', "utf-8")
        database = tmp_path / "never.db"
        for args, message in (
            ([], "token: a secret does not belong in the file"),
            (["--every", "1h"], "--every describes one catalog"),
        ):
            result = CliRunner().invoke(
                cli,
                ["serve", "--database-url", f"sqlite:///{database}", *args],
                env={"CATALOG_ETL_CONFIG": str(path)},
            )
            assert result.exit_code == 2 and message in result.output, result.output
            assert "sk-live-LITERAL" not in result.output
        assert not database.exists()


class TestLoadCatalogs:
    def test_defaults_types_and_precedence(self, tmp_path: Path) -> None:
        """[defaults] applies to every catalog and a catalog's own keys win, its schedule
        over the defaults' other one; durations as text or seconds, numbers, switches and
        paths beside the file are read by the settings parser; the token comes from the
        variable token_env names and is kept out of the settings and of repr."""
        (tmp_path / "token").write_text("file-token\n")
        path = write_config(
            tmp_path,
            '[defaults]\nevery = "1h"\ntimeout = 30\nmax_removed_share = 0.1\n'
            '[catalogs.insforge]\nurl = "https://gateway.example/api/ai/models"\n'
            'token_env = "INSFORGE_TOKEN"\ncron = "17 * * * *"\ntimezone = "Europe/Paris"\n'
            'jitter = 120\nprovider = "insforge"\nretries = "2"\nallow_insecure_http = true\n'
            'notify = ["https://hooks.example/a", "https://hooks.example/b"]\n'
            '[catalogs.litellm]\nurl = "https://raw.example/prices.json"\nevery = 86400\n'
            'token_file = "token"\ntimeout = 5.5\n',
        )
        insforge, litellm = load_catalogs(path, {"INSFORGE_TOKEN": f"  {TOKEN}\n"})
        assert (insforge.name, litellm.name) == ("insforge", "litellm")
        assert insforge.schedule.description == "cron 17 * * * * (Europe/Paris), jitter 2m"
        assert litellm.schedule.description == "every 1d"
        assert (insforge.token, insforge.token_env) == (TOKEN, "INSFORGE_TOKEN")
        assert (litellm.token, litellm.token_env) == ("file-token", None)
        one, two = insforge.settings, litellm.settings
        assert (one.catalog, one.source_url, one.provider) == (
            "insforge",
            "https://gateway.example/api/ai/models",
            "insforge",
        )
        assert (one.timeout, one.retries, one.max_removed_share) == (30.0, 2, 0.1)
        assert one.allow_insecure_http is True and two.allow_insecure_http is False
        assert one.notify == "https://hooks.example/a https://hooks.example/b"
        assert (two.timeout, two.max_removed_share) == (5.5, 0.1)
        assert two.api_token_file == tmp_path / "token"
        assert one.api_token is None and two.api_token is None
        assert TOKEN not in repr(insforge) and "file-token" not in repr(litellm)

    def test_errors_are_settings_errors(self, tmp_path: Path) -> None:
        """The loader raises one error type, a SettingsError, naming file, catalog and key."""
        path = write_config(tmp_path, GOOD + "mass_removal_floor = 0\n")
        with pytest.raises(CatalogFileError) as caught:
            load_catalogs(path, {})
        assert str(caught.value) == (f"{path}: catalog 'a': mass_removal_floor must be at least 1")

    def test_subscriptions_of_every_catalog_reach_the_notifier_once(self, tmp_path: Path) -> None:
        """Each catalog's sync writes messages for its own subscriptions; the one notifier
        of the service delivers every catalog's, a destination two catalogs share once."""
        path = write_config(
            tmp_path,
            GOOD + 'notify = ["https://hooks.example/shared", "https://hooks.example/a"]\n'
            '[catalogs.b]\nurl = "https://x.example/"\nevery = "1h"\n'
            'notify = "https://hooks.example/shared"\n',
        )
        jobs, token_variables = file_catalogs(path)
        assert token_variables == set()
        one, two = (entry.job.subscriptions for entry in jobs)
        assert [s.url for s in one] == ["https://hooks.example/shared", "https://hooks.example/a"]
        assert [s.url for s in two] == ["https://hooks.example/shared"]
        config = ServiceConfig(database_url="sqlite://", catalogs=jobs)
        assert [s.url for s in config.subscriptions] == [
            "https://hooks.example/shared",
            "https://hooks.example/a",
        ]


class TestMetricsByCatalog:
    def test_every_catalog_has_its_series_from_the_start(self) -> None:
        """Metrics by catalog show each catalog's series at 0 before any run, count a run
        under its catalog only, and refuse a run that names none."""
        metrics = Metrics(catalogs=["alpha", "beta"])
        text = metrics.exposition().decode()
        for name in ("alpha", "beta"):
            assert f'catalog_etl_sync_runs_total{{catalog="{name}",status="failed"}} 0.0' in text
            assert f'catalog_etl_last_success_timestamp_seconds{{catalog="{name}"}} 0.0' in text
        metrics.observe_run("succeeded", 0.2, 3, 1_700_000_000, catalog="beta")
        metrics.observe_database(1_700_000_000, 7, catalog="beta")
        text = metrics.exposition().decode()
        assert 'catalog_etl_sync_runs_total{catalog="beta",status="succeeded"} 1.0' in text
        assert 'catalog_etl_sync_runs_total{catalog="alpha",status="succeeded"} 0.0' in text
        assert 'catalog_etl_price_changes_total{catalog="beta"} 3.0' in text
        assert 'catalog_etl_models_available{catalog="beta"} 7.0' in text
        with pytest.raises(ValueError, match="by catalog"):
            metrics.observe_run("failed", 0.1, 0, 1_700_000_001)
