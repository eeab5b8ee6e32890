"""The installed package's version, read once from its metadata."""

from __future__ import annotations

from functools import cache


@cache
def package_version() -> str:
    """The version catalog-etl was installed as (``0.0.0`` in a bare checkout)."""
    # Imported here: importlib.metadata costs a command tens of milliseconds of start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("catalog-etl")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"
