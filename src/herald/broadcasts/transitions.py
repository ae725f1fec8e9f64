"""Which state change each caller may make: one table, read by every caller.

A caller names its change; the repository turns the change's rule into the
WHERE clause of the one UPDATE that makes it (compare-and-set), so the rule
is checked in the same statement that acts on it. Nothing reads a message,
decides, and then writes on what it read: the scheduler used to read its due
list and send each message later with the API's rule (DRAFT or SCHEDULED, any
day), and so sent a message staff had just un-scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from herald.core.models import MessageState

DRAFT, SCHEDULED, SENT = MessageState.DRAFT, MessageState.SCHEDULED, MessageState.SENT


class Change(StrEnum):
    EDIT = "edit"  # PUT and PATCH
    SCHEDULE = "schedule"  # POST .../schedule/
    SEND = "send"  # POST .../send/: a person sends now
    SEND_DUE = "send-due"  # the scheduler sends what is due
    REQUEST_REVIEW = "request-review"  # a scoped sender asks to send or schedule (SPEC 9)
    APPROVE_SEND = "approve-send"  # staff approve a waiting send: it is sent
    APPROVE_SCHEDULE = "approve-schedule"  # staff approve a waiting schedule
    REJECT = "reject"  # staff reject a waiting request


class ReviewGate(StrEnum):
    """What a change needs of the message's staff review (SPEC 9)."""

    ANY = "any"
    NOT_WAITING = "not-waiting"  # nothing sends or schedules a waiting message
    WAITING = "waiting"  # only a waiting request is approved or rejected


@dataclass(frozen=True)
class Rule:
    """From which states a change may start; whether the message must be due
    (`send_at` on or before the caller's today), or have a day still to come
    (`send_at` today or later)."""

    from_states: tuple[MessageState, ...]
    due_only: bool = False
    day_to_come: bool = False
    review: ReviewGate = ReviewGate.ANY


RULES: dict[Change, Rule] = {
    # An edit of a message waiting for review withdraws the request (same UPDATE).
    Change.EDIT: Rule((DRAFT, SCHEDULED)),
    # The day is checked where the state flips: an edit that clears it meanwhile
    # cannot leave a message SCHEDULED without a day.
    Change.SCHEDULE: Rule((DRAFT, SCHEDULED), day_to_come=True, review=ReviewGate.NOT_WAITING),
    Change.SEND: Rule((DRAFT, SCHEDULED), review=ReviewGate.NOT_WAITING),
    # Only what is still scheduled and due when the send happens: a message
    # un-scheduled or moved to a later day after the scheduler listed it stays.
    Change.SEND_DUE: Rule((SCHEDULED,), due_only=True, review=ReviewGate.NOT_WAITING),
    Change.REQUEST_REVIEW: Rule((DRAFT, SCHEDULED)),
    # Approving carries out the request: only a request still waiting (an edit
    # that withdrew it, or another approval, wins or loses in one statement).
    Change.APPROVE_SEND: Rule((DRAFT, SCHEDULED), review=ReviewGate.WAITING),
    Change.APPROVE_SCHEDULE: Rule((DRAFT, SCHEDULED), day_to_come=True, review=ReviewGate.WAITING),
    Change.REJECT: Rule((DRAFT, SCHEDULED), review=ReviewGate.WAITING),
}

EDITABLE = RULES[Change.EDIT].from_states
