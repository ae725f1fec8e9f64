"""The delivery worker: drains the outbox through a transport.

`concurrency` senders take leased deliveries from a queue, each mail over
its own pooled connection. A keeper loop, every 10 ms while mail flows,
records the outcomes the senders produced and tops up their queue, both in
one transaction. Database work runs in a thread, mail on the event loop.

What a crash can repeat: only mails that the server accepted but whose
`sent` row was not yet committed. Those rows are still leased, so at any
moment the number of possible repeats is at most the number of leased rows
(the queue, the mails on the wire and the unrecorded outcomes); only the
last two can repeat, about 10 ms of sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import timedelta

import orjson

from herald.clock import utc_now
from herald.config import Settings
from herald.db import Database
from herald.delivery import outbox
from herald.delivery.mail import Person, PersonalisedMessage, RenderedMessage, message_for
from herald.delivery.outbox import ClaimedDelivery, Outcome
from herald.delivery.transport import DeliveryError, Transport

logger = logging.getLogger("herald.delivery")

RECORD_EVERY = 0.01  # seconds
# Claimed deliveries are kept queued between two and four rounds of
# `concurrency`: claims come in batches of at least two rounds (fewer, larger
# transactions) and the senders never wait for one.
QUEUE_LOW, QUEUE_HIGH = 2, 4


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds before try number `attempt + 1`: doubling, capped, with ±25% jitter
    so that mails refused together are not all retried in the same instant."""
    delay = min(ceiling, base * 2 ** max(0, attempt - 1))
    return delay * random.uniform(0.75, 1.25)


def _person(delivery: ClaimedDelivery) -> Person:
    return Person(
        delivery.full_name or "",
        tuple(orjson.loads(delivery.customers or "[]")),
        tuple(orjson.loads(delivery.offerings or "[]")),
    )


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
        self.rendered: dict[int, tuple[str, RenderedMessage | PersonalisedMessage]] = {}
        self.limiter = RateLimiter(settings.smtp_rate)
        self.stopping = asyncio.Event()
        self._on_the_wire = 0
        self._hungry = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (new mail was queued)."""
        self._wake.set()

    # --- database work: one transaction a round, in a thread -------------

    def _record_and_claim(self, outcomes: list[Outcome], wanted: int) -> list[ClaimedDelivery]:
        """Record the outcomes so far and claim up to `wanted` more, together:
        half the transactions (and thread hand-offs) of doing each on its own."""
        now = utc_now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        with self.database.transaction() as session:
            if outcomes:
                outbox.record_outcomes(session, outcomes, now)
            claimed = outbox.claim_due_deliveries(session, now, lease, wanted) if wanted else []
            unknown = {d.message_id for d in claimed} - set(self.rendered)
            contents = outbox.message_contents(session, sorted(unknown)) if unknown else {}
        for message_id, row in contents.items():
            rendered = message_for(row.subject, row.body, self.settings.from_email, row.send_at)
            self.rendered[message_id] = (row.uuid, rendered)
        return claimed

    def _release(self, ids: list[int]) -> None:
        with self.database.transaction() as session:
            outbox.release(session, ids)

    # --- the loops --------------------------------------------------------

    def _wanted(self) -> int:
        """How many to claim: none while QUEUE_LOW rounds are queued, else up to QUEUE_HIGH."""
        queued = self.queue.qsize()
        if self.stopping.is_set() or queued >= QUEUE_LOW * self.concurrency:
            return 0
        return QUEUE_HIGH * self.concurrency - queued

    async def _keeper(self) -> None:
        """Each round: record what the senders finished and top up their queue."""
        while True:
            outcomes, self.outcomes = self.outcomes, []
            wanted = self._wanted()
            claimed: list[ClaimedDelivery] = []
            if outcomes or wanted:
                try:
                    claimed = await asyncio.to_thread(self._record_and_claim, outcomes, wanted)
                except Exception:
                    logger.exception("outbox round failed (%d outcomes); retrying", len(outcomes))
                    self.outcomes = outcomes + self.outcomes
                    await self._pause(1.0)
                    continue
            for delivery in claimed:
                self.queue.put_nowait(delivery)
            if self.stopping.is_set():
                return
            if wanted and not claimed and not self._on_the_wire and not self.outcomes:
                await self._pause(self.settings.poll_interval)  # nothing due: poll
            elif not claimed:
                self._hungry.clear()
                await self._wait(self._hungry, RECORD_EVERY)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for new mail or a stop."""
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
            self._on_the_wire += 1
            outcome = await self._deliver(delivery)
            self._on_the_wire -= 1
            # Appended only now: the keeper swaps the list while mail is on the wire.
            self.outcomes.append(outcome)

    async def _deliver(self, delivery: ClaimedDelivery) -> Outcome:
        message_uuid, rendered = self.rendered[delivery.message_id]
        try:
            person = _person(delivery) if isinstance(rendered, PersonalisedMessage) else None
            data = rendered.for_recipient(delivery.email, delivery.id, message_uuid, person)
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
            retry_at = utc_now() + timedelta(seconds=delay)
            return Outcome(delivery.id, outbox.PENDING, error.reason, retry_at)
        return Outcome(delivery.id, outbox.SENT, reply)

    async def run(self) -> None:
        """Deliver until `stopping` is set, then finish the mails on the wire,
        record every outcome and give back what was claimed but not tried."""
        senders = [asyncio.create_task(self._sender()) for _ in range(self.concurrency)]
        try:
            await self._keeper()
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
            if self.outcomes:
                await asyncio.to_thread(self._record_and_claim, self.outcomes, 0)
                self.outcomes = []
            if untried:
                await asyncio.to_thread(self._release, untried)
            await self.transport.close()
