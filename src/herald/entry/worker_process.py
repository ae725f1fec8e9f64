"""The delivery process: the outbox worker and every periodic job, composed here.

Run by `herald worker`, or by `herald serve` beside its server processes.
The jobs live in their domain packages (the scheduler in
`broadcasts/tasks.py`); this module only wires them together, so the
delivery package never imports the messages' package.

SIGTERM or SIGINT stops it cleanly: no new claims, mails on the wire finish,
every outcome is recorded and unsent claims are given back. A task that
dies stops the process with status 1, so whatever supervises it restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from herald.bounces.jobs import periodic_fetch
from herald.broadcasts.repository import MESSAGES
from herald.broadcasts.sending import prepare_unprepared
from herald.broadcasts.tasks import send_due_messages
from herald.core.config import Settings
from herald.core.db import JOB_HELD_DEADLINE, JOB_STATEMENT_TIMEOUT, Database
from herald.delivery.transport import transport_from_url
from herald.delivery.worker import DeliveryWorker, WorkerCrashed
from herald.directory.jobs import periodic_sync
from herald.entry.logs import configure_logging

logger = logging.getLogger("herald.delivery")


async def _scheduler_loop(settings: Settings, database: Database, worker: DeliveryWorker) -> None:
    """Every HERALD_SCHEDULER_INTERVAL seconds send what is due, and wake the worker for it."""
    stopping = worker.stopping
    while not stopping.is_set():
        try:
            if await asyncio.to_thread(send_due_messages, database, settings.today()):
                worker.wake()
        except Exception:
            logger.exception("scheduler tick failed; trying again next tick")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=settings.scheduler_interval)


async def _preparation_loop(settings: Settings, database: Database, worker: DeliveryWorker) -> None:
    """Queue the audiences of sent messages still being prepared (the answering
    process normally does it; this finishes what a dead process left), and
    cancel what workers gave back of cancelled messages."""
    stopping = worker.stopping
    while not stopping.is_set():
        try:
            await asyncio.to_thread(
                prepare_unprepared, database, settings.prepare_batch, worker.wake_threadsafe
            )
        except Exception:
            logger.exception("preparing sends failed; trying again shortly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=settings.poll_interval)


async def _sync_loop(settings: Settings, database: Database, stopping: asyncio.Event) -> None:
    """Every HERALD_SYNC_INTERVAL seconds, the directory from Waldur (one process at a time)."""
    interval = settings.sync_interval or 0.0
    while not stopping.is_set():
        try:
            await asyncio.to_thread(periodic_sync, settings, database)
        except Exception:
            logger.exception("directory sync round failed; trying again next interval")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)


async def _bounce_loop(settings: Settings, database: Database, stopping: asyncio.Event) -> None:
    """Every HERALD_BOUNCE_INTERVAL seconds, the bounce mailbox (one process at a time).
    A mailbox that cannot be read is logged and recorded, and tried again next
    interval; delivery is never held up by it."""
    while not stopping.is_set():
        try:
            await asyncio.to_thread(periodic_fetch, settings, database)
        except Exception:
            logger.exception("reading the bounce mailbox failed; trying again next interval")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=settings.bounce_interval)


async def run_delivery(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    """Run the worker and the scheduler until `stopping` is set (or a signal arrives).

    Raises WorkerCrashed when the worker or the scheduler dies."""
    database = Database(
        settings.database_url,
        statement_timeout=JOB_STATEMENT_TIMEOUT,
        held_deadline=JOB_HELD_DEADLINE,
    )
    transport = transport_from_url(
        settings.smtp_url, timeout=settings.smtp_timeout, size=settings.smtp_concurrency
    )
    worker = DeliveryWorker(settings, database, transport, MESSAGES)
    if stopping is None:
        stopping = worker.stopping
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
    link = asyncio.create_task(_link(stopping, worker.stopping))
    scheduler = asyncio.create_task(_scheduler_loop(settings, database, worker), name="scheduler")
    scheduler.add_done_callback(lambda task: _stop_if_died(task, worker))
    preparer = asyncio.create_task(
        _preparation_loop(settings, database, worker), name="preparation"
    )
    preparer.add_done_callback(lambda task: _stop_if_died(task, worker))
    syncing = None
    if settings.sync_interval and settings.waldur_url:
        syncing = asyncio.create_task(_sync_loop(settings, database, worker.stopping), name="sync")
    if settings.bounce_imap_url:
        bouncing = asyncio.create_task(
            _bounce_loop(settings, database, worker.stopping), name="bounces"
        )
    else:
        bouncing = None
    optional = [task for task in (syncing, bouncing) if task is not None]
    try:
        await worker.run()
    finally:
        worker.stopping.set()
        link.cancel()
        await asyncio.gather(scheduler, preparer, *optional, return_exceptions=True)
        database.dispose()
    for task in (scheduler, preparer):
        if task.exception() is not None:
            raise WorkerCrashed(f"the {task.get_name()} task died: {task.exception()!r}")


def _stop_if_died(task: asyncio.Task[None], worker: DeliveryWorker) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.critical(
            "the %s task died: %r; stopping the delivery process", task.get_name(), task.exception()
        )
        worker.stopping.set()


async def _link(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def main() -> None:
    """Entry point of the delivery process."""
    settings = Settings()
    configure_logging(settings)
    destination, real = settings.mail_destination()
    (logger.info if real else logger.warning)("delivery worker started: %s", destination)
    try:
        asyncio.run(run_delivery(settings))
    except WorkerCrashed as crash:
        logger.critical("delivery worker stopped with an error: %s", crash)
        sys.exit(1)
    logger.info("delivery worker stopped")
