"""How a changed value reads in one table cell, never cut so that old and new look the same.

* short values: ``131072 → 80000``;
* a set (parameters, modalities): what was gained and lost, ``+tools, −seed``;
* a JSON object (``extra``, the fields without a column): each key that changed,
  ``+links: {...}; −expiration_date: null; knowledge_cutoff: null → "2025-01"``;
* long text (a description, a long name): the characters removed and added, then a word
  diff with a little context, ``−112 +3 chars: … 256K context[- window, … versions.-]{+...+}``
  (``[-removed-]`` and ``{+added+}``, as ``git diff --word-diff`` writes them).

A change of whitespace alone is shown with the whitespace made visible (``␣`` for a space,
``\\n`` for a newline). Every format collapses runs of spaces in a cell, so this is what
keeps ``"GPT-4o "`` and ``"GPT-4o"`` from reading the same. The full texts are in JSON
(and behind "full text" in HTML).
"""

from __future__ import annotations

import json
from typing import Any, Final

from etl.read.changes import FieldChange
from etl.read.text_changes import Piece, character_counts, common_ends, text_pieces

MINUS: Final = "\u2212"
CONTEXT_WORDS: Final = 4
"""Unchanged words shown on each side of a change."""
CONTEXT_CHARS: Final = 32
"""...and at most this many characters of them."""
RUN_CHARS: Final = 60
"""A removed or added stretch longer than this shows its start and end around a ``…``."""
MAX_PIECES: Final = 3
"""Changes shown in one cell; the count of the others follows."""


def value_text(value: Any, limit: int | None = None) -> str:
    """A value on one line: ``-`` for None, a list joined by commas, an object as JSON;
    whitespace collapsed, cut to ``limit`` with ``…``."""
    if value is None:
        text = "-"
    elif value == "":
        text = '""'
    elif isinstance(value, list | tuple):
        text = ", ".join(map(str, value)) or "(none)"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return _cut(" ".join(text.split()), limit)


def change_text(change: FieldChange, limit: int = 60) -> str:
    """A field change in one cell (see the module)."""
    if change.added or change.removed:
        return ", ".join(
            [f"+{item}" for item in change.added] + [f"{MINUS}{item}" for item in change.removed]
        )
    if isinstance(change.old, dict) and isinstance(change.new, dict):
        return object_diff(change.old, change.new, limit)
    return values_diff(change.old, change.new, limit)


def values_diff(old: Any, new: Any, limit: int) -> str:
    """``old → new`` when both are short, a word diff when they are long texts."""
    old_text, new_text = value_text(old), value_text(new)
    short = len(old_text) <= limit and len(new_text) <= limit
    if isinstance(old, str) and isinstance(new, str):
        # Texts that read the same (or as nothing) once whitespace is collapsed go to the
        # word diff, which shows whitespace.
        readable = short and old_text != new_text and old_text and new_text
        return f"{old_text} → {new_text}" if readable else text_diff(old, new)
    if old_text == new_text:  # None and "-", 1 and "1": their JSON tells them apart
        old_text, new_text = _json(old), _json(new)
    if short or old is None or new is None:
        return f"{_cut(old_text, limit)} → {_cut(new_text, limit)}"
    return text_diff(_json(old), _json(new))


def object_diff(old: dict[str, Any], new: dict[str, Any], limit: int) -> str:
    """Each key added (``+key: value``), removed (``−key: value``) or changed
    (``key: old → new``), by key."""
    parts = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            parts.append(f"+{key}: {_cut(_json(new[key]), limit)}")
        elif key not in new:
            parts.append(f"{MINUS}{key}: {_cut(_json(old[key]), limit)}")
        elif old[key] != new[key]:
            parts.append(f"{key}: {values_diff(_json(old[key]), _json(new[key]), limit)}")
    return "; ".join(parts)


def text_diff(old: str, new: str) -> str:
    """The characters removed and added, then the first changes with their context."""
    pieces = text_pieces(old, new)
    removed, added = character_counts(old, new)
    changed = [i for i, piece in enumerate(pieces) if not piece.same]
    parts: list[str] = []
    for number, index in enumerate(changed[:MAX_PIECES]):
        before = pieces[index - 1].old if index > 0 else ""
        after = pieces[index + 1].old if index + 1 < len(pieces) else ""
        # Context between two shown changes is shown once, after the first one.
        if number == 0:
            parts.append(_leading(before))
        parts.append(_change(pieces[index]))
        last = number == len(changed[:MAX_PIECES]) - 1
        parts.append(_trailing(after) if last else _between(after))
    more = len(changed) - MAX_PIECES
    tail = f" ({more} more change{'s' * (more > 1)})" if more > 0 else ""
    return f"{MINUS}{removed} +{added} chars: " + "".join(parts).strip() + tail


