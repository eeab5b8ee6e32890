"""HTML: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Every piece of text from the catalog is escaped, so a model name or description holding
markup shows as text, and its control characters are shown as backslash escapes
(:func:`etl.reports.safe_text.visible`). A Content-Security-Policy (:data:`CSP`) allows only
the page's own inline CSS and inline SVG (and ``data:`` images): no script runs and nothing
is fetched, whatever slips into the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from etl.reports.document import Cell, Document, Section
from etl.reports.safe_text import visible
from etl.version import package_version

MAX_CELL = 200
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none';"
    " form-action 'none'"
)
"""The page's Content-Security-Policy: its inline ``<style>``, the inline SVG charts (and
their ``style`` attributes), ``data:`` images; no script, no request, no form."""

_STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --head: #f6f8fa; --cut: #1a7f37; --cut-bg: #dafbe1; --up: #cf222e; --up-bg: #ffebe9;
  --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; padding: 32px 40px 48px; color: var(--ink); background: #fff;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica,
  Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h2 .count { color: var(--muted); font-weight: normal; }
p.context { margin: 2px 0; color: var(--muted); }
.note { margin: 16px 0; padding: 10px 14px; border-left: 4px solid var(--accent);
  background: var(--head); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 20px 0 4px; padding: 0; }
.card { list-style: none; min-width: 118px; padding: 10px 14px; border: 1px solid var(--line);
  border-radius: 8px; background: var(--head); }
.card b { display: block; font-size: 24px; line-height: 1.2; }
.card span { color: var(--muted); font-size: 12px; }
.card.zero b { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.cut { color: var(--cut); background: var(--cut-bg) !important; font-weight: 600; }
.increase { color: var(--up); background: var(--up-bg) !important; font-weight: 600; }
.muted { color: var(--muted); }
.none { color: var(--muted); font-style: italic; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr));
  gap: 18px; }
figure { margin: 0; padding: 10px; border: 1px solid var(--line); border-radius: 8px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
details summary { color: var(--accent); cursor: pointer; font-size: 12px; }
details dl { margin: 4px 0 0; }
details dt { color: var(--muted); font-size: 12px; }
details dd { margin: 0 0 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def _h(text: str) -> str:
    """Catalog text as HTML text: control characters made visible, markup escaped."""
    return escape(visible(text, newlines=True))


def _cell(cell: Cell, numeric: bool) -> str:
    shown = visible(cell.text, newlines=True)
    short = cell.wrap or cell.code or len(shown) <= MAX_CELL  # an identifier is never cut
    text = shown if short else shown[: MAX_CELL - 1] + "…"
    body = f"<code>{escape(text)}</code>" if cell.code else escape(text)
    if cell.details:
        # The whole texts behind a diff, folded away: <details> needs no script.
        texts = "".join(f"<dt>{_h(label)}</dt><dd>{_h(full)}</dd>" for label, full in cell.details)
        body += f"<details><summary>full text</summary><dl>{texts}</dl></details>"
    classes = " ".join(c for c in ("num" if numeric else "", cell.tone) if c)
    return f'<td class="{classes}">{body}</td>' if classes else f"<td>{body}</td>"


def section(part: Section) -> str:
    title, _, count = part.title.partition(" (")
    heading = _h(title[:1].upper() + title[1:])
    if count:
        heading += f' <span class="count">({_h(count)}</span>'
    out = [f'<section id="{_h(part.key)}">', f"<h2>{heading}</h2>"]
    if not part.rows:
        out.append('<p class="none">None.</p></section>')
        return "\n".join(out)
    out.append("<table><thead><tr>")
    out += [
        f'<th class="num">{_h(c)}</th>' if i in part.numeric_columns else f"<th>{_h(c)}</th>"
        for i, c in enumerate(part.columns)
    ]
    out.append("</tr></thead><tbody>")
    for row in part.rows:
        cells = "".join(_cell(cell, i in part.numeric_columns) for i, cell in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def render(
    doc: Document,
    *,
    charts: Sequence[tuple[str, str]] = (),
    note: str | None = None,
    charts_line: str | None = None,
) -> str:
    """The whole page. ``charts``: ``(title, inline SVG)`` pairs, placed after the summary,
    before the first table (``charts_line`` under their heading says what they show); the
    SVG comes from :mod:`etl.reports.svg_chart`, never from catalog text. ``note``: a
    remark after the summary, such as why there are no charts."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(doc.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head><body><main>",
        f"<h1>{_h(doc.title)}</h1>",
    ]
    parts += [f'<p class="context">{_h(line)}</p>' for line in doc.lines]
    if doc.summary:
        parts.append('<ul class="cards">')
        parts += [
            f'<li class="card{" zero" if count == 0 else ""}"><b>{count}</b>'
            f"<span>{_h(label)}</span></li>"
            for label, count in doc.summary
        ]
        parts.append("</ul>")
    if note:
        parts.append(f'<p class="note">{_h(note)}</p>')
    if charts:
        # First, before any table: the charts are what a reader looks at.
        parts.append('<section id="charts"><h2>Price charts</h2>')
        if charts_line:
            parts.append(f'<p class="context">{_h(charts_line)}</p>')
        parts.append('<div class="charts">')
        parts += [
            f"<figure><figcaption>{_h(title)}</figcaption>{svg}</figure>" for title, svg in charts
        ]
        parts.append("</div></section>")
    parts += [section(part) for part in doc.sections]
    parts.append(f"<footer>Generated by catalog-etl {_h(package_version())}.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
