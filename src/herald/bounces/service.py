"""What a bounce does (SPEC 4.2): to its delivery, to the address, to the record.

A notification counts only when it names one of our deliveries by a VERP tag
whose signature holds: anything else (unrelated mail, auto-replies, a forged
or unknown tag) is not ours and changes nothing. One that is ours:

- a hard bounce or a complaint: the delivery becomes `bounced` and the
  address is suppressed at once;
- a soft bounce: `bounced`, and the address is suppressed once it has
  HERALD_SOFT_BOUNCE_LIMIT soft bounces within 30 days;
- only warnings (`Action: delayed`): nothing changes (the relay still tries);
- unreadable: kept as `unrecognised` for staff, nothing guessed.

A bounce for a delivery whose message was since deleted still counts: the
signed tag proves the mail was ours, and the report names the address.
Recording is idempotent per notification (its bytes' hash), so reading the
mailbox again after a crash records nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from herald.api.params import parse_uuid
from herald.bounces import repository
from herald.bounces.parsing import (
    HEADER_BYTES,
    Failure,
    Reading,
    read_notification,
    status_code_in,
)
from herald.bounces.repository import BounceRecord, NewBounce
from herald.core.addresses import email_error, email_key
from herald.core.config import Settings
from herald.core.errors import Invalid
from herald.core.models import BounceKind, BounceSource, SuppressionReason
from herald.core.text import MISSING, read_address, read_optional_text, refuse_unknown
from herald.delivery import outbox, verp
from herald.suppressions import repository as suppressions

logger = logging.getLogger("herald.bounces")

SOFT_WINDOW = timedelta(days=30)
_SEVERITY = {BounceKind.COMPLAINT: 3, BounceKind.HARD: 2, BounceKind.SOFT: 1}
_REASONS = {
    BounceKind.HARD: SuppressionReason.HARD,
    BounceKind.SOFT: SuppressionReason.SOFT,
    BounceKind.COMPLAINT: SuppressionReason.COMPLAINT,
}


@dataclass(frozen=True)
class BounceRules:
    """What the settings say about bounces."""

    bounce_address: str | None
    key: bytes
    soft_limit: int

    @classmethod
    def of(cls, settings: Settings) -> BounceRules:
        return cls(settings.bounce_address, settings.secret, settings.soft_bounce_limit)

    @property
    def tag_prefix(self) -> bytes:
        """`local+` of the bounce address, lower-cased: in every VERP address of ours."""
        local = (self.bounce_address or "").rpartition("@")[0]
        return f"{local}+".lower().encode()


class Verdict(StrEnum):
    """What became of one message from the mailbox."""

    RECORDED = "recorded"  # a bounce of ours, recorded (moved to Processed)
    WARNING = "warning"  # ours, a delay warning only: nothing changes (moved)
    UNRECOGNISED = "unrecognised"  # ours, unreadable: kept for staff (moved)
    REPEATED = "repeated"  # ours, recorded before (moved)
    NOT_OURS = "not-ours"  # left where it is

    @property
    def handled(self) -> bool:
        return self is not Verdict.NOT_OURS


@dataclass(frozen=True)
class Taken:
    verdict: Verdict
    suppressed: bool = False
    kind: BounceKind | None = None


def take_notification(session: Session, raw: bytes, rules: BounceRules, now: datetime) -> Taken:
    """Judge one message read from the bounce mailbox and record what it says."""
    if not rules.bounce_address or not rules.key:
        return Taken(Verdict.NOT_OURS)  # without VERP no bounce can be tied to a delivery
    if rules.tag_prefix not in raw.lower():
        # A bounce of ours names its VERP address somewhere (its To, the returned
        # original's Return-Path); mail that never does is not read any further.
        return Taken(Verdict.NOT_OURS)
    notification = read_notification(raw)
    if notification.reading is Reading.AUTO_REPLY:
        return Taken(Verdict.NOT_OURS)
    delivery_id = next(
        (
            found
            for address in notification.addressed_to
            if (found := verp.delivery_of(rules.key, address, rules.bounce_address)) is not None
        ),
        None,
    )
    if delivery_id is None:
        return Taken(Verdict.NOT_OURS)
    delivery = outbox.delivery_by_id(session, delivery_id)
    fingerprint = hashlib.sha256(raw).hexdigest()
    kept = raw[:HEADER_BYTES]
    if notification.reading is Reading.UNREADABLE or not notification.failures:
        new = _bounce(
            delivery, None, BounceKind.UNRECOGNISED, "", "", now,
            BounceSource.MAILBOX, fingerprint, kept, message_id=notification.original_message_id,
        )  # fmt: skip
        if repository.insert(session, new) is None:
            return Taken(Verdict.REPEATED)
        logger.warning("an unreadable bounce for delivery %s was kept for staff", delivery_id)
        return Taken(Verdict.UNRECOGNISED, kind=BounceKind.UNRECOGNISED)
    failure = _worst(notification.bounces)
    if failure is None:
        return Taken(Verdict.WARNING)  # the relay is still trying
    assert failure.kind is not None
    new = _bounce(
        delivery, failure.recipient, failure.kind, failure.status, failure.diagnostic, now,
        BounceSource.MAILBOX, fingerprint, kept, message_id=notification.original_message_id,
    )  # fmt: skip
    bounce_id = repository.insert(session, new)
    if bounce_id is None:
        return Taken(Verdict.REPEATED)
    suppressed = _apply(session, new, bounce_id, rules, now)
    return Taken(Verdict.RECORDED, suppressed, failure.kind)


def _worst(failures: tuple[Failure, ...]) -> Failure | None:
    """The failure that decides: a complaint over a hard bounce over a soft one."""
    return max(
        (f for f in failures if f.kind is not None),
        key=lambda f: _SEVERITY[f.kind] if f.kind is not None else 0,
        default=None,
    )


def _message_of(message_id: str | None) -> str | None:
    """Our Message-ID is `<delivery id>.<message uuid>@domain`: the message's UUID."""
    if not message_id:
        return None
    local = message_id.strip("<> ").partition("@")[0]
    return parse_uuid(local.rpartition(".")[2])


