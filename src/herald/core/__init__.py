"""Shared infrastructure below every domain package: settings, the database and
its schema, domain errors, text and address rules, the clock. It imports no
domain package."""
