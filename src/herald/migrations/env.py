"""Alembic environment: the URL comes from Herald's settings via `herald migrate`."""

from alembic import context

from herald.db import Database
from herald.models import Base

config = context.config


def run_migrations() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    assert url, "herald migrate passes the database URL"
    database = Database(str(url))
    try:
        with database.engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,  # lets SQLite alter tables
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        database.dispose()


run_migrations()