def _bounce(
    delivery: outbox.BouncedDelivery | None,
    recipient: str | None,
    kind: BounceKind,
    code: str,
    diagnostic: str,
    now: datetime,
    source: BounceSource,
    notification: str,
    raw: bytes,
    *,
    message_id: str | None = None,
    message_uuid: str | None = None,
) -> NewBounce:
    # The address we mailed wins over what the report calls it (a forward may
    # report the address it forwarded to); without the delivery, the report's.
    email = delivery.email if delivery is not None else (recipient or "")
    return NewBounce(
        uuid=uuid_module.uuid4().hex,
        delivery_id=delivery.id if delivery is not None else None,
        message_uuid=(
            delivery.message_uuid
            if delivery is not None
            else message_uuid or _message_of(message_id)
        ),
        email=email[:320],
        key=email_key(email)[:320],
        kind=kind,
        code=code[:16],
        diagnostic=diagnostic[:2000],
        received=now,
        source=source,
        notification=notification,
        raw=raw,
    )


def _apply(
    session: Session, bounce: NewBounce, bounce_id: int, rules: BounceRules, now: datetime
) -> bool:
    """The delivery becomes `bounced`; the address is suppressed when the rules say so.
    Returns whether this bounce suppressed the address."""
    if bounce.delivery_id is not None:
        reason = " ".join(part for part in (bounce.code, bounce.diagnostic) if part)
        outbox.mark_bounced(session, bounce.delivery_id, reason or bounce.kind.value)
    if not bounce.key or email_error(bounce.email) is not None:
        return False
    if bounce.kind is BounceKind.SOFT and (
        repository.soft_bounces_since(session, bounce.key, now - SOFT_WINDOW) < rules.soft_limit
    ):
        return False
    added = suppressions.add(
        session, bounce.key, bounce.email, _REASONS[bounce.kind], now, bounce_id=bounce_id
    )
    if added:
        logger.info("suppressed %s after a %s bounce", bounce.email, bounce.kind.value)
    return added


# --- the webhook ---------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A bounce reported to POST /api/bounces/."""

    email: str
    kind: BounceKind
    reason: str
    message_uuid: str | None


_WEBHOOK_KINDS = (BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT)
_FIELDS = {"email", "kind", "reason", "message_uuid"}


def parse_report(data: dict[str, Any]) -> Report:
    """`{"email", "kind", "reason"?, "message_uuid"?}`; 400 naming every field that is wrong."""
    errors: dict[str, Any] = {}
    email = read_address(data, "email", errors)
    kind = data.get("kind", MISSING)
    choices = ", ".join(k.value for k in _WEBHOOK_KINDS)
    if kind is MISSING:
        errors["kind"] = ["This field is required."]
    elif kind not in [k.value for k in _WEBHOOK_KINDS]:
        errors["kind"] = [f'"{kind}" is not a valid choice: {choices}.']
    reason = read_optional_text(data, "reason", errors)
    message_uuid = None
    if data.get("message_uuid") is not None:
        message_uuid = parse_uuid(data["message_uuid"])
        if message_uuid is None:
            errors["message_uuid"] = ["Must be a valid UUID."]
    refuse_unknown(data, _FIELDS, errors)
    if errors:
        raise Invalid(errors)
    return Report(email, BounceKind(kind), reason, message_uuid)


def take_report(
    session: Session, report: Report, rules: BounceRules, now: datetime, raw: bytes
) -> tuple[BounceRecord, bool]:
    """Record a reported bounce; with `message_uuid`, that message's delivery to the
    address becomes `bounced`. Returns the bounce and whether it suppressed the address."""
    delivery = (
        outbox.delivery_to(session, report.message_uuid, report.email)
        if report.message_uuid
        else None
    )
    new = _bounce(
        delivery, report.email, report.kind, status_code_in(report.reason), report.reason, now,
        BounceSource.WEBHOOK, uuid_module.uuid4().hex, raw[:HEADER_BYTES],
        message_uuid=report.message_uuid,
    )  # fmt: skip
    bounce_id = repository.insert(session, new)
    assert bounce_id is not None  # a fresh identity each report
    suppressed = _apply(session, new, bounce_id, rules, now)
    record = repository.by_id(session, bounce_id)
    assert record is not None
    return record, suppressed
