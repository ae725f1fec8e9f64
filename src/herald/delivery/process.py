"""The delivery process: the outbox worker and the scheduler, run by `herald worker`
(or by `herald serve` beside its server processes). Every periodic job lives here.

SIGTERM or SIGINT stops it cleanly: no new claims, mails on the wire finish,
every outcome is recorded and unsent claims are given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from herald.config import Settings
from herald.db import Database
from herald.delivery.scheduler import send_due_messages
from herald.delivery.transport import transport_from_url
from herald.delivery.worker import DeliveryWorker

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


async def run_delivery(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    """Run the worker and the scheduler until `stopping` is set (or a signal arrives)."""
    database = Database(settings.database_url)
    transport = transport_from_url(
        settings.smtp_url, timeout=settings.smtp_timeout, size=settings.smtp_concurrency
    )
    worker = DeliveryWorker(settings, database, transport)
    if stopping is None:
        stopping = worker.stopping
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
    else:
        asyncio.get_running_loop().create_task(_link(stopping, worker.stopping))
    scheduler = asyncio.create_task(_scheduler_loop(settings, database, worker))
    try:
        await worker.run()
    finally:
        worker.stopping.set()
        await scheduler
        database.dispose()


async def _link(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def main() -> None:
    """Entry point of the delivery process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings()
    logger.info("delivery worker started: mail to %s", settings.smtp_url.split("@")[-1])
    asyncio.run(run_delivery(settings))
    logger.info("delivery worker stopped")
