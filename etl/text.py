"""Text from a remote gateway made safe to read: :func:`visible` is the one rule every
output (terminal tables, messages, logs, Markdown, HTML, CSV) applies to catalog text and
upstream error messages.

* These code points are replaced by a backslash escape, as Python writes them: C0 controls
  (``\\x00``-``\\x1f``; tab, newline and carriage return as ``\\t``, ``\\n``, ``\\r``), DEL
  (``\\x7f``), C1 controls (``\\x80``-``\\x9f``), the line and paragraph separators
  (``\\u2028``, ``\\u2029``), lone UTF-16 surrogates (``\\udc9d``: they cannot even be encoded
  on a UTF-8 stdout) and the bidirectional controls that reorder what a terminal shows
  (``\\u061c``, ``\\u200e``, ``\\u200f``, ``\\u202a``-``\\u202e``, ``\\u2066``-``\\u2069``),
  and the noncharacters ``\\ufffe`` and ``\\uffff`` (XML 1.0 cannot hold them).
* A newline is kept only where the caller says a multi-line text is intended
  (``newlines=True``); everywhere else it is shown as ``\\n``.
* Nothing is cut short: a 1 MB string stays 1 MB (tables abbreviate cells themselves, with
  an ellipsis).
* The result is for reading, not for parsing: a backslash already in the text is left
  alone, so ``\\x1b`` typed as four characters looks the same as an escaped ESC. The exact
  data is in the JSON outputs.
"""

from __future__ import annotations

import os
import re

CONTROLS = (
    "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff"
)
"""The code points made visible, newline aside, as the body of a regular expression's
character class."""
_CONTROL = re.compile(f"[{CONTROLS}\n]")
_CONTROL_KEEPING_NEWLINES = re.compile(f"[{CONTROLS}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, *, newlines: bool = False) -> str:
    """``value`` as text with every control character shown as a backslash escape (see the
    module's docstring); newlines are kept only with ``newlines=True``."""
    text = value if isinstance(value, str) else str(value)
    pattern = _CONTROL_KEEPING_NEWLINES if newlines else _CONTROL
    return pattern.sub(_escape, text)


def path_text(path: object) -> str:
    """A file name as text every database can store: bytes that are not UTF-8 (which
    Python carries as lone surrogates) shown as backslash escapes."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")
