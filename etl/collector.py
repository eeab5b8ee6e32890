"""Python's cyclic garbage collector, paused while a catalog is in memory."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: parsing and normalizing a catalog allocates
    millions of containers and no cycles, and the collector would walk them again and again
    (two thirds of a large parse). Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
