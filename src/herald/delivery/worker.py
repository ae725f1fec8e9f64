"""The delivery worker: drains the outbox through a transport.

One claimer keeps a small queue of leased deliveries filled; `concurrency`
senders take from it, each mail over its own pooled connection; a recorder
writes outcomes in batches (every 100 mails or 100 ms, whichever comes
first). Database work runs in threads, mail on the event loop.

What a crash can repeat: only mails that the server accepted but whose
`sent` row was not yet committed. Those rows are still leased, so at any
moment the number of possible repeats is at most the number of leased rows
(the queue, the mails on the wire and the unrecorded outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from herald.config import Settings
from herald.db import Database
from herald.delivery import outbox
from herald.delivery.mail import RenderedMessage, render_message
from herald.delivery.outbox import ClaimedDelivery, Outcome
from herald.delivery.transport import DeliveryError, Transport

logger = logging.getLogger("herald.delivery")

RECORD_BATCH = 1000
RECORD_EVERY = 0.01  # seconds
# Claimed deliveries are kept queued between two and four rounds of
# `concurrency`: claims come in batches of at least two rounds (fewer, larger
# transactions) and the senders never wait for one.
QUEUE_LOW, QUEUE_HIGH = 2, 4


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds before try number `attempt + 1`: doubling, capped, with ±25% jitter
    so that mails refused together are not all retried in the same instant."""
    delay = min(ceiling, base * 2 ** max(0, attempt - 1))
    return delay * random.uniform(0.75, 1.25)


class RateLimiter:
    """At most `rate` starts per second (0: unlimited), spaced evenly."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(self._next, now) + self.interval


class DeliveryWorker:
    def __init__(self, settings: Settings, database: Database, transport: Transport) -> None:
        self.settings = settings
        self.database = database
        self.transport = transport
        self.concurrency = max(1, settings.smtp_concurrency)
        # Claimed deliveries waiting for a sender; None tells a sender to stop.
        self.queue: asyncio.Queue[ClaimedDelivery | None] = asyncio.Queue()
        self.outcomes: list[Outcome] = []
        self.rendered: dict[int, tuple[str, RenderedMessage]] = {}
        self.limiter = RateLimiter(settings.smtp_rate)
        self.stopping = asyncio.Event()
        self.sent = 0
        self._hungry = asyncio.Event()
        self._wake = asyncio.Event()

    # --- database work, in threads -------------------------------------

    def _claim(self, limit: int) -> list[ClaimedDelivery]:
        now = utc_now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        with self.database.transaction() as session:
            claimed = outbox.claim_due_deliveries(session, now, lease, limit)
            unknown = {d.message_id for d in claimed} - set(self.rendered)
            contents = outbox.message_contents(session, sorted(unknown)) if unknown else {}
        for message_id, row in contents.items():
            rendered = render_message(row.subject, row.body, self.settings.from_email)
            self.rendered[message_id] = (row.uuid, rendered)
        return claimed

    def _record(self, outcomes: list[Outcome]) -> None:
        with self.database.transaction() as session:
            outbox.record_outcomes(session, outcomes, utc_now())

    def _release(self, ids: list[int]) -> None:
        with self.database.transaction() as session:
            outbox.release(session, ids)

    # --- the loops --------------------------------------------------------

    async def _claimer(self) -> None:
        """Keep the senders' queue between QUEUE_LOW and QUEUE_HIGH rounds deep."""
        while not self.stopping.is_set():
            room = QUEUE_HIGH * self.concurrency - self.queue.qsize()
            if self.queue.qsize() >= QUEUE_LOW * self.concurrency:
                # Enough queued: sleep until the senders have taken some.
                self._hungry.clear()
                await self._wait(self._hungry, RECORD_EVERY)
                continue
            try:
                claimed = await asyncio.to_thread(self._claim, room)
            except Exception:
                logger.exception("claiming deliveries failed; trying again")
                claimed = []
            for delivery in claimed:
                self.queue.put_nowait(delivery)
            if not claimed:
                await self._idle(self.settings.poll_interval)

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (new mail was queued)."""
        self._wake.set()

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, self.stopping)]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)

    async def _sender(self) -> None:
        while True:
            delivery = await self.queue.get()
            if delivery is None:  # the stop signal, one per sender
                return
            if self.queue.qsize() < QUEUE_LOW * self.concurrency:
                self._hungry.set()
            await self.limiter.wait()
            outcome = await self._deliver(delivery)
            # Appended only now: the recorder swaps the list while mail is on the wire.
            self.outcomes.append(outcome)

    async def _deliver(self, delivery: ClaimedDelivery) -> Outcome:
        message_uuid, rendered = self.rendered[delivery.message_id]
        try:
            data = rendered.for_recipient(delivery.email, delivery.id, message_uuid)
            reply = await self.transport.send(
                rendered.sender, delivery.email, data, f"{message_uuid}-{delivery.id}"
            )
        except ValueError as exc:
            return Outcome(delivery.id, outbox.FAILED, str(exc))
        except DeliveryError as error:
            attempt = delivery.attempts + 1
            if error.permanent or attempt >= self.settings.max_attempts:
                return Outcome(delivery.id, outbox.FAILED, error.reason)
            delay = backoff(attempt, self.settings.retry_base, self.settings.retry_max)
            return Outcome(
                delivery.id, outbox.PENDING, error.reason, utc_now() + timedelta(seconds=delay)
            )
        self.sent += 1
        return Outcome(delivery.id, outbox.SENT, reply)

    async def _recorder(self) -> None:
        while True:
            stopping = self.stopping.is_set()
            if self.outcomes:
                batch, self.outcomes = self.outcomes[:RECORD_BATCH], self.outcomes[RECORD_BATCH:]
                try:
                    await asyncio.to_thread(self._record, batch)
                except Exception:
                    logger.exception("recording %d outcomes failed; retrying", len(batch))
                    self.outcomes = batch + self.outcomes
                    await asyncio.sleep(1)
                continue
            if stopping:
                return
            await asyncio.sleep(RECORD_EVERY)

    async def run(self) -> None:
        """Deliver until `stopping` is set, then finish the mails on the wire,
        record every outcome and give back what was claimed but not tried."""
        senders = [asyncio.create_task(self._sender()) for _ in range(self.concurrency)]
        recorder = asyncio.create_task(self._recorder())
        try:
            await self._claimer()
        finally:
            self.stopping.set()
            untried = []
            while not self.queue.empty():
                waiting = self.queue.get_nowait()
                if waiting is not None:
                    untried.append(waiting.id)
            for _ in senders:
                self.queue.put_nowait(None)
            await asyncio.gather(*senders, return_exceptions=True)
            await recorder
            if self.outcomes:  # the last senders finished after the recorder's last look
                await asyncio.to_thread(self._record, self.outcomes)
                self.outcomes = []
            if untried:
                await asyncio.to_thread(self._release, untried)
            await self.transport.close()
