"""Logging of `serve`: human lines or JSON lines, and no secret in either."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from etl.service.logs import configure_logging

TOKEN = "tok-LOGS-9d2c41"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as pytest set it up."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("alembic", "apscheduler", "httpx")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("restore_logging")
class TestConfigureLogging:
    def test_json_lines_carry_the_event_fields(self) -> None:
        """Each record is one JSON object with time, level, logger, message and fields."""
        stream = io.StringIO()
        configure_logging("json", stream=stream)
        logging.getLogger("etl.serve").info(
            "run %s succeeded", 7, extra={"fields": {"event": "sync", "run_id": 7}}
        )
        (line,) = stream.getvalue().splitlines()
        document = json.loads(line)
        assert document["message"] == "run 7 succeeded"
        assert (document["level"], document["logger"]) == ("info", "etl.serve")
        assert (document["event"], document["run_id"]) == ("sync", 7)
        assert document["time"].endswith("Z")

    def test_human_lines(self) -> None:
        """The human format is time, level and message on one line."""
        stream = io.StringIO()
        configure_logging("human", stream=stream)
        logging.getLogger("etl.serve").warning("held: %s", "too many removed")
        (line,) = stream.getvalue().splitlines()
        assert line.endswith("WARNING held: too many removed")

    @pytest.mark.parametrize("log_format", ["human", "json"])
    def test_secrets_never_appear(self, log_format: str) -> None:
        """A registered secret is masked in messages, arguments, fields and tracebacks, and
        from any logger."""
        stream = io.StringIO()
        configure_logging(log_format, secrets=(TOKEN, None), stream=stream)
        logging.getLogger("httpx").warning("sent Bearer %s", TOKEN)
        logging.getLogger("etl.serve").info(
            "x", extra={"fields": {"error": f"bad {TOKEN}", "nested": [{"t": TOKEN}]}}
        )
        try:
            raise ValueError(f"token {TOKEN} refused")
        except ValueError:
            logging.getLogger("etl.serve").exception("failed")
        output = stream.getvalue()
        assert TOKEN not in output
        assert output.count("***") >= (4 if log_format == "json" else 2)

    def test_short_strings_are_not_secrets(self) -> None:
        """A secret under 4 characters is not masked: it would garble every line."""
        stream = io.StringIO()
        configure_logging("human", secrets=("ab",), stream=stream)
        logging.getLogger("etl.serve").info("about")
        assert stream.getvalue().endswith("about\n")

    def test_reconfiguring_does_not_duplicate_lines(self) -> None:
        """Configuring twice replaces the handler instead of adding a second one."""
        stream = io.StringIO()
        configure_logging("json", stream=io.StringIO())
        configure_logging("json", stream=stream)
        logging.getLogger("etl.serve").info("once")
        assert len(stream.getvalue().splitlines()) == 1

    def test_chatty_libraries_are_quiet_at_info(self) -> None:
        """APScheduler, httpx and Alembic log only warnings unless the level is debug."""
        stream = io.StringIO()
        configure_logging("human", stream=stream)
        logging.getLogger("apscheduler.scheduler").info("Added job")
        logging.getLogger("alembic.runtime.migration").info("Context impl")
        assert stream.getvalue() == ""
        configure_logging("human", "debug", stream=stream)
        logging.getLogger("apscheduler.scheduler").info("Added job")
        assert "Added job" in stream.getvalue()

    def test_unknown_format_is_refused(self) -> None:
        """Only human and json exist."""
        with pytest.raises(ValueError, match="human, json"):
            configure_logging("xml")
