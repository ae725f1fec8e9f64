"""The directory sync as a job: run by `herald directory sync` and, every
HERALD_SYNC_INTERVAL seconds, by the delivery process; one process at a time
(a lock in the database), each run recorded for /metrics and the status API."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from herald.audit.service import Actor, record
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.directory.importer import ImportReport
from herald.directory.sync import Progress, SyncResult, sync
from herald.directory.waldur import WaldurClient, WaldurError
from herald.operations import jobs

logger = logging.getLogger("herald.sync")
LOCK_FOR = timedelta(minutes=30)  # a sync that dies holding the lock frees it after this


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    progress: Progress | None = None,
    database: Database | None = None,
    page_size: int | None = None,
    actor: Actor | None = None,
) -> SyncResult:
    """One sync with the configured Waldur; raises WaldurError or MassRemoval (nothing written)."""
    if not settings.waldur_url:
        raise WaldurError(
            "HERALD_WALDUR_URL is not set: give Waldur's address, such as https://waldur.example.org"
        )
    own = database is None
    database = database or Database(settings.database_url, statement_timeout=None)
    started = time.monotonic()
    options: dict[str, Any] = {"page_size": page_size} if page_size else {}
    who = actor or Actor.system("the periodic directory sync")

    def recorded(session: Any, report: ImportReport) -> None:
        changes = {
            name: {"added": c.added, "changed": c.changed, "removed": c.removed}
            for name, c in report.sections.items()
            if c.added or c.changed or c.removed
        }
        detail = {"waldur": settings.waldur_url, "changes": changes, "left": report.left}
        record(session, who, "directory.sync", "directory", None, detail)

    try:
        with WaldurClient(settings.waldur_url, settings.waldur_token or "", **options) as client:
            result = sync(
                database,
                client,
                customer_emails=settings.waldur_customer_emails == "contact",
                dry_run=dry_run,
                allow_mass_removal=allow_mass_removal,
                progress=progress,
                on_applied=recorded,
            )
    except Exception as exc:
        if not dry_run:
            _record(database, time.monotonic() - started, ok=False, detail={"error": str(exc)})
        raise
    finally:
        if own:
            database.dispose()
    if not dry_run:
        _record(database, result.seconds, ok=True, detail=result.detail())
    return result


def _record(database: Database, seconds: float, ok: bool, detail: dict[str, Any]) -> None:
    try:
        with database.transaction() as session:
            jobs.record_run(session, jobs.Job.DIRECTORY_SYNC, utc_now(), seconds, ok, detail)
    except Exception:
        logger.exception("could not record the directory sync's outcome")


def periodic_sync(settings: Settings, database: Database) -> bool:
    """One periodic run, if no other process holds the job; returns whether it ran."""
    now = utc_now()
    with database.transaction() as session:
        if not jobs.try_lock(session, jobs.Job.DIRECTORY_SYNC, now, now + LOCK_FOR):
            return False
    try:
        result = run_sync(settings, database=database)
        changes = {
            name: f"+{c.added} ~{c.changed} -{c.removed}"
            for name, c in result.report.sections.items()
            if c.added or c.changed or c.removed
        }
        logger.info("directory synced from Waldur in %.1f s: %s", result.seconds,
                    changes or "no changes")  # fmt: skip
    except Exception as exc:
        logger.error("directory sync from Waldur failed: %s", exc)
    finally:
        with database.transaction() as session:
            jobs.unlock(session, jobs.Job.DIRECTORY_SYNC)
    return True
