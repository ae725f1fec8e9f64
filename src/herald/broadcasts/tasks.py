"""Periodic jobs on messages. The scheduler sends each SCHEDULED message once its day has come.

It sends as `POST .../send/` does (same service, same transaction) under its own
rule (broadcasts/transitions.py, Change.SEND_DUE): only a message that is still
SCHEDULED and due, checked in the statement that flips it. The due list is read
first and may be stale by the time a message's turn comes: staff may have
un-scheduled it or moved it to a later day, and then it stays as they left it.
Two schedulers racing on one message cannot both send it: the flip is
compare-and-set, and the loser's transaction rolls back.
"""

from __future__ import annotations

import logging
from datetime import date

from herald.broadcasts import repository, sending
from herald.broadcasts.transitions import Change
from herald.core.clock import utc_now
from herald.core.db import Database
from herald.core.errors import NoRecipients, NotFound, WrongState
from herald.idempotency.service import forget_expired
from herald.operations import jobs

logger = logging.getLogger("herald.scheduler")


def send_if_due(database: Database, uuid: str, today: date) -> bool:
    """Send one message of the due list if it is still scheduled and due; whether it was."""
    try:
        with database.transaction() as session:
            prepared = sending.send_message(session, uuid, today, change=Change.SEND_DUE)
    except (WrongState, NotFound):
        # Sent by a person or another scheduler, deleted, un-scheduled or moved
        # to a later day since the list was read.
        logger.info("scheduled message %s is no longer due; left as it is", uuid)
        return False
    except NoRecipients:
        logger.warning("scheduled message %s reaches nobody; it stays scheduled", uuid)
        return False
    logger.info(
        "sent scheduled message %s%s", uuid, "" if prepared else "; its audience is being queued"
    )
    return True


def send_due_messages(database: Database, today: date) -> list[str]:
    """Send every scheduled message due by `today`; returns the UUIDs this call sent."""
    with database.transaction(write=False) as session:
        due = repository.due_scheduled_messages(session, today)
    sent = [uuid for uuid in due if send_if_due(database, uuid, today)]
    # The tick's heartbeat: /metrics shows its age, so a stalled scheduler is seen.
    with database.transaction() as session:
        jobs.touch(session, jobs.Job.SCHEDULER, utc_now())
        forget_expired(session)
    return sent
