"""Read: questions asked of the history, read-only, in exact decimals. The catalog as of a
time, net differences and change events, one model's timeline, price tables, units.

May import: ``etl.db``, ``etl.ingest`` and the shared modules; never ``etl.store``.
"""
