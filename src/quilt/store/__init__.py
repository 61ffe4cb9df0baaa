"""State store: the only code with SQL (SQLAlchemy Core; SQLite by default, PostgreSQL by URL)."""
