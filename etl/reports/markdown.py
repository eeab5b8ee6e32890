"""Markdown (GitHub-flavoured): a document for a chat message or a pull request.

Catalog text is escaped (no markup, no table cell ends early) and its control characters
are shown as backslash escapes (:func:`etl.reports.safe_text.visible`).
"""

from __future__ import annotations

import re

from etl.reports.document import Cell, Document, Section
from etl.reports.safe_text import visible

MAX_CELL = 120
# Characters that would start markup (or end a table cell) inside a cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", visible(" ".join(text.split())))


def _cell(cell: Cell) -> str:
    shown = visible(" ".join(cell.text.split()))
    short = cell.wrap or cell.code or len(shown) <= MAX_CELL  # an identifier is never cut
    text = shown if short else shown[: MAX_CELL - 1] + "…"
    if cell.code and text:
        # A code span shows its text literally; only a backtick would end it.
        return "`" + text.replace("`", "'").replace("|", "\\|") + "`"
    escaped = escape(text)
    return f"**{escaped}**" if cell.tone in ("cut", "increase") else escaped


def _title(section: Section) -> str:
    return section.title[:1].upper() + section.title[1:]


def section(part: Section) -> list[str]:
    lines = [f"## {escape(_title(part))}", ""]
    if not part.rows:
        return [*lines, "_None._", ""]
    lines.append("| " + " | ".join(escape(column) for column in part.columns) + " |")
    lines.append(
        "|"
        + "|".join(
            "---:" if index in part.numeric_columns else "---" for index in range(len(part.columns))
        )
        + "|"
    )
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in part.rows]
    return [*lines, ""]


def render(doc: Document, *, note: str | None = None) -> str:
    lines = [f"# {escape(doc.title)}", ""]
    # One paragraph: soft breaks, shown as line breaks in chat and PR comments.
    lines += [escape(line) for line in doc.lines]
    lines.append("")
    if doc.summary:
        lines += [" · ".join(f"**{count}** {escape(label)}" for label, count in doc.summary), ""]
    if note:
        lines += [f"> {escape(note)}", ""]
    for part in doc.sections:
        lines += section(part)
    return "\n".join(lines).rstrip("\n") + "\n"
