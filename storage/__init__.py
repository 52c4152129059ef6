"""Storage of the МЦУ: tables, the async engine and sessions, migrations and seed data."""
