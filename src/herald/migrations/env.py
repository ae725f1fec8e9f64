"""Alembic environment: the URL comes from Herald's settings via `herald migrate`."""

import warnings

from alembic import context

from herald.core.db import Database
from herald.core.models import Base

config = context.config


def run_migrations() -> None:
    # Batch mode reflects SQLite tables, and SQLite cannot describe expression
    # indexes; the warning says so on every migrate and means nothing to an operator.
    warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    assert url, "herald migrate passes the database URL"
    database = Database(str(url), statement_timeout=None)
    try:
        with database.engine.connect() as connection:
            if database.is_sqlite:
                # Batch migrations rebuild tables by copy, drop and rename; with
                # foreign keys on, dropping a parent table would first delete
                # every child row through ON DELETE CASCADE. The pragma only
                # takes effect outside a transaction, hence the raw connection.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,  # lets SQLite alter tables
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if database.is_sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    assert not broken, f"a migration left dangling references: {broken[:5]}"
    finally:
        database.dispose()


run_migrations()
