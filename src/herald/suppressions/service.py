"""The suppression list's rules (SPEC 4.2).

A suppressed address still counts in an audience (so a message's record is
whole) but is never mailed: it is queued as `suppressed`, a worker that
claims one of its deliveries queued before the suppression drops it, and a
test-send to it is refused. Bounces add to the list (`bounces/service.py`);
staff add and remove by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from herald.audit.service import Actor
from herald.audit.service import record as audit
from herald.core.addresses import email_key
from herald.core.errors import Invalid, NotFound
from herald.core.models import SuppressionReason
from herald.core.text import read_address, read_optional_text, refuse_unknown
from herald.suppressions import repository
from herald.suppressions.repository import Member, SuppressionRecord


@dataclass(frozen=True)
class ManualSuppression:
    email: str
    note: str


def parse_manual(data: dict[str, Any]) -> ManualSuppression:
    """`{"email", "note"?}` as staff write it; 400 naming each field that is wrong."""
    errors: dict[str, Any] = {}
    email = read_address(data, "email", errors)
    note = read_optional_text(data, "note", errors)
    refuse_unknown(data, {"email", "note"}, errors)
    if errors:
        raise Invalid(errors)
    return ManualSuppression(email, note)


def add_by_hand(
    session: Session,
    wanted: ManualSuppression,
    by: Actor,
    now: datetime,
) -> tuple[SuppressionRecord, bool]:
    """Suppress an address by hand; returns it and whether it is new (an address
    already suppressed keeps its reason, note and who added it). `by` is who adds
    it, a person or the operator at the command line; the audit entry is written
    here, so the API and the command line record the same detail."""
    key = email_key(wanted.email)
    added = repository.add(
        session,
        key,
        wanted.email,
        SuppressionReason.MANUAL,
        now,
        note=wanted.note,
        created_by=by.user_uuid,
        created_by_name=by.full_name or by.email,
    )
    record = repository.get(session, key)
    assert record is not None  # just added, or already there
    if added:
        audit(session, by, "suppression.add", "suppression", record.key,
              {"email": record.email, "note": record.note})  # fmt: skip
    return record, added


def remove(session: Session, email: str, by: Actor) -> SuppressionRecord:
    """Mail this address again; 404 when it is not suppressed. Audited here."""
    key = email_key(email)
    record = repository.get(session, key)
    if record is None or not repository.remove(session, key):
        raise NotFound(f"{email} is not suppressed.")
    audit(session, by, "suppression.remove", "suppression", record.key,
          {"email": record.email, "reason": record.reason.value})  # fmt: skip
    return record


def refuse_suppressed(session: Session, addresses: Sequence[str], field: str) -> None:
    """A test-send names only addresses Herald may mail; 400 naming the others."""
    suppressed = repository.suppressed_among(session, {email_key(a) for a in addresses})
    problems = [
        f"{address} is suppressed (it bounced or was added by hand); remove the "
        "suppression to mail it again."
        for address in addresses
        if email_key(address) in suppressed
    ]
    if problems:
        raise Invalid({field: problems})


def people_of(session: Session, records: Sequence[SuppressionRecord]) -> dict[str, list[Member]]:
    """Who in the directory holds each suppressed address, with their organisations."""
    return repository.users_of(session, [r.key for r in records])
