"""Logging for the long-running command (``serve``): readable lines or JSON lines, no secrets.

Events carry structured fields through ``extra={"fields": {...}}``. The human format shows
the message alone; the JSON format writes one object per line, the fields merged in::

    {"time": "2026-05-01T12:00:00.123Z", "level": "info", "logger": "etl.serve",
     "message": "run 12 succeeded: ...", "event": "sync", "run_id": 12, "status": "succeeded",
     ...}

Every record that reaches the handler, from any library, passes :class:`Redactor` first:
registered secrets (the API token, the database password) are replaced by ``***`` in the
message, the fields and the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from etl.text import visible

LOG_FORMATS = ("human", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
FIELDS = "fields"
"""The ``extra`` key holding an event's structured fields."""
MIN_SECRET_LENGTH = 4
"""Shorter strings are not redacted: replacing every ``ab`` would garble the log, and a
secret that short protects nothing anyway."""

# Chatty at INFO: APScheduler announces every job run, httpx every request, Alembic every
# schema check.
_QUIET = ("alembic", "apprise", "apscheduler", "httpx", "httpcore")


class Redactor(logging.Filter):
    """Replaces each registered secret by ``***`` wherever it appears in a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to the formatter to report
            return True
        record.msg, record.args = self.redact(message), None
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            setattr(record, FIELDS, {key: self._value(value) for key, value in fields.items()})
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        return value


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


class HumanFormatter(logging.Formatter):
    """``2026-05-01T12:00:00.123Z INFO    run 12 succeeded: ...``"""

    def format(self, record: logging.LogRecord) -> str:
        # Messages quote upstream text (error bodies, model ids): escapes made visible.
        message = visible(record.getMessage())
        line = f"{_timestamp(record)} {record.levelname:<7} {message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's fields and, for
    an exception, its traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(
    log_format: str = "human",
    level: str = "info",
    *,
    secrets: tuple[str | None, ...] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Send every log record to ``stream`` (stderr) in ``log_format``, secrets redacted.

    Replaces the root logger's handlers, so calling it again reconfigures rather than
    duplicating lines. Returns the redactor, to register secrets learnt later.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    redactor = Redactor()
    for secret in secrets:
        redactor.add(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(redactor)
    handler.setFormatter(JSONFormatter() if log_format == "json" else HumanFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(numeric)
    for name in _QUIET:
        logging.getLogger(name).setLevel(
            numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
        )
    return redactor
