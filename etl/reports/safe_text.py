"""Text from the gateway shown in a terminal: rich ``Text`` built from :func:`etl.text.visible`
(control characters made visible), which rich never parses as markup. Carriage returns,
escape sequences and ``[/]`` in a model id print as what they are.

:func:`text` for a cell or a line, :func:`styled` for a line whose own labels are coloured
(``error:`` in red) around catalog text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.text import CONTROLS as CONTROLS
from etl.text import visible as visible

if TYPE_CHECKING:  # rich is imported when something is printed, not when this is imported
    from rich.text import Text


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
