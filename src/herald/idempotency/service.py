"""How long an Idempotency-Key is kept (SPEC 1), and forgetting the old ones.

The request and response side is http.py: a service never touches HTTP.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from herald.core.clock import utc_now
from herald.idempotency import repository

KEPT_FOR = timedelta(hours=24)


def forget_expired(session: Session) -> int:
    """Delete the keys older than 24 hours (run by the scheduler's tick)."""
    return repository.forget_before(session, utc_now() - KEPT_FOR)
