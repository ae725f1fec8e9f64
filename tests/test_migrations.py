"""The migrations build exactly the schema models.py describes, on both databases."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from herald.core.db import Database
from herald.core.models import Base
from herald.migrations.runner import alembic_config
from tests.conftest import BACKENDS, PG_URL, _fresh_postgres


def test_migrations_and_models_agree(database: Database) -> None:
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; Alembic says so and skips them.
        warnings.simplefilter("ignore", UserWarning)
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "models.py changed without a migration (make migration m=...)"


def _fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'upgrade.db'}"
    assert PG_URL
    return _fresh_postgres(
        make_url(PG_URL).set(database="herald_upgrade_test").render_as_string(hide_password=False)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrading_a_database_with_mail_in_its_outbox_keeps_it(
    backend: str, tmp_path: Path
) -> None:
    """0004 rebuilds the outbox on SQLite (AUTOINCREMENT): nothing may be lost or cascaded away."""
    url = _fresh_url(backend, tmp_path)
    command.upgrade(alembic_config(url), "0003")
    database = Database(url, statement_timeout=None)
    try:
        with database.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO broadcast_messages (id, uuid, created, subject, body, query,"
                    " emails, author_full_name, state) VALUES (7, :u, :t, 's', 'b', '{}', '[]',"
                    " 'A', 'SENT')"
                ),
                {"u": "a" * 32, "t": datetime(2026, 11, 1)},
            )
            session.execute(
                text(
                    "INSERT INTO deliveries (message_id, email, status, attempts, next_attempt_at)"
                    " VALUES (7, 'x@y.example', 'pending', 0, :t)"
                ),
                {"t": datetime(2026, 11, 1)},
            )
        command.upgrade(alembic_config(url), "head")
        with database.transaction(write=False) as session:
            rows = session.execute(
                text("SELECT message_uuid, email, lease_owner FROM deliveries")
            ).all()
        assert [tuple(r) for r in rows] == [("a" * 32, "x@y.example", None)]
        if backend == "sqlite":
            with database.transaction() as session:
                session.execute(text("DELETE FROM broadcast_messages"))
                session.execute(
                    text(
                        "INSERT INTO broadcast_messages (uuid, created, subject, body, query,"
                        " emails, author_full_name, state) VALUES (:u, :t, 's', 'b', '{}', '[]',"
                        " 'A', 'DRAFT')"
                    ),
                    {"u": "b" * 32, "t": datetime(2026, 11, 2)},
                )
                new_id = session.execute(text("SELECT id FROM broadcast_messages")).scalar()
            assert new_id == 8, "a deleted message's id was given out again"
    finally:
        database.dispose()


def test_the_running_code_knows_the_newest_migration() -> None:
    """Herald checks its schema without Alembic at run time (migrations.SCHEMA_HEAD)."""
    from alembic.script import ScriptDirectory

    from herald.core.models import SCHEMA_HEAD

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head == SCHEMA_HEAD


def test_the_database_refuses_a_state_no_caller_may_write(database: Database) -> None:
    """A CHECK per enum column (models.one_of): even a statement that bypasses the
    code's rules cannot write a state Waldur's clients would not understand."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO broadcast_messages (uuid, created, subject, body, query, emails,"
                " author_full_name, state) VALUES (:u, :t, 's', 'b', '{}', '[]', 'A', 'PAUSED')"
            ),
            {"u": "c" * 32, "t": datetime(2026, 12, 7)},
        )


def test_the_checks_of_migration_0014_name_every_value_of_their_enum() -> None:
    """The migration writes the values out; a new enum value needs a migration too."""
    import importlib

    from herald.core import models

    checks = importlib.import_module("herald.migrations.versions.0014_one_home").CHECKS
    enums = {
        ("broadcast_messages", "state"): models.MessageState,
        ("broadcast_messages", "steering"): models.Steering,
        ("deliveries", "status"): models.DeliveryStatus,
        ("bounces", "kind"): models.BounceKind,
        ("bounces", "source"): models.BounceSource,
        ("suppressions", "reason"): models.SuppressionReason,
    }
    assert {(t, c): set(v) for t, c, v in checks} == {
        key: {member.value for member in enum} for key, enum in enums.items()
    }
