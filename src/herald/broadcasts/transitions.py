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


@dataclass(frozen=True)
class Rule:
    """From which states a change may start; whether the message must be due
    (`send_at` on or before the caller's today), or have a day still to come
    (`send_at` today or later)."""

    from_states: tuple[MessageState, ...]
    due_only: bool = False
    day_to_come: bool = False


RULES: dict[Change, Rule] = {
    Change.EDIT: Rule((DRAFT, SCHEDULED)),
    # The day is checked where the state flips: an edit that clears it meanwhile
    # cannot leave a message SCHEDULED without a day.
    Change.SCHEDULE: Rule((DRAFT, SCHEDULED), day_to_come=True),
    Change.SEND: Rule((DRAFT, SCHEDULED)),
    # Only what is still scheduled and due when the send happens: a message
    # un-scheduled or moved to a later day after the scheduler listed it stays.
    Change.SEND_DUE: Rule((SCHEDULED,), due_only=True),
}

EDITABLE = RULES[Change.EDIT].from_states
