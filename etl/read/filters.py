"""What a report is narrowed to: vendors, model id globs, categories, price components."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Filters:
    """What a report is narrowed to. Empty tuples mean no restriction; names compare
    case-insensitively."""

    vendors: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    """Model ids or shell-style globs (``openai/*``, ``*:free``)."""
    categories: tuple[str, ...] = ()
    """A model matches when one of its versions in the window had one of these."""
    components: tuple[str, ...] = ()
    """Price components; they narrow price changes (and choose price columns), not models."""

    @property
    def narrows_models(self) -> bool:
        return bool(self.vendors or self.models or self.categories)

    def wants_component(self, component: str) -> bool:
        return not self.components or component.lower() in {c.lower() for c in self.components}

    def matches(self, vendor: str, model: str) -> bool:
        if self.vendors and vendor.lower() not in {v.lower() for v in self.vendors}:
            return False
        return not self.models or any(
            fnmatch.fnmatchcase(model.lower(), pattern.lower()) for pattern in self.models
        )

    def to_json(self) -> dict[str, list[str]]:
        return {
            "vendor": list(self.vendors),
            "model": list(self.models),
            "category": list(self.categories),
            "component": list(self.components),
        }


NO_FILTERS: Final = Filters()
