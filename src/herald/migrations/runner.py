"""Run Alembic from Herald's own settings, with no alembic.ini to keep in step."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from herald.core.db import normalize_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    # Passed as an attribute, not an option, so a '%' in a password needs no escaping.
    config.attributes["database_url"] = normalize_url(database_url)
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def make_revision(database_url: str, message: str) -> None:
    """For developers changing models.py: write a new migration by comparing the
    models with a database at head (`make migration m="what changed"`)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
