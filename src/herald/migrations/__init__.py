"""Alembic migrations (the newest revision is models.SCHEMA_HEAD)."""
