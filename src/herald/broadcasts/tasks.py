"""Periodic jobs on messages. The scheduler sends each SCHEDULED message once its day has come.

It sends exactly as `POST .../send/` does (same service, same transaction),
so two schedulers racing on one message cannot both send it: the state flip
is compare-and-set, and the loser's transaction rolls back.
"""

from __future__ import annotations

import logging
from datetime import date

from herald.broadcasts import repository, sending
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.errors import NoRecipients, NotFound, WrongState
from herald.idempotency.service import forget_expired
from herald.operations import jobs

logger = logging.getLogger("herald.scheduler")


def send_due_messages(database: Database, today: date) -> list[str]:
    """Send every scheduled message due by `today`; returns the UUIDs this call sent."""
    with database.transaction(write=False) as session:
        due = repository.due_scheduled_messages(session, today)
    sent = []
    for uuid in due:
        try:
            with database.transaction() as session:
                prepared = sending.send_message(session, uuid, today)
        except (WrongState, NotFound):
            continue  # another scheduler or a person got there first
        except NoRecipients:
            logger.warning("scheduled message %s reaches nobody; it stays scheduled", uuid)
            continue
        logger.info(
            "sent scheduled message %s%s",
            uuid,
            "" if prepared else "; its audience is being queued",
        )
        sent.append(uuid)
    # The tick's heartbeat: /metrics shows its age, so a stalled scheduler is seen.
    with database.transaction() as session:
        jobs.touch(session, jobs.Job.SCHEDULER, utc_now())
        forget_expired(session)
    return sent
