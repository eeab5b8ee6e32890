"""What changed inside a changed text or a changed JSON object: the pieces of a word diff,
the characters removed and added, and the keys added, removed and changed.

A description rewritten upstream, or one cut from 1,100 characters to 330, is one field
change whose old and new values are long and mostly the same: reports show the difference
(:mod:`etl.reports.text_diff`), JSON adds these counts to the full texts.

The diff is :mod:`difflib` over words and the whitespace between them (so a change of
spacing alone is a change too), falling back to the common prefix and suffix for texts too
long to compare word by word in reasonable time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Final

MAX_TOKENS: Final = 4000
"""Longer texts (in words and spaces) are compared by their common prefix and suffix only:
difflib takes time that grows with the square of the length."""

_TOKEN = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class Piece:
    """A stretch of the two texts: the same on both sides (``old == new``), or changed."""

    old: str
    new: str

    @property
    def same(self) -> bool:
        return self.old == self.new


def common_ends(old: str, new: str) -> tuple[int, int]:
    """The lengths of the longest common prefix and, in what remains, suffix."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def text_pieces(old: str, new: str) -> list[Piece]:
    """``old`` and ``new`` cut into alternating same and changed pieces: joined, the
    ``old`` sides give ``old`` back and the ``new`` sides ``new``."""
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(old_tokens) + len(new_tokens) > MAX_TOKENS:
        prefix, suffix = common_ends(old, new)
        end_old, end_new = len(old) - suffix, len(new) - suffix
        pieces = [
            Piece(old[:prefix], old[:prefix]),
            Piece(old[prefix:end_old], new[prefix:end_new]),
        ]
        pieces.append(Piece(old[end_old:], new[end_new:]))
        return [piece for piece in pieces if piece.old or piece.new]
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    pieces = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old_part, new_part = "".join(old_tokens[i1:i2]), "".join(new_tokens[j1:j2])
        if tag != "equal" and pieces and not pieces[-1].same:
            # difflib never puts two changes side by side, but keep the promise anyway.
            last = pieces.pop()
            old_part, new_part = last.old + old_part, last.new + new_part
        pieces.append(Piece(old_part, new_part))
    return pieces


def character_counts(old: str, new: str) -> tuple[int, int]:
    """The characters removed and added: in each changed piece, those outside the common
    prefix and suffix of its two sides."""
    removed = added = 0
    for piece in text_pieces(old, new):
        if not piece.same:
            prefix, suffix = common_ends(piece.old, piece.new)
            removed += len(piece.old) - prefix - suffix
            added += len(piece.new) - prefix - suffix
    return removed, added


def key_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """The keys added, removed, and present in both with another value, each sorted."""
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(key for key in old.keys() & new.keys() if old[key] != new[key])
    return added, removed, changed


def change_detail(old: Any, new: Any) -> dict[str, Any]:
    """What JSON adds to a field change: for two texts, ``chars_removed`` and
    ``chars_added``; for two objects (``extra``), ``keys_added``, ``keys_removed`` and
    ``keys_changed``; nothing otherwise."""
    if isinstance(old, str) and isinstance(new, str):
        removed, added = character_counts(old, new)
        return {"chars_removed": removed, "chars_added": added}
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys_added, keys_removed, keys_changed = key_changes(old, new)
        return {
            "keys_added": keys_added,
            "keys_removed": keys_removed,
            "keys_changed": keys_changed,
        }
    return {}
