"""Text from the gateway made safe to show: control characters made visible, rich markup
escaped.

Model ids, names, descriptions, provider names, warnings and error messages (which quote
upstream error bodies) come from a remote gateway. Printed as they are, an escape sequence
such as ``\\x1b[2J`` clears the operator's terminal, ``\\x1b]8;;...`` plants a hyperlink, a
carriage return overwrites what the line said, and ``[/]`` is rich markup that crashes the
print. :func:`visible` is the one rule every output applies to such text:

* These code points are replaced by a backslash escape, as Python writes them: C0 controls
  (``\\x00``-``\\x1f``; tab, newline and carriage return as ``\\t``, ``\\n``, ``\\r``), DEL
  (``\\x7f``), C1 controls (``\\x80``-``\\x9f``), the line and paragraph separators
  (``\\u2028``, ``\\u2029``), lone UTF-16 surrogates (``\\udc9d``: they cannot even be encoded
  on a UTF-8 stdout) and the bidirectional controls that reorder what a terminal shows
  (``\\u061c``, ``\\u200e``, ``\\u200f``, ``\\u202a``-``\\u202e``, ``\\u2066``-``\\u2069``).
* A newline is kept only where the caller says a multi-line text is intended
  (``newlines=True``); everywhere else it is shown as ``\\n``.
* Nothing is cut short: a 1 MB string stays 1 MB (tables abbreviate cells themselves, with
  an ellipsis).
* The result is for reading, not for parsing: a backslash already in the text is left
  alone, so ``\\x1b`` typed as four characters looks the same as an escaped ESC. The exact
  data is in the JSON outputs.

What the terminal shows is built as rich ``Text``, which rich never parses as markup:
:func:`text` for a cell or a line, :func:`styled` for a line whose own labels are coloured
(``error:`` in red) around catalog text. :func:`markup` is for the rare string that must be
rich markup: it escapes the markup too (``rich.markup.escape``, which doubles a trailing
backslash, as the text may be followed by a tag).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when something is printed, not when this is imported
    from rich.text import Text

CONTROLS = (
    "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
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


def markup(value: object, *, newlines: bool = False) -> str:
    """:func:`visible`, with rich markup escaped: for catalog text inside a markup string."""
    from rich.markup import escape

    return escape(visible(value, newlines=newlines))


def text(value: object, style: str = "", *, newlines: bool = False) -> Text:
    """:func:`visible` as a rich ``Text``, which rich never parses as markup."""
    from rich.text import Text

    return Text(visible(value, newlines=newlines), style=style)


def styled(*parts: object | tuple[str, str], newlines: bool = False) -> Text:
    """One line of rich ``Text``: each ``(label, style)`` pair is the program's own words in
    a colour, every other part is data, made :func:`visible`."""
    from rich.text import Text

    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(part[0], style=part[1])
        else:
            line.append(visible(part, newlines=newlines))
    return line
