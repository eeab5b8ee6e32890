"""DB: the tables, views and column types, bulk inserts, engines, and reading a model's stored
state back. Everything else reaches the database through here.

May import: ``etl.ingest`` (the records the tables hold) and the shared modules.
"""
