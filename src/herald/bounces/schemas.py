"""How bounces and suppressions look on the wire (SPEC 4.2)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from herald.bounces.repository import BounceRecord
from herald.core.clock import wire_time
from herald.core.models import SuppressionReason
from herald.suppressions.repository import Member, SuppressionRecord


def bounce_json(request: Request, bounce: BounceRecord) -> dict[str, Any]:
    return {
        "uuid": bounce.uuid,
        "url": str(request.url_for("retrieve_bounce", uuid=bounce.uuid)),
        "email": bounce.email,
        "kind": bounce.kind.value,
        "code": bounce.code,
        "diagnostic": bounce.diagnostic,
        "received": wire_time(bounce.received),
        "source": bounce.source.value,
        "message_uuid": bounce.message_uuid,
    }


def delivery_bounce_json(bounce: BounceRecord) -> dict[str, Any]:
    """The `bounce` of a bounced delivery in a message's deliveries list."""
    return {
        "uuid": bounce.uuid,
        "kind": bounce.kind.value,
        "code": bounce.code,
        "diagnostic": bounce.diagnostic,
        "received": wire_time(bounce.received),
    }


def member_json(member: Member) -> dict[str, Any]:
    return {
        "uuid": member.uuid,
        "username": member.username,
        "full_name": member.full_name,
        "is_active": member.is_active,
        "customers": [{"uuid": uuid, "name": name} for uuid, name in member.customers],
    }


def suppression_json(
    request: Request,
    record: SuppressionRecord,
    bounce: BounceRecord | None,
    members: list[Member],
) -> dict[str, Any]:
    return {
        "email": record.email,
        "reason": record.reason.value,
        "note": record.note,
        "created": wire_time(record.created),
        "created_by": record.created_by,
        # Who added it by hand, as they were named then (null when Herald added it).
        "added_by": (
            {"uuid": record.created_by, "full_name": record.created_by_name}
            if record.reason == SuppressionReason.MANUAL
            else None
        ),
        "bounce": bounce_json(request, bounce) if bounce is not None else None,
        # Who in the directory holds the address, and their organisations: whom
        # to ask for a new address.
        "users": [member_json(m) for m in members],
    }
