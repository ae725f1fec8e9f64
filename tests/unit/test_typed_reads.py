"""States and statuses cross the database boundary as enums, both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import StatementError

from herald.broadcasts import repository
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.models import BroadcastMessage, MessageState


def _message(db: Database, state: object) -> None:
    with db.transaction() as session:
        session.execute(
            insert(BroadcastMessage).values(
                uuid="a" * 32, created=utc_now(), subject="s", body="b", query="{}",
                emails="[]", author_full_name="A", state=state,
            )
        )  # fmt: skip


def test_a_read_state_is_the_enum(db: Database) -> None:
    _message(db, MessageState.DRAFT)
    with db.transaction(write=False) as session:
        row = repository.get_message(session, "a" * 32)
        assert type(row.state) is MessageState and row.state is MessageState.DRAFT
        assert row.steering is None
        raw = session.execute(text("SELECT state FROM broadcast_messages")).scalar()
        assert raw == "DRAFT"  # stored as its plain value, readable by any tool


def test_a_state_that_is_not_one_cannot_be_written(db: Database) -> None:
    with pytest.raises(StatementError, match="'SENDING' is not a valid MessageState"):
        _message(db, "SENDING")
    with db.transaction(write=False) as session:
        assert session.execute(select(BroadcastMessage.id)).first() is None
