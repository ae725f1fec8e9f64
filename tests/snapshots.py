"""What a rejected request must leave untouched: every message and outbox row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from herald.core.db import Database


def snapshot(db: Database) -> dict[str, Any]:
    with db.transaction(write=False) as session:
        return {
            table: [
                tuple(row)
                for row in session.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
            ]
            for table in ("broadcast_messages", "deliveries", "users", "api_tokens")
        }
