"""Terminal output: rich tables, from the same documents every other format writes.

Every piece of catalog text goes through :mod:`etl.reports.safe_text`: cells, titles, column
names and lines are rich ``Text`` (never parsed as markup) with control characters made
visible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from etl.reports.safe_text import CONTROLS, styled, text, visible

if TYPE_CHECKING:  # only types: `sync` prints without importing the query layer or rich's tables
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from etl.reports.document import Cell, Document, Section

MAX_CELL = 60
T = TypeVar("T")
_TONES = {"cut": "green", "increase": "red", "muted": "dim"}


_JSON_ESCAPED = re.compile(f"[{CONTROLS}]")


def json_text(document: Any) -> str:
    """``document`` as indented JSON, the exact data: non-ASCII text as is, except what
    :mod:`etl.reports.safe_text` makes visible in a terminal (C1 controls, separators,
    bidirectional controls and lone surrogates, which no UTF-8 output can even encode),
    written as ``\\uXXXX`` escapes: the same strings to a JSON reader, inert on a terminal.
    JSON itself escapes C0 controls."""
    dumped = json.dumps(document, indent=2, ensure_ascii=False)
    # Outside strings JSON is ASCII, and a raw control can only be inside a string.
    return _JSON_ESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped)


def print_json(console: Console, document: Any) -> None:
    # Plain print, not rich: the JSON must be byte-for-byte what a script expects.
    console.file.write(json_text(document) + "\n")


def _short(value: str, wrap: bool = False) -> str:
    """Control characters made visible, then cut to MAX_CELL with an ellipsis (unless the
    cell must be read whole)."""
    shown = visible(value)
    return shown if wrap or len(shown) <= MAX_CELL else shown[: MAX_CELL - 1] + "…"


class Whole(str):
    """A cell read whole: wrapped in its column, never cut (a model id, a run's error)."""

    __slots__ = ()


def _cell(value: Any) -> Text:
    if value is None:
        return text("-")
    if isinstance(value, Whole):
        return text(_short(value, wrap=True))
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text(_short(str(value).replace("\n", " ")))


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    from rich.table import Table

    table = Table(title=text(title), title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(text(column), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _text(cell: Cell) -> Text:
    # An identifier is never cut: it is what a reader copies into the next command.
    return text(_short(cell.text, cell.wrap or cell.code), style=_TONES.get(cell.tone, ""))


def section_table(section: Section) -> Table:
    from rich.table import Table

    table = Table(title=text(section.title), title_justify="left", show_lines=False)
    for index, column in enumerate(section.columns):
        numeric = index in section.numeric_columns
        table.add_column(text(column), overflow="fold", justify="right" if numeric else "left")
    for row in section.rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def document(console: Console, doc: Document) -> None:
    """A document as rich tables; empty sections are left out."""
    console.print(text(doc.title, style="bold"))
    for line in doc.lines:
        console.print(text(line))
    if doc.summary:
        console.print(text(" · ".join(f"{count} {label}" for label, count in doc.summary)))
    for section in doc.sections:
        if section.rows:
            console.print(section_table(section))
    if doc.empty:
        console.print(text(doc.empty_text))


def progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Yield ``items`` while showing a progress bar on stderr (when it is a terminal)."""
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    yield from track(
        items,
        description=description,
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )


def sync_result(console: Console, result: dict[str, Any], diagnostics: Console) -> None:
    """The run's outcome on ``console``; its error, holds and warnings on ``diagnostics``
    (stderr: results on stdout, diagnostics and errors on stderr)."""
    status = result["status"]
    style = {"succeeded": "green", "held": "yellow"}.get(status, "red")
    console.print(
        styled(f"run {result['run_id']}: ", (status, style), f" (observed {result['observed_at']})")
    )
    if result.get("error"):
        diagnostics.print(styled(("error:", "red"), " ", result["error"]), soft_wrap=True)
    if status == "succeeded":
        for reason in (result.get("held_providers") or {}).values():
            diagnostics.print(styled(("held:", "yellow"), " ", reason), soft_wrap=True)
        console.print(
            f"{result['models_seen']} models seen: {result['added']} added, "
            f"{result['removed']} removed, {result['returned']} returned; "
            f"{result['versions_written']} versions and {result['price_changes']} price changes"
            " written"
        )
    for warning in result["warnings"][:20]:
        diagnostics.print(styled(("warning:", "yellow"), " ", warning), soft_wrap=True)
    if len(result["warnings"]) > 20:
        diagnostics.print(
            f"... and {len(result['warnings']) - 20} more warnings (see --format json)"
        )


def run_detail(console: Console, run: dict[str, Any]) -> None:
    """One run in full, a field a line: ``runs show``."""
    providers = run["providers"] or {}
    said = [f"{name} ({'' if ok else 'not '}configured)" for name, ok in providers.items()]
    fields: list[tuple[str, object]] = [
        *((("catalog", run["catalog"]),) if "catalog" in run else ()),
        ("run", run["id"]),
        ("status", run["status"]),
        ("observed", run["observed_at"]),
        ("started", run["started_at"]),
        ("finished", run["finished_at"] or "-"),
        ("duration", "-" if run["duration_seconds"] is None else f"{run['duration_seconds']} s"),
        ("source", run["source"] or "-"),
        ("scheduled tick", run["tick_at"] or "-"),
        ("shape", run["shape"] or "-"),
        ("http status", run["http_status"] or "-"),
        ("attempts", run["attempts"] or "-"),
        ("bytes", run["bytes"] if run["bytes"] is not None else "-"),
        ("payload sha256", run["payload_sha256"] or "-"),
        ("providers", ", ".join(said) or "-"),
        ("models seen", run["models_seen"]),
        ("changes", f"+{run['added']} -{run['removed']} returned {run['returned']}"),
        ("written", f"{run['versions_written']} versions, {run['price_changes']} price changes"),
    ]
    for label, value in fields:
        console.print(styled(f"{label + ':':<16} ", str(value)), soft_wrap=True)
    for provider, reason in (run["held_providers"] or {}).items():
        console.print(styled(("held:", "yellow"), f" {provider}: ", reason), soft_wrap=True)
    if run["error"]:
        console.print(styled(("error:", "red"), " ", run["error"], newlines=True), soft_wrap=True)
    warnings = run["warnings"] or []
    console.print(f"warnings:        {len(warnings)}", markup=False)
    for warning in warnings:
        console.print(styled("  ", warning), soft_wrap=True)


def outbox(console: Console, report: dict[str, Any]) -> None:
    """``notify status``: one row per subscription."""
    rows = [
        (
            s["subscription"],
            s["destination"] or "not configured",
            s["delivered"],
            s["pending"],
            s["oldest_pending_at"],
            s["attempts"] or None,
            Whole(s["last_error"]) if s["last_error"] else None,
            s["next_attempt_at"],
        )
        for s in report["subscriptions"]
    ]
    if not rows:
        console.print("no subscriptions: give --notify URL or --subscriptions FILE", markup=False)
        return
    columns = ("subscription", "destination", "delivered", "pending", "oldest pending")
    console.print(
        _table("notifications", (*columns, "attempts", "last error", "next attempt"), rows)
    )
    for s in report["subscriptions"]:
        if s["filter"]:
            console.print(styled(f"{s['subscription']}: ", s["filter"]), soft_wrap=True)


def models(console: Console, report: dict[str, Any]) -> None:
    if report["observed_at"] is None:
        console.print(text(f"nothing was observed at or before {report['as_of']}"))
        return
    named = len(report.get("catalogs", ())) > 1
    rows = [
        (
            *((m["catalog"],) if named else ()),
            m["provider"],
            Whole(m["model"]),
            m["name"],
            m["context_length"],
            "unpriced"
            if m["pricing"] is None
            else ", ".join(f"{k}={v}" for k, v in m["pricing"].items()) or "free",
        )
        for m in report["models"]
    ]
    observed = "; ".join(
        f"catalog {c['name']} observed {c['observed_at'] or 'never'}"
        for c in report.get("catalogs", ())
    )
    observed = observed or f"observed {report['observed_at']}"
    title = f"{len(rows)} models as of {report['as_of']} ({observed})"
    columns = ("provider", "model", "name", "context", "pricing (USD/unit)")
    console.print(_table(title, ("catalog",) * named + columns, rows))


def runs(console: Console, report: dict[str, Any]) -> None:
    named = any("catalog" in r for r in report["runs"])
    rows = [
        (
            *((r["catalog"],) if named else ()),
            r["id"],
            r["status"],
            r["observed_at"],
            r["source"],
            r["models_seen"],
            f"+{r['added']} -{r['removed']} ↺{r['returned']}",
            r["versions_written"],
            r["price_changes"],
            len(r["warnings"] or []),
            Whole(r["error"]) if r["error"] else None,
        )
        for r in report["runs"]
    ]
    console.print(
        _table(
            "sync runs, newest first",
            (
                *(("catalog",) if named else ()),
                "id",
                "status",
                "observed",
                "source",
                "models",
                "+/-/returned",
                "versions",
                "prices",
                "warnings",
                "error",
            ),
            rows,
        )
    )
