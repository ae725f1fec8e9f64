"""The delivery worker: drains the outbox through a transport.

`concurrency` senders take leased deliveries from a queue, each mail over
its own pooled connection. A keeper loop, every 10 ms while mail flows,
records the outcomes the senders produced, renews the leases still held
and tops up the senders' queue, all in one transaction. Database work and
the rendering of personalised copies run in a thread, mail on the event
loop: a slow template can delay the next claim but never the mail on the
wire (and the template grammar bounds it to milliseconds anyway).

Every attempt ends in an outcome (the envelope in `_attempt`): whatever a
transport or a template raises becomes a recorded failure with the reason
and a log line, and the rest of the queue keeps moving. A message whose
content cannot be rendered fails its own deliveries and nothing else. A
task of the worker that dies unexpectedly stops the whole process with an
error (`run` watches them), so that its supervisor restarts it rather than
leaving a worker that looks alive and sends nothing.

What a crash can repeat: only mails that the server accepted but whose
`sent` row was not yet committed: the mails on the wire and the outcomes
not yet recorded (at most one keeper round, 10 ms of sending). Leases
are renewed while held, so a slow relay never lets another worker take a
mail this one is still sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import random
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.delivery import outbox
from herald.delivery.mail import PersonalisedMessage, RenderedMessage, message_for
from herald.delivery.outbox import FAILED, PENDING, SENT, ClaimedDelivery, MessageContent, Outcome
from herald.delivery.transport import DeliveryError, Transport
from herald.delivery.verp import envelope_sender
from herald.operations.metrics import MAIL_ATTEMPTS, SMTP_REPLIES, reply_class
from herald.personalisation import TemplateProblem

logger = logging.getLogger("herald.delivery")

RECORD_EVERY = 0.01  # seconds
# How often a worker asks whether staff paused or cancelled the messages waiting in
# its queue. Pause and cancel answer only once no worker holds their mail, so this
# delays the answer, never lets a mail start after it; asking every round (10 ms)
# cost SQLite a tenth of its delivery rate.
HALT_CHECK_EVERY = 0.1  # seconds
# Claimed deliveries are kept queued between two and four rounds of
# `concurrency`: claims come in batches of at least two rounds (fewer, larger
# transactions) and the senders never wait for one.
QUEUE_LOW, QUEUE_HIGH = 2, 4
# Rendered messages kept for the next claims. Bounded, so a worker's memory
# does not grow with the number of messages it has ever sent.
CACHED_MESSAGES = 32


class MessageSource(Protocol):
    """What the worker may know of messages, given to it by whoever composes the
    delivery process, so that the outbox layer never reaches into the messages'
    own table (broadcasts/repository.py Messages)."""

    def contents(self, session: Session, uuids: Collection[str]) -> dict[str, MessageContent]:
        """Subject, body and day of these messages, by UUID."""

    def halted(self, session: Session, uuids: Collection[str]) -> set[str]:
        """Which of these messages staff paused or cancelled."""

    def halted_ids(self) -> Select[Any]:
        """SQL: the ids of the messages staff paused or cancelled."""


Mail = RenderedMessage | PersonalisedMessage


@dataclass(frozen=True)
class Unrenderable:
    """A message (or one recipient's copy) that cannot be made into mail: its
    deliveries fail with this, or are tried again later when `temporary`."""

    reason: str
    temporary: bool = False


@dataclass(frozen=True)
class Ready:
    """One recipient's copy of a personalised message, rendered before it is queued."""

    sender: str
    data: bytes


def prepare(
    delivery: ClaimedDelivery, mail: Mail | Unrenderable
) -> RenderedMessage | Ready | Unrenderable:
    """Render a personalised copy now, in the worker's database thread: rendering
    never runs on the event loop, where it would hold up every mail on the wire.
    A copy that cannot be rendered fails its own delivery, nothing else."""
    if not isinstance(mail, PersonalisedMessage):
        return mail
    try:
        data = mail.for_recipient(
            delivery.email, delivery.id, delivery.message_uuid, delivery.person
        )
    except TemplateProblem as problem:
        return Unrenderable(f"the message cannot be rendered: {problem}")
    except ValueError as exc:  # an address that could smuggle a header
        return Unrenderable(str(exc))
    except Exception as exc:
        logger.exception("building mail for delivery %s failed", delivery.id)
        return Unrenderable(f"building the mail failed: {_describe(exc)}", temporary=True)
    return Ready(mail.sender, data)


class WorkerCrashed(RuntimeError):
    """A task of the worker died; the process must stop so that it is restarted."""


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds before try number `attempt + 1`: doubling, capped, with ±25% jitter
    so that mails refused together are not all retried in the same instant."""
    delay = min(ceiling, base * 2.0 ** max(0, attempt - 1))
    return float(delay * random.uniform(0.75, 1.25))


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


class _Pacing:
    """A mail a sender holds while it waits for the rate limit; `given_back` once a
    pause, cancel or stop took it back, and then it is not sent."""

    __slots__ = ("item", "given_back")

    def __init__(self, item: tuple[ClaimedDelivery, RenderedMessage | Ready]) -> None:
        self.item = item
        self.given_back = False


MailKey = tuple[str, str | None]  # a message's UUID and a variant's tag (None: the default)


class MailCache:
    """Rendered mail by message UUID and variant, least recently used dropped first.

    Keyed by UUID, never by a database id: SQLite used to hand a deleted
    message's id to the next one, and a cache keyed by it sent the old
    message's content to the new message's recipients."""

    def __init__(self, size: int = CACHED_MESSAGES) -> None:
        self.size = size
        self._items: OrderedDict[MailKey, Mail | Unrenderable] = OrderedDict()

    def get(self, key: MailKey) -> Mail | Unrenderable | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: MailKey, item: Mail | Unrenderable) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def keys(self) -> list[MailKey]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


def mail_key(delivery: ClaimedDelivery) -> MailKey:
    """What a delivery's mail is made from: its message and its variant (SPEC 2.3)."""
    return delivery.message_uuid, delivery.language


def compile_mail(
    content: MessageContent | None, sender: str, language: str | None = None
) -> Mail | Unrenderable:
    """One variant of a message made into mail once for all its readers, or why it
    cannot be. The variant is taken whole from one read of the message."""
    if content is None:
        return Unrenderable("the message no longer exists")
    variant = content.variant(language)
    if variant is None:
        # Unreachable while a sent message cannot be edited; said, never mixed.
        return Unrenderable(f"the message has no {language} translation")
    try:
        return message_for(variant[0], variant[1], sender, content.send_at, language)
    except Exception as exc:  # a template that no longer compiles, and anything else
        return Unrenderable(f"the message cannot be rendered: {exc}")


class DeliveryWorker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        transport: Transport,
        messages: MessageSource,
    ) -> None:
        self.settings = settings
        self.database = database
        self.transport = transport
        self.messages = messages
        self.concurrency = max(1, settings.smtp_concurrency)
        # Who holds the leases this run takes: only this run may record their outcomes.
        self.owner = uuid.uuid4().hex
        # Claimed deliveries with their mail, waiting for a sender; None tells a sender to stop.
        self.queue: asyncio.Queue[tuple[ClaimedDelivery, RenderedMessage | Ready] | None] = (
            asyncio.Queue()
        )
        self.outcomes: list[Outcome] = []
        self.mail = MailCache()
        self.limiter = RateLimiter(settings.smtp_rate)
        self.stopping = asyncio.Event()
        # Ids of the deliveries this run holds a lease on and has not recorded yet.
        self.held: set[int] = set()
        self.stale_outcomes = 0  # outcomes refused because the lease was lost
        # The longest one attempt may take: connect, greet, MAIL, RCPT, DATA, each
        # within the SMTP time-out; a transport that hangs past it is a failure.
        self.attempt_deadline = 5 * settings.smtp_timeout
        self._renew_every = max(0.05, settings.lease_seconds / 3)
        self._renewed_at = time.monotonic()
        self._on_the_wire = 0
        self._hungry = asyncio.Event()
        self._wake = asyncio.Event()
        # How many deliveries of each message wait for a sender, in the queue or for
        # the rate limit's turn.
        self._waiting: Counter[str] = Counter()
        # Taken by a sender, waiting for the rate limit's turn (not on the wire yet).
        self._pacing: set[_Pacing] = set()
        self._halts_checked_at = 0.0
        # With HERALD_BOUNCE_ADDRESS each mail's envelope sender names its delivery
        # (VERP, SPEC 4.2), so a bounce maps back to it; the From header is unchanged.
        bounce_address, key = settings.bounce_address, settings.secret
        self._envelope: Callable[[int], str] | None = (
            (lambda delivery_id: envelope_sender(bounce_address, key, delivery_id))
            if bounce_address and key
            else None
        )

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (new mail was queued)."""
        self._wake.set()

    def wake_threadsafe(self) -> None:
        """`wake`, from another thread (a preparation queued a batch)."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
            self._loop.call_soon_threadsafe(self._wake.set)

    # --- database work: one transaction a round, in a thread -------------

    def _record_and_claim(
        self, outcomes: list[Outcome], wanted: int, renew: bool, queued: set[str]
    ) -> tuple[list[tuple[ClaimedDelivery, RenderedMessage | Ready | Unrenderable]], set[str]]:
        """Record the outcomes so far, renew the leases still held and claim up
        to `wanted` more, together: fewer transactions and thread hand-offs.
        Personalised copies of what was claimed are rendered here too. Also
        returns which of the `queued` messages staff paused or cancelled."""
        now = utc_now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        with self.database.transaction() as session:
            applied = outbox.record_outcomes(session, outcomes, now, self.owner) if outcomes else 0
            if renew:
                outbox.renew_leases(session, self.held - {o.delivery_id for o in outcomes},
                                    self.owner, lease)  # fmt: skip
            halted = self.messages.halted(session, queued) if queued else set()
            claimed = (
                outbox.claim_due_deliveries(
                    session, now, lease, wanted, self.owner, self.messages.halted_ids()
                )
                if wanted
                else []
            )
            # Mail is made once per message and variant (SPEC 2.3).
            unknown = {mail_key(d) for d in claimed} - set(self.mail.keys())
            wanted_messages = {message_uuid for message_uuid, _ in unknown}
            contents = self.messages.contents(session, wanted_messages) if unknown else {}
        self._note_recorded(outcomes, applied)
        # Compiled after the commit: a message that cannot be compiled affects
        # its own deliveries only, never the transaction that claimed others.
        # Nothing below may raise: these rows are claimed now.
        made = {
            key: compile_mail(contents.get(key[0]), self.settings.from_email, key[1])
            for key in unknown
        }
        result = []
        for delivery in claimed:
            self.held.add(delivery.id)
            # One claim may name more messages than the cache keeps: this
            # claim's own mail comes from `made`, whatever the cache dropped.
            key = mail_key(delivery)
            mail = made.get(key) or self.mail.get(key)
            if mail is None:
                mail = compile_mail(None, self.settings.from_email)
            result.append((delivery, prepare(delivery, mail)))
        for key, mail in made.items():
            self.mail.put(key, mail)
        if made:
            release_freed_memory()
        return result, halted

    def _note_recorded(self, outcomes: list[Outcome], applied: int) -> None:
        for outcome in outcomes:
            self.held.discard(outcome.delivery_id)
        stale = len(outcomes) - applied
        if stale:
            self.stale_outcomes += stale
            MAIL_ATTEMPTS.labels("stale").inc(stale)
            logger.warning(
                "%d outcome(s) not recorded: their lease had expired and another worker "
                "took the deliveries, or they were already final (ids %s)",
                stale,
                ", ".join(str(o.delivery_id) for o in outcomes[:10]),
            )

    def _release(self, ids: list[int]) -> None:
        with self.database.transaction() as session:
            outbox.release(session, ids, self.owner)
        self.held.difference_update(ids)

    def _enqueue(self, delivery: ClaimedDelivery, mail: RenderedMessage | Ready) -> None:
        self.queue.put_nowait((delivery, mail))
        self._waiting[delivery.message_uuid] += 1

    def _started(self, delivery: ClaimedDelivery) -> None:
        self._waiting[delivery.message_uuid] -= 1
        if self._waiting[delivery.message_uuid] <= 0:
            del self._waiting[delivery.message_uuid]

    async def _drop_halted(self, halted: set[str]) -> None:
        """Take the queued deliveries of paused or cancelled messages out of the
        senders' queue and give their leases back: none of them starts from now
        on. Runs on the event loop, so no sender can take one meanwhile."""
        kept: list[tuple[ClaimedDelivery, RenderedMessage | Ready] | None] = []
        dropped: list[int] = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None and item[0].message_uuid in halted:
                dropped.append(item[0].id)
            else:
                kept.append(item)
        for item in kept:
            self.queue.put_nowait(item)
        # Mails waiting for the rate limit's turn have not started either.
        for pacing in self._pacing:
            if pacing.item[0].message_uuid in halted and not pacing.given_back:
                pacing.given_back = True
                dropped.append(pacing.item[0].id)
        for message_uuid in halted:
            self._waiting.pop(message_uuid, None)
        if dropped:
            logger.info("paused or cancelled: %d queued deliveries given back", len(dropped))
            try:
                await asyncio.to_thread(self._release, dropped)
            except Exception:
                # Their leases expire on their own; the claim skips halted messages.
                logger.exception("giving back %d deliveries failed", len(dropped))

    # --- the loops --------------------------------------------------------

    def _wanted(self) -> int:
        """How many to claim: none while QUEUE_LOW rounds are queued, else up to QUEUE_HIGH."""
        queued = self.queue.qsize()
        if self.stopping.is_set() or queued >= QUEUE_LOW * self.concurrency:
            return 0
        return QUEUE_HIGH * self.concurrency - queued

    async def _keeper(self) -> None:
        """Each round: record what the senders finished, renew leases, top up their queue."""
        while True:
            outcomes, self.outcomes = self.outcomes, []
            wanted = self._wanted()
            renew = bool(self.held) and time.monotonic() - self._renewed_at >= self._renew_every
            # While anything is queued, ask now and then whether staff paused its
            # message: the senders' queue is the only place a mail waits to start.
            queued: set[str] = set()
            if self._waiting and time.monotonic() - self._halts_checked_at >= HALT_CHECK_EVERY:
                queued = set(self._waiting)
                self._halts_checked_at = time.monotonic()
            claimed: list[tuple[ClaimedDelivery, RenderedMessage | Ready | Unrenderable]] = []
            halted: set[str] = set()
            if outcomes or wanted or renew or queued:
                try:
                    claimed, halted = await asyncio.to_thread(
                        self._record_and_claim, outcomes, wanted, renew, queued
                    )
                except Exception:
                    # Rolled back: nothing was recorded or claimed. Keep the outcomes.
                    logger.exception("outbox round failed (%d outcomes); retrying", len(outcomes))
                    self.outcomes = outcomes + self.outcomes
                    await self._pause(1.0)
                    continue
                if renew:
                    self._renewed_at = time.monotonic()
            if halted:
                await self._drop_halted(halted)
            for delivery, mail in claimed:
                if isinstance(mail, Unrenderable) and mail.temporary:
                    self.outcomes.append(self._deferred(delivery, mail.reason))
                elif isinstance(mail, Unrenderable):
                    self.outcomes.append(self._failed(delivery, mail.reason))
                else:
                    self._enqueue(delivery, mail)
            if self.stopping.is_set():
                return
            busy = self._on_the_wire or self._pacing or self.outcomes
            if wanted and not claimed and not busy:
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
            item = await self.queue.get()
            if item is None:  # the stop signal, one per sender
                return
            if self.queue.qsize() < QUEUE_LOW * self.concurrency:
                self._hungry.set()
            if not await self._turn_comes(item):
                continue  # given back while it waited: its message was halted, or we stop
            self._started(item[0])
            await self._attempt(*item)

    async def _turn_comes(self, item: tuple[ClaimedDelivery, RenderedMessage | Ready]) -> bool:
        """Wait for the rate limit's turn. A mail waiting here is not on the wire: it
        still counts as queued, so a pause or cancel (`_drop_halted`) or a stop
        (`_wind_down`) takes it back like one in the queue. Whether it may go."""
        if not self.limiter.interval:
            return True
        pacing = _Pacing(item)
        self._pacing.add(pacing)
        try:
            await self.limiter.wait()
        finally:
            self._pacing.discard(pacing)
        return not pacing.given_back

    async def _attempt(self, delivery: ClaimedDelivery, mail: RenderedMessage | Ready) -> None:
        """One try at one mail, in an envelope that always leaves an outcome."""
        outcome: Outcome | None = None
        self._on_the_wire += 1
        try:
            outcome = await self._deliver(delivery, mail)
        finally:
            self._on_the_wire -= 1
            if outcome is None:  # cancelled mid-send: the mail may or may not have left
                outcome = self._deferred(delivery, "interrupted while sending")
            # Appended only now: the keeper swaps the list while mail is on the wire.
            self.outcomes.append(outcome)

    async def _deliver(self, delivery: ClaimedDelivery, mail: RenderedMessage | Ready) -> Outcome:
        if isinstance(mail, Ready):
            data = mail.data
        else:
            # The same copy for everybody: only To, Message-ID and Date are added here.
            try:
                data = mail.for_recipient(delivery.email, delivery.id, delivery.message_uuid)
            except ValueError as exc:  # an address that could smuggle a header
                return self._failed(delivery, str(exc))
            except Exception as exc:
                logger.exception("building mail for delivery %s failed", delivery.id)
                return self._deferred(delivery, f"building the mail failed: {_describe(exc)}")
        try:
            async with asyncio.timeout(self.attempt_deadline):
                sender = self._envelope(delivery.id) if self._envelope else mail.sender
                reply = await self.transport.send(
                    sender, delivery.email, data, f"{delivery.message_uuid}-{delivery.id}"
                )
        except DeliveryError as error:
            SMTP_REPLIES.labels(reply_class(error.reason, ok=False)).inc()
            if error.permanent:
                return self._failed(delivery, error.reason)
            return self._deferred(delivery, error.reason)
        except TimeoutError:
            return self._deferred(
                delivery, f"no answer within {self.attempt_deadline:g} s (the transport hung)"
            )
        except Exception as exc:  # a full disk, a bug in a transport: never a silent loss
            logger.exception("the transport raised for delivery %s", delivery.id)
            return self._deferred(delivery, f"the transport failed: {_describe(exc)}")
        SMTP_REPLIES.labels("2xx").inc()
        MAIL_ATTEMPTS.labels(SENT.value).inc()
        return Outcome(delivery.id, SENT, reply)

    def _failed(self, delivery: ClaimedDelivery, reason: str) -> Outcome:
        MAIL_ATTEMPTS.labels(FAILED.value).inc()
        logger.warning(
            "delivery failed: message %s to %s, attempt %d: %s",
            delivery.message_uuid,
            delivery.email,
            delivery.attempts + 1,
            reason,
        )
        return Outcome(delivery.id, FAILED, reason)

    def _deferred(self, delivery: ClaimedDelivery, reason: str) -> Outcome:
        """A temporary failure: try again after a back-off, or fail once attempts run out."""
        attempt = delivery.attempts + 1
        if attempt >= self.settings.max_attempts:
            return self._failed(delivery, f"{reason} (gave up after {attempt} attempts)")
        delay = backoff(attempt, self.settings.retry_base, self.settings.retry_max)
        MAIL_ATTEMPTS.labels("deferred").inc()
        logger.warning(
            "delivery deferred: message %s to %s, attempt %d of %d: %s; next try in %.0f s",
            delivery.message_uuid,
            delivery.email,
            attempt,
            self.settings.max_attempts,
            reason,
            delay,
        )
        return Outcome(delivery.id, PENDING, reason, utc_now() + timedelta(seconds=delay))

    async def run(self) -> None:
        """Deliver until `stopping` is set, then finish the mails on the wire,
        record every outcome and give back what was claimed but not tried.

        Raises WorkerCrashed when one of its tasks dies: a worker that keeps
        running without its keeper or its senders would send nothing, silently."""
        self._loop = asyncio.get_running_loop()
        keeper = asyncio.create_task(self._keeper(), name="keeper")
        senders = [
            asyncio.create_task(self._sender(), name=f"sender-{n}") for n in range(self.concurrency)
        ]
        crashed: BaseException | None = None
        try:
            done, _ = await asyncio.wait([keeper, *senders], return_when=asyncio.FIRST_COMPLETED)
            # The keeper returns once `stopping` is set; any other end is a death.
            for task in done:
                failure = task.exception()
                if failure is None and task is keeper and self.stopping.is_set():
                    continue
                crashed = failure or RuntimeError(f"{task.get_name()} returned")
                logger.critical("delivery worker task %s died: %r", task.get_name(), crashed)
                break
        finally:
            self.stopping.set()
            await self._wind_down(keeper, senders)
        if crashed is not None:
            raise WorkerCrashed(f"a delivery worker task died: {crashed!r}") from crashed

    async def _wind_down(
        self, keeper: asyncio.Task[None], senders: list[asyncio.Task[None]]
    ) -> None:
        if not keeper.done():
            await asyncio.wait([keeper], timeout=self.attempt_deadline)
        untried = []
        while not self.queue.empty():
            waiting = self.queue.get_nowait()
            if waiting is not None:
                untried.append(waiting[0].id)
        for pacing in self._pacing:  # waiting for the rate limit: not started, given back
            if not pacing.given_back:
                pacing.given_back = True
                untried.append(pacing.item[0].id)
        for _ in senders:
            self.queue.put_nowait(None)
        await asyncio.wait(senders, timeout=self.attempt_deadline + 1)
        for sender in senders:
            sender.cancel()  # one still hung past its deadline: its envelope records it
        await asyncio.gather(*senders, return_exceptions=True)
        if self.outcomes:
            outcomes, self.outcomes = self.outcomes, []
            await asyncio.to_thread(self._record_and_claim, outcomes, 0, False, set())
        if untried:
            await asyncio.to_thread(self._release, untried)
        await self.transport.close()


def _glibc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _glibc_trim()


def release_freed_memory() -> None:
    """Hand memory freed by compiling messages back to the system.

    Compiling a claim's messages allocates and frees tens of megabytes of
    medium-sized strings (bodies, their text rendering, the encoded mail);
    glibc keeps such freed memory in its heap, so without this the worker's
    resident size kept the high-water mark of its largest round (measured:
    141 MB after 1,000 messages of 100 kB, against 85 MB idle)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
