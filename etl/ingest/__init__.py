"""Ingest: bytes in, canonical records out. Fetching, decoding, shape detection, validation
and normalization; nothing here touches a database.

May import: the shared modules at the top of ``etl`` (errors, times, config, version).
"""
