"""Human-readable output: rich tables built from the same documents the JSON output prints."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

MAX_CELL = 60


def print_json(console: Console, document: Any) -> None:
    # Plain print, not rich: the JSON must be byte-for-byte what a script expects.
    console.file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def sync_result(console: Console, result: dict[str, Any]) -> None:
    status = result["status"]
    style = {"succeeded": "green", "held": "yellow"}.get(status, "red")
    console.print(
        f"run {result['run_id']}: [{style}]{status}[/] (observed {result['observed_at']})"
    )
    if result.get("error"):
        console.print(f"[red]error:[/] {result['error']}", highlight=False)
    if status == "succeeded":
        console.print(
            f"{result['models_seen']} models seen: {result['added']} added, "
            f"{result['removed']} removed, {result['returned']} returned; "
            f"{result['versions_written']} versions and {result['price_changes']} price changes"
            " written"
        )
    for warning in result["warnings"][:20]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if len(result["warnings"]) > 20:
        console.print(f"... and {len(result['warnings']) - 20} more warnings (see --format json)")


def models(console: Console, report: dict[str, Any]) -> None:
    if report["observed_at"] is None:
        console.print(f"nothing was observed at or before {report['as_of']}")
        return
    rows = [
        (
            m["provider"],
            m["model"],
            m["name"],
            m["context_length"],
            "unpriced"
            if m["pricing"] is None
            else ", ".join(f"{k}={v}" for k, v in m["pricing"].items()) or "free",
        )
        for m in report["models"]
    ]
    title = f"{len(rows)} models as of {report['as_of']} (observed {report['observed_at']})"
    console.print(
        _table(title, ("provider", "model", "name", "context", "pricing (USD/unit)"), rows)
    )


def diff(console: Console, report: dict[str, Any]) -> None:
    console.print(
        f"from {report['since']} (observed {report['since_observed_at'] or 'never'})"
        f" to {report['until']} (observed {report['until_observed_at'] or 'never'})"
    )
    for section in ("added", "removed"):
        items = report[section]
        if items:
            console.print(
                _table(
                    f"{section} ({len(items)})",
                    ("provider", "model"),
                    ((i["provider"], i["model"]) for i in items),
                )
            )
    if report["price_changes"]:
        console.print(
            _table(
                f"price changes ({len(report['price_changes'])})",
                ("model", "component", "old", "new"),
                ((c["model"], c["component"], c["old"], c["new"]) for c in report["price_changes"]),
            )
        )
    if report["changes"]:
        console.print(
            _table(
                f"other changes ({len(report['changes'])})",
                ("model", "field", "old", "new"),
                ((c["model"], c["field"], c["old"], c["new"]) for c in report["changes"]),
            )
        )
    if not any(report[k] for k in ("added", "removed", "price_changes", "changes")):
        console.print("no differences")


def runs(console: Console, report: dict[str, Any]) -> None:
    rows = [
        (
            r["id"],
            r["status"],
            r["observed_at"],
            r["source"],
            r["models_seen"],
            f"+{r['added']} -{r['removed']} ↺{r['returned']}",
            r["versions_written"],
            r["price_changes"],
            len(r["warnings"] or []),
            r["error"],
        )
        for r in report["runs"]
    ]
    console.print(
        _table(
            "sync runs, newest first",
            (
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
