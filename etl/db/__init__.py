"""Tables, column types and engines. Everything else reaches the database through here."""
