"""Alembic migrations of the state store, applied at server start."""
