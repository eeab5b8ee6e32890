"""The errors a sync can end with, shared by every stage.

::

    SyncError                 a sync that cannot be applied (one line, for people)
    ├── DatabaseUnavailable   not even the failure could be recorded
    ├── SyncBusy              another sync holds the database's sync lock: skipped
    └── FetchError            (etl.ingest.fetch) the upstream did not deliver a usable catalog

Each carries ``retryable``: True when trying again later may succeed (timeouts, 5xx),
False when it will not until something changes (bad token, bad payload).
"""

from __future__ import annotations


class SyncError(RuntimeError):
    """A sync that cannot be applied; the message is one line a person can act on."""

    retryable = False


class DatabaseUnavailable(SyncError):
    """The database could not be reached, so not even the failure could be recorded."""

    retryable = True


class SyncBusy(SyncError):
    """Another sync (another replica, a cron job) is applying to this database right now."""

    retryable = True