def _leading(text: str) -> str:
    """The unchanged text before the first change: its last words."""
    words = text.split()
    kept = _fitting(words[::-1])[::-1]
    shown = " ".join(kept) if kept else _cut_start(words[-1], CONTEXT_CHARS) if words else ""
    if len(kept) < len(words) and not shown.startswith("…"):
        shown = "… " + shown
    return shown + (" " if text[-1:].isspace() else "")


def _trailing(text: str) -> str:
    """The unchanged text after the last change: its first words."""
    words = text.split()
    kept = _fitting(words)
    shown = " ".join(kept) if kept else _cut(words[0], CONTEXT_CHARS) if words else ""
    if len(kept) < len(words) and not shown.endswith("…"):
        shown += " …"
    return (" " if text[:1].isspace() else "") + shown


def _fitting(words: list[str]) -> list[str]:
    """The first words, up to CONTEXT_WORDS of them and CONTEXT_CHARS in all."""
    kept: list[str] = []
    length = -1
    for word in words[:CONTEXT_WORDS]:
        length += len(word) + 1
        if length > CONTEXT_CHARS:
            break
        kept.append(word)
    return kept


def _between(text: str) -> str:
    """The unchanged text between two changes: whole when short, else both ends."""
    words = text.split()
    joined = " ".join(words)
    if len(words) > 2 * CONTEXT_WORDS or len(joined) > 2 * CONTEXT_CHARS:
        head = _cut(" ".join(words[:CONTEXT_WORDS]), CONTEXT_CHARS).rstrip("…")
        tail = _cut_start(" ".join(words[-CONTEXT_WORDS:]), CONTEXT_CHARS).lstrip("…")
        joined = f"{head} … {tail}"
    if not joined:
        return " " if text else ""
    return (" " if text[:1].isspace() else "") + joined + (" " if text[-1:].isspace() else "")


def _change(piece: Piece) -> str:
    """``[-old-]{+new+}`` (either side left out when empty); long sides keep the text they
    share and show their start and end, so the two never read the same."""
    old, new = piece.old, piece.new
    shared_start = shared_end = ""
    if len(old) > RUN_CHARS or len(new) > RUN_CHARS:
        prefix, suffix = _word_ends(old, new)
        shared_start, shared_end = old[:prefix], old[len(old) - suffix :]
        old, new = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    old_shown, new_shown = _shown(old), _shown(new)
    if old_shown == new_shown:
        old_shown, new_shown = _visible_space(old), _visible_space(new)
    short_old, short_new = _ends(old_shown), _ends(new_shown)
    if short_old != short_new:
        old_shown, new_shown = short_old, short_new
    marks = (f"[-{old_shown}-]" if old else "") + (f"{{+{new_shown}+}}" if new else "")
    return (
        _cut_start(_shown(shared_start), CONTEXT_CHARS)
        + marks
        + _cut(_shown(shared_end), CONTEXT_CHARS)
    )


def _word_ends(old: str, new: str) -> tuple[int, int]:
    """The common prefix and suffix, each backed off to whole words."""
    prefix, suffix = common_ends(old, new)
    while prefix > 0 and not old[prefix - 1].isspace():
        prefix -= 1
    while suffix > 0 and not old[len(old) - suffix].isspace():
        suffix -= 1
    return prefix, suffix


def _shown(text: str) -> str:
    """A stretch of text on one line; whitespace alone made visible."""
    if text and not text.strip():
        return _visible_space(text)
    return " ".join(text.split())


def _visible_space(text: str) -> str:
    """Every whitespace character visible: ``␣`` for a space, an escape for the others
    (a literal ``␣`` or backslash escaped too, so two different texts never read the same)."""
    out = []
    for char in text:
        if char == " ":
            out.append("␣")
        elif char == "␣" or char == "\\" or char.isspace():
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def _ends(text: str) -> str:
    """A long stretch as its start, ``…`` and its end, cut between words when it can."""
    if len(text) <= RUN_CHARS:
        return text
    head, tail = text[: RUN_CHARS * 2 // 3], text[-(RUN_CHARS // 3) :]
    if " " in head[len(head) // 2 :]:
        head = head[: head.rindex(" ")]
    if " " in tail[: len(tail) // 2]:
        tail = tail[tail.index(" ") + 1 :]
    return head.rstrip() + " … " + tail.lstrip()


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def _cut_start(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
