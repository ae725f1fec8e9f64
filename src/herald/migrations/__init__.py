"""Alembic migrations. `SCHEMA_HEAD` is the newest revision, so that a running
Herald can check its database without importing Alembic (a test keeps the
two in step)."""

SCHEMA_HEAD = "0006"
