"""Reading the bounce mailbox as a job: every HERALD_BOUNCE_INTERVAL seconds in the
delivery process, and on demand by `herald bounces fetch`; one process at a time
(the job lock the directory sync uses), each run recorded for /metrics and the
status API.

A round reads only the messages that arrived since the last round (IMAP UIDs
above the last one read, while the folder's UIDVALIDITY holds), so mail that
is not ours, left in place, is read once and not again. Messages are taken
in chunks: one chunk's records are one transaction, and only once it has
committed are its bounces moved to `Processed`; a round that dies between
the two reads them again next time and records nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from herald.bounces.mailbox import Mailbox, MailboxError, mailbox_from_url
from herald.bounces.service import BounceRules, Verdict, take_notification
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.operations import jobs

logger = logging.getLogger("herald.bounces")
LOCK_FOR = timedelta(minutes=15)  # a round that dies holding the lock frees it after this
CHUNK = 200  # messages fetched, judged and committed together


class MailboxBusy(Exception):
    """Another process is reading the bounce mailbox now."""


@dataclass
class FetchResult:
    read: int = 0
    verdicts: Counter[Verdict] = field(default_factory=Counter)
    suppressed: int = 0
    seconds: float = 0.0
    last_uid: int = 0
    uidvalidity: int = 0

    @property
    def moved(self) -> int:
        return sum(n for verdict, n in self.verdicts.items() if verdict.handled)

    def detail(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "moved": self.moved,
            "left": self.verdicts[Verdict.NOT_OURS],
            "recorded": self.verdicts[Verdict.RECORDED],
            "unrecognised": self.verdicts[Verdict.UNRECOGNISED],
            "suppressed": self.suppressed,
            "uidvalidity": self.uidvalidity,
            "last_uid": self.last_uid,
        }

    def summary(self) -> str:
        return (
            f"read {self.read} new message(s): {self.verdicts[Verdict.RECORDED]} bounce(s) "
            f"recorded, {self.verdicts[Verdict.UNRECOGNISED]} unreadable kept for staff, "
            f"{self.suppressed} address(es) suppressed, {self.moved} moved to Processed, "
            f"{self.verdicts[Verdict.NOT_OURS]} not ours left in place ({self.seconds:.1f} s)"
        )


def fetch_bounces(
    settings: Settings, database: Database, *, from_start: bool = False
) -> FetchResult:
    """One round over the mailbox, holding the job's lock; raises MailboxBusy when
    another process holds it, MailboxError when the mailbox cannot be read (the
    failure is recorded for /metrics and the status API, then raised)."""
    if not settings.bounce_imap_url:
        raise MailboxError("HERALD_BOUNCE_IMAP_URL is not set: there is no bounce mailbox to read")
    if not settings.bounce_address or not settings.secret:
        raise MailboxError(
            "HERALD_BOUNCE_ADDRESS and HERALD_SECRET_KEY must be set, as for the delivery "
            "process: bounces are tied to deliveries by the signed tags of that address"
        )
    now = utc_now()
    with database.transaction() as session:
        if not jobs.try_lock(session, jobs.Job.BOUNCES, now, now + LOCK_FOR):
            raise MailboxBusy("another Herald process is reading the bounce mailbox now")
        cursor = jobs.last_detail(session, jobs.Job.BOUNCES)
    result = FetchResult()
    started = time.monotonic()
    try:
        _round(settings, database, cursor, from_start, result)
    except Exception as exc:
        result.seconds = time.monotonic() - started
        detail = {**_cursor(cursor), "error": str(exc)}
        if result.last_uid:
            detail.update(uidvalidity=result.uidvalidity, last_uid=result.last_uid)
        _finish(database, result.seconds, ok=False, detail=detail)
        raise
    result.seconds = time.monotonic() - started
    _finish(database, result.seconds, ok=True, detail=result.detail())
    return result


def _cursor(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: detail[k] for k in ("uidvalidity", "last_uid") if k in detail}


def _round(
    settings: Settings,
    database: Database,
    cursor: dict[str, Any],
    from_start: bool,
    result: FetchResult,
) -> None:
    rules = BounceRules.of(settings)
    address = mailbox_from_url(settings.bounce_imap_url or "")
    with Mailbox(address) as box:
        result.uidvalidity = box.uidvalidity
        same_folder = cursor.get("uidvalidity") == box.uidvalidity
        last = int(cursor.get("last_uid", 0)) if same_folder and not from_start else 0
        result.last_uid = last
        uids = box.uids_after(last)
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start : start + CHUNK]
            handled: list[int] = []
            now = utc_now()
            with database.transaction() as session:
                for uid, raw in box.fetch(chunk):
                    result.read += 1
                    try:
                        with session.begin_nested():
                            taken = take_notification(session, raw, rules, now)
                    except Exception:
                        # One message that breaks the reader must not stop the rest:
                        # it stays in place, and the log says which.
                        logger.exception("could not judge message UID %d of the mailbox", uid)
                        continue
                    result.verdicts[taken.verdict] += 1
                    result.suppressed += int(taken.suppressed)
                    if taken.verdict.handled:
                        handled.append(uid)
            box.move_to_processed(handled)
            result.last_uid = chunk[-1]


def _finish(database: Database, seconds: float, ok: bool, detail: dict[str, Any]) -> None:
    try:
        with database.transaction() as session:
            jobs.record_run(session, jobs.Job.BOUNCES, utc_now(), seconds, ok, detail)
            jobs.unlock(session, jobs.Job.BOUNCES)
    except Exception:
        logger.exception("could not record the bounce mailbox round")


def periodic_fetch(settings: Settings, database: Database) -> bool:
    """One periodic round (the delivery process); logs instead of raising, so
    delivery goes on whatever the mailbox does. Returns whether it ran."""
    try:
        result = fetch_bounces(settings, database)
    except MailboxBusy:
        return False
    except MailboxError as exc:
        logger.error("bounce mailbox: %s; trying again in %g s", exc, settings.bounce_interval)
        return True
    if result.read:
        logger.info("bounce mailbox: %s", result.summary())
    return True
