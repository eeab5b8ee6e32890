"""Notifications: who wants to hear of which changes (subscriptions), the outbox a sync
writes in its own transaction, and delivery after the commit (apprise URLs or a JSON webhook).

May import: ``read``, ``db``, ``ingest`` and the shared modules; never ``store``, ``pipeline``,
``service``, ``reports`` or ``cli``.
"""
