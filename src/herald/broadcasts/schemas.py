"""What a broadcast message looks like on the wire, in and out.

Input is checked here by hand rather than by a Pydantic model because the
contract is Waldur's: DRF's error messages and shapes, `query` given as
null or the string "null", and every problem reported at once. The Pydantic
models at the bottom only describe the wire format in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from herald.api.openapi import TAG, TAG_NAMES, TRANSLATIONS_DOC, Email, Uuid, VariantIn, VariantOut
from herald.api.params import parse_uuid
from herald.bounces.repository import BounceRecord
from herald.bounces.schemas import delivery_bounce_json
from herald.broadcasts.repository import MessageRecord
from herald.broadcasts.sending import progress
from herald.core.clock import wire_time
from herald.core.errors import Invalid
from herald.core.models import (
    DeliveryProgress,
    DeliveryStatus,
    MessageState,
    ReviewStatus,
    ScopeType,
)
from herald.core.text import (
    BODY_MAX,
    MAX_TRANSLATIONS,
    MISSING,
    SUBJECT_RULE,
    Translations,
    check_message_text,
    read_text,
    read_translations,
)
from herald.recipients.schemas import NamedRef
from herald.recipients.targeting import Targeting, targeting_from_json

STATES = tuple(MessageState)
MESSAGE_FIELDS = (
    "uuid",
    "created",
    "subject",
    "body",
    "query",
    "author_full_name",
    "emails",
    "state",
    "send_at",
    "delivery",
    "scope",
    "review",
    "translations",
)
REVIEWS = tuple(status.value for status in ReviewStatus)
DELIVERY_FIELDS = ("email", "status", "attempts", "last_error", "sent_at", "language", "bounce")
ORDERINGS = ("created", "subject", "author_full_name")

_DATE_FORMAT = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
PAST_DATE = "Date must be today or later."
UNSET: Any = MISSING  # a field the request did not write


@dataclass
class MessageInput:
    """The fields a create or update request wrote; UNSET where it was silent."""

    subject: Any = UNSET
    body: Any = UNSET
    targeting: Targeting | Any = UNSET
    send_at: date | None | Any = UNSET
    # A template's UUID: fills the subject or body the request leaves out, on create,
    # PUT and PATCH alike (service.fill_from_template).
    template: str | None = None
    # A scoped sender's choice of scope on create, when the query fits several (SPEC 9).
    scope: tuple[ScopeType, str] | None = None
    # {"et": {"subject", "body"}} (SPEC 2.3): replaces the message's whole; UNSET keeps them.
    translations: Translations | Any = UNSET


def parse_send_at(value: Any, today: date) -> tuple[date | None, list[str] | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, [_DATE_FORMAT]
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None, [_DATE_FORMAT]
    if len(value.strip()) != 10:
        return None, [_DATE_FORMAT]
    if day < today:
        return None, [f"{PAST_DATE} Today is {today.isoformat()}."]
    return day, None


def parse_scope(value: Any) -> tuple[tuple[ScopeType, str] | None, str | None]:
    """`{"type": "provider" | "organisation", "uuid": ...}`."""
    if not isinstance(value, dict) or set(value) != {"type", "uuid"}:
        return None, 'Give scope as {"type": "provider" or "organisation", "uuid": ...}.'
    try:
        kind = ScopeType(value["type"])
    except ValueError:
        return None, f'"{value["type"]}" is not a scope type: provider or organisation.'
    uuid = parse_uuid(value["uuid"])
    if uuid is None:
        return None, f'"{value["uuid"]}" is not a valid UUID.'
    return (kind, uuid), None


def parse_message_input(data: dict[str, Any], *, partial: bool, today: date) -> MessageInput:
    """Check a create (partial=False), PUT (partial=False) or PATCH (partial=True) body."""
    errors: dict[str, Any] = {}
    result = MessageInput()
    template = data.get("template")  # null is the same as leaving it out
    if template is not None:
        result.template = parse_uuid(template)
        if result.template is None:
            errors["template"] = [f'"{template}" is not a valid UUID.']
    # With a template, subject and body may come from it instead.
    required = not partial and template is None
    result.subject = read_text(data, "subject", required, errors)
    result.body = read_text(data, "body", required, errors)
    result.translations = read_translations(data, errors)
    if "query" in data:
        targeting, problem = targeting_from_json(data["query"])
        if problem:
            errors["query"] = problem
        result.targeting = targeting
    if data.get("scope") is not None and not partial:
        result.scope, scope_problem = parse_scope(data["scope"])
        if scope_problem:
            errors["scope"] = [scope_problem]
    if "send_at" in data:
        day, problem = parse_send_at(data["send_at"], today)
        if problem:
            errors["send_at"] = problem
        result.send_at = day
    check_message_text(result.subject, result.body, errors)
    if errors:
        raise Invalid(errors)
    return result


def delivery_json(
    row: MessageRecord, counts: Mapping[DeliveryStatus, int] | None
) -> dict[str, Any]:
    """`delivery`: where the send stands and its deliveries by status (SPEC 4.1)."""
    counts = counts or {}
    result: dict[str, Any] = {
        "status": progress(row, counts).value,
        "total": sum(counts.values()),
    }
    for status in DeliveryStatus:
        result[status.value] = counts.get(status, 0)
    return result


def message_json(
    row: MessageRecord, counts: Mapping[DeliveryStatus, int] | None, emails: str | None = None
) -> dict[str, Any]:
    """A message as Waldur renders it, plus Herald's read-only `delivery` counts.
    `query` and `emails` are stored as JSON text and spliced in unparsed: an
    all-users message carries 100,000 addresses."""
    return {
        "uuid": row.uuid,
        "created": wire_time(row.created),
        "subject": row.subject,
        "body": row.body,
        "query": orjson.Fragment(row.query),
        "author_full_name": row.author_full_name,
        "emails": orjson.Fragment(emails or row.emails or "[]"),
        "state": row.state,
        "send_at": row.send_at.isoformat() if row.send_at else None,
        "delivery": delivery_json(row, counts),
        "scope": scope_json(row),
        "review": review_json(row),
        "translations": orjson.Fragment(row.translations or "{}"),
    }


def scope_json(row: MessageRecord) -> dict[str, Any] | None:
    """A scoped sender's message's scope (SPEC 9); null for a staff message."""
    if row.scope_type is None:
        return None
    return {"type": row.scope_type.value, "uuid": row.scope_uuid, "name": row.scope_name}


def review_json(row: MessageRecord) -> dict[str, Any] | None:
    """Its last request for staff review; null when none was ever needed."""
    if row.review_status is None:
        return None
    return {
        "status": row.review_status.value,
        "action": row.review_action.value if row.review_action else None,
        "requested_by": {"uuid": row.review_requested_by,
                         "full_name": row.review_requested_by_name},
        "requested": wire_time(row.review_requested) if row.review_requested else None,
        "decided_by": {"uuid": row.review_decided_by, "full_name": row.review_decided_by_name}
        if row.review_decided_by else None,
        "decided": wire_time(row.review_decided) if row.review_decided else None,
        "note": row.review_note,
    }  # fmt: skip


def delivery_row_json(row: Any, bounce: BounceRecord | None) -> dict[str, Any]:
    result = {
        "email": row.email,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "sent_at": wire_time(row.sent_at) if row.sent_at else None,
        "language": row.language,
    }
    if bounce is not None:  # only a bounced delivery carries one (SPEC 4.2)
        result["bounce"] = delivery_bounce_json(bounce)
    return result


# --- the OpenAPI description ------------------------------------------------


class QueryOut(BaseModel):
    customers: list[NamedRef] | None = Field(None, description="present only when given")
    offerings: list[NamedRef] | None = Field(None, description="present only when given")
    all_users: bool
    additional_recipients: list[str] | None = None
    excluded_recipients: list[str] | None = None
    send_to_me: bool | None = None


class QueryIn(BaseModel):
    """Every key optional and nullable; an unknown key is a 400."""

    model_config = ConfigDict(extra="forbid")

    customers: list[Uuid] | None = Field(None, description="customer UUIDs")
    offerings: list[Uuid] | None = Field(None, description="offering UUIDs")
    all_users: bool | None = None
    additional_recipients: list[Email] | None = None
    excluded_recipients: list[Email] | None = None
    send_to_me: bool | None = None


class DeliveryCounts(BaseModel):
    status: DeliveryProgress = Field(
        description="idle (DRAFT, SCHEDULED); preparing (the audience is being queued); "
        "sending (deliveries pending); paused; cancelled; done (nothing pending)"
    )
    total: int = Field(description="deliveries queued (while preparing: so far)")
    pending: int
    sent: int
    failed: int
    cancelled: int
    bounced: int
    suppressed: int


class SteeredOut(BaseModel):
    delivery: DeliveryCounts


class DeliveryBounceOut(BaseModel):
    uuid: str
    kind: str = Field(description="hard, soft, complaint or unrecognised")
    code: str = Field(description='the enhanced status code, such as "5.1.1"')
    diagnostic: str
    received: datetime


class DeliveryOut(BaseModel):
    email: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    language: str | None = Field(
        description="the variant it was sent in: a translation's tag, null for the default"
    )
    bounce: DeliveryBounceOut | None = Field(None, description="present on a bounced delivery")


class RenderRequest(BaseModel):
    """An unsaved message to render for one recipient (`POST /render/`)."""

    subject: str = Field(min_length=1, description=SUBJECT_RULE)
    body: str = Field(min_length=1)
    query: QueryIn | None | Literal["null"] = Field(None, description="whom it would reach")
    email: Email | None = Field(None, description="render for this address (default: the first)")


def _language_field(description: str) -> Any:
    """`language` in a preview or test-send body: a tag, or empty for the default."""
    return Field(None, max_length=35, pattern=f"^({TAG})?$", description=description)


class PreviewRequest(BaseModel):
    """`POST /{uuid}/preview/`: whose mail to show (the body may be left out)."""

    email: Email | None = Field(None, description="one of the recipients (default: the first)")
    language: str | None = _language_field(
        "show the variant a reader of this language gets (SPEC 2.3); empty: the default; "
        "left out: the variant the recipient gets"
    )


class TestSendRequest(BaseModel):
    """`POST /{uuid}/test-send/`: where to send the test."""

    emails: list[Email] = Field(min_length=1, max_length=10)
    language: str | None = _language_field(
        "send the variant a reader of this language gets (SPEC 2.3); left out or empty: the default"
    )


class PreviewOut(BaseModel):
    email: str = Field(description="whose mail this is")
    language: str | None = Field(description="the variant shown: its tag; null: the default")
    subject: str
    text: str
    html: str | None = Field(description="null when the body has no HTML")


class TestSendResult(BaseModel):
    email: str
    status: Literal["sent", "failed"]
    detail: str


class TestSendOut(BaseModel):
    results: list[TestSendResult]


class RetriedOut(BaseModel):
    retried: int = Field(description="failed deliveries put back in the queue")


class ScopeOut(BaseModel):
    type: ScopeType
    uuid: str
    name: str


class ScopeIn(BaseModel):
    type: ScopeType
    uuid: Uuid


class PersonOut(BaseModel):
    uuid: str | None
    full_name: str


class ReviewOut(BaseModel):
    status: ReviewStatus
    action: Literal["send", "schedule"]
    requested_by: PersonOut
    requested: datetime | None
    decided_by: PersonOut | None
    decided: datetime | None
    note: str | None


class BroadcastMessageOut(BaseModel):
    uuid: str = Field(description="32 hex digits")
    created: datetime
    subject: str
    body: str
    query: QueryOut
    author_full_name: str
    emails: list[str]
    state: MessageState
    send_at: date | None
    delivery: DeliveryCounts = Field(description="Herald's addition: the outbox, counted")
    scope: ScopeOut | None = Field(
        description="a scoped sender's message: the provider or organisation it is for (SPEC 9)"
    )
    review: ReviewOut | None = Field(description="its last request for staff review (SPEC 9)")
    translations: dict[str, VariantOut] = Field(description=TRANSLATIONS_DOC + " {} for none.")


class BroadcastMessageRequest(BaseModel):
    subject: str = Field(min_length=1, description=SUBJECT_RULE)
    body: str = Field(
        min_length=1, max_length=BODY_MAX, description="may use placeholders; may be HTML"
    )
    template: Uuid | None = Field(
        None, description="a template fills the subject or body left out (create, PUT, PATCH)"
    )
    query: QueryIn | None | Literal["null"] = Field(
        None, description='null, or the string "null", means no targeting'
    )
    send_at: date | None = Field(None, description="today or later")
    scope: ScopeIn | None = Field(
        None, description="create, scoped senders: which of their scopes, when several fit"
    )
    translations: dict[str, VariantIn] | None = Field(
        None,
        description=TRANSLATIONS_DOC + " Left out: unchanged on update (none on create).",
        max_length=MAX_TRANSLATIONS,
        json_schema_extra={"propertyNames": TAG_NAMES},
    )


class PatchedBroadcastMessageRequest(BaseModel):
    """Every key optional; subject and body may not be null."""

    subject: SkipJsonSchema[None] | str = Field(
        None, min_length=1, description=f"left out: unchanged; {SUBJECT_RULE}"
    )
    body: SkipJsonSchema[None] | str = Field(
        None, min_length=1, max_length=BODY_MAX, description="left out: unchanged"
    )
    template: Uuid | None = Field(None, description="a template fills the subject or body left out")
    query: QueryIn | None | Literal["null"] = Field(None, description="left out: unchanged")
    send_at: date | None = Field(None, description="left out: unchanged; null: no day")
    translations: dict[str, VariantIn] | None = Field(
        None,
        description=TRANSLATIONS_DOC + " Left out: unchanged; given: replaces them all.",
        max_length=MAX_TRANSLATIONS,
        json_schema_extra={"propertyNames": TAG_NAMES},
    )


class ErrorOut(BaseModel):
    detail: str


class RejectRequest(BaseModel):
    """`POST /{uuid}/reject/`: why (the sender reads it). An unknown key is a 400."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)


def parse_reject(data: dict[str, Any]) -> str:
    errors: dict[str, Any] = {}
    note = read_text(data, "note", True, errors)
    if not errors and len(note) > 2000:
        errors["note"] = ["Ensure this field has no more than 2000 characters."]
    unknown = set(data) - {"note"}
    if unknown:
        errors.update({name: ["Unknown field."] for name in sorted(unknown)})
    if errors:
        raise Invalid(errors)
    return str(note)
