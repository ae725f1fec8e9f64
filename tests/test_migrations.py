"""The migrations build exactly the schema models.py describes, on both databases."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from herald.db import Database
from herald.models import Base


def test_migrations_and_models_agree(database: Database) -> None:
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; Alembic says so and skips them.
        warnings.simplefilter("ignore", UserWarning)
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "models.py changed without a migration (make migration m=...)"
