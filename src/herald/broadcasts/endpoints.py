"""/api/broadcast-messages/: thin endpoints, one service call each."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response

from herald.api.fields import Fields, select, wanted_fields
from herald.api.openapi import TAG_OR_EMPTY, json_request_body
from herald.api.pagination import (
    PageRequest,
    StreamAborted,
    list_response,
    paginate,
    streamed_list_response,
)
from herald.api.params import path_uuid
from herald.api.responses import JSONResponse
from herald.audit.service import actor_of, record
from herald.auth.callers import Caller
from herald.auth.dependencies import ApiKey, AuthenticatedBody, sender_session, staff_session
from herald.broadcasts import repository, sending, service
from herald.broadcasts.schemas import (
    DELIVERY_FIELDS,
    MESSAGE_FIELDS,
    ORDERINGS,
    REVIEWS,
    STATES,
    BroadcastMessageOut,
    BroadcastMessageRequest,
    DeliveryOut,
    ErrorOut,
    PatchedBroadcastMessageRequest,
    PreviewOut,
    PreviewRequest,
    RejectRequest,
    RenderRequest,
    RetriedOut,
    SteeredOut,
    TestSendOut,
    TestSendRequest,
    delivery_json,
    delivery_row_json,
    message_json,
    parse_message_input,
    parse_reject,
)
from herald.core.addresses import email_error
from herald.core.config import Settings
from herald.core.db import Database
from herald.core.errors import Invalid
from herald.core.languages import read_tag
from herald.core.models import DeliveryProgress, DeliveryStatus, ReviewAction, Steering
from herald.core.text import check_message_text, read_text, text_problem
from herald.delivery.outbox import STATUSES as DELIVERY_STATUSES
from herald.delivery.send_now import send_now
from herald.idempotency.http import Idempotency
from herald.operations.metrics import STREAMS_CUT
from herald.recipients.service import check_targeting
from herald.recipients.targeting import targeting_from_json

logger = logging.getLogger("herald.sending")

router = APIRouter(prefix="/api/broadcast-messages", tags=["broadcast-messages"])


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input: a map of field names to messages"},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


DELIVERY_FILTERS = (*(p.value for p in DeliveryProgress), repository.FAILURES)
_ORDERINGS = ORDERINGS + tuple(f"-{name}" for name in ORDERINGS)


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    """Document a repeatable parameter's choices (checked by hand, for DRF's messages)."""
    return {"items": {"type": "string", "enum": list(values)}}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _message_response(
    row: Any,
    counts: Mapping[int, Mapping[DeliveryStatus, int]],
    fields: list[str] | None,
    status_code: int = 200,
) -> JSONResponse:
    chosen = wanted_fields(fields, MESSAGE_FIELDS)
    body = select(message_json(row, counts.get(row.id)), chosen)
    return JSONResponse(body, status_code=status_code)


def _record(
    session: Session,
    request: Request,
    caller: Caller,
    action: str,
    message: Any,
    detail: dict[str, Any] | None = None,
) -> None:
    """The audit entry of a change to a message; a scoped message's entry names its
    scope (SPEC 9: every scoped action with the scope)."""
    extra = dict(detail or {})
    if message.scope_type is not None:
        extra["scope"] = {"type": message.scope_type.value, "uuid": message.scope_uuid,
                          "name": message.scope_name}  # fmt: skip
    record(session, actor_of(request, caller.user), action, "message", message.uuid, extra)


def _check_choices(name: str, values: list[str], choices: tuple[str, ...]) -> None:
    for value in values:
        if value not in choices:
            raise Invalid.field(
                name, f"Select a valid choice. {value} is not one of the available choices."
            )


@router.head(
    "/",
    operation_id="broadcast_messages_count",
    responses={200: {"description": "The count in X-Result-Count; no body"}, **_ERRORS},
)
@router.get(
    "/",
    operation_id="broadcast_messages_list",
    responses={200: {"model": list[BroadcastMessageOut]}, **_ERRORS},
)
def list_messages(
    *,
    request: Request,
    key: ApiKey,
    state: Annotated[
        list[str],
        Query(default_factory=list, description="any of", json_schema_extra=_enum(STATES)),
    ],
    subject: Annotated[str | None, Query(description="case-insensitive substring")] = None,
    delivery: Annotated[
        list[str],
        Query(
            default_factory=list,
            description="any of: a delivery status, or `failed` (has failed deliveries)",
            json_schema_extra=_enum(DELIVERY_FILTERS),
        ),
    ],
    o: Annotated[
        list[str],
        Query(default_factory=list, description="repeatable", json_schema_extra=_enum(_ORDERINGS)),
    ],
    review: Annotated[
        list[str],
        Query(
            default_factory=list,
            description="any of: the status of a scoped sender's request for review (SPEC 9)",
            json_schema_extra=_enum(REVIEWS),
        ),
    ],
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    states = state
    _check_choices("state", states, STATES)
    _check_choices("delivery", delivery, DELIVERY_FILTERS)
    _check_choices("review", review, REVIEWS)
    if subject is not None and (problem := text_problem(subject)):
        raise Invalid.field("subject", problem)
    ordering = o or ["-created"]
    _check_choices("o", ordering, _ORDERINGS)
    pages = PageRequest.from_params(page, page_size)
    with sender_session(request, key) as (session, caller):
        visible = service.visible_to(caller)
        total = repository.count_messages(session, states, subject, delivery, review, visible)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = repository.list_messages(
            session, states, subject, ordering, pages.offset, pages.page_size, delivery, review,
            visible,
        )  # fmt: skip
        counts = service.delivery_counts(session, rows)
        chosen = wanted_fields(field, MESSAGE_FIELDS)
        with_emails = chosen is None or "emails" in chosen
    if not with_emails or all(row.emails is not None for row in rows):
        items = [select(message_json(r, counts.get(r.id)), chosen) for r in rows]
        return list_response(request, items, total, pages)
    # A page with large messages is written message by message, each large one's
    # addresses read on their own: a page of messages to a million people each
    # never sits in the server's memory at once (gzip compresses as it goes).
    database = request.app.state.database
    return streamed_list_response(
        request, _messages_with_emails(database, rows, counts, chosen), total, pages
    )


def _messages_with_emails(
    database: Database,
    rows: Sequence[Any],
    counts: Mapping[int, Mapping[DeliveryStatus, int]],
    chosen: list[str] | None,
) -> Iterator[bytes]:
    for number, row in enumerate(rows):
        emails = row.emails
        if emails is None:
            try:
                with database.transaction(write=False) as session:
                    emails = repository.message_emails(session, [row.id]).get(row.id)
            except SQLAlchemyError as exc:
                if number == 0:
                    raise  # nothing sent yet: the ordinary 503
                STREAMS_CUT.labels("/api/broadcast-messages/").inc()
                logger.error(
                    "list of messages cut after %d of %d: the database failed while it "
                    "streamed (%s); the client sees an incomplete response",
                    number, len(rows), type(exc).__name__,
                )  # fmt: skip
                raise StreamAborted() from None
        if emails is not None:  # not deleted since the page was read
            yield orjson.dumps(select(message_json(row, counts.get(row.id), emails), chosen))


@router.post(
    "/",
    status_code=201,
    operation_id="broadcast_messages_create",
    responses={201: {"model": BroadcastMessageOut}, **_ERRORS},
    openapi_extra=json_request_body(BroadcastMessageRequest),
)
def create_message(request: Request, key: ApiKey, body: AuthenticatedBody) -> Response:
    once = Idempotency.of(request, body.raw)
    with sender_session(request, key) as (session, caller):
        user = caller.user
        if replayed := once.replay(session, user.uuid):
            return replayed
        data = parse_message_input(
            body.json_object(), partial=False, today=_settings(request).today()
        )
        message = service.create_message(session, caller, data)
        _record(session, request, caller, "message.create", message)
        counts = service.delivery_counts(session, [message])
        return once.remember(session, user.uuid, _message_response(message, counts, None, 201))


@router.get(
    "/{uuid}/",
    operation_id="broadcast_messages_retrieve",
    responses={200: {"model": BroadcastMessageOut}, **_ERRORS},
)
def retrieve_message(
    uuid: str, request: Request, key: ApiKey, field: Fields = None
) -> JSONResponse:
    with sender_session(request, key) as (session, caller):
        message = service.get_message(session, path_uuid(uuid), caller)
        counts = service.delivery_counts(session, [message])
    return _message_response(message, counts, field)


@router.put(
    "/{uuid}/",
    operation_id="broadcast_messages_update",
    responses={200: {"model": BroadcastMessageOut}, 409: {"model": ErrorOut}, **_ERRORS},
    openapi_extra=json_request_body(BroadcastMessageRequest),
)
def update_message(
    uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody
) -> JSONResponse:
    with sender_session(request, key) as (session, caller):
        message_uuid = path_uuid(uuid)  # an unparseable one is a 404 before the body's 400
        data = parse_message_input(
            body.json_object(), partial=False, today=_settings(request).today()
        )
        message = service.update_message(session, caller, message_uuid, data)
        _record(session, request, caller, "message.update", message)
        counts = service.delivery_counts(session, [message])
    return _message_response(message, counts, None)


@router.patch(
    "/{uuid}/",
    operation_id="broadcast_messages_partial_update",
    responses={200: {"model": BroadcastMessageOut}, 409: {"model": ErrorOut}, **_ERRORS},
    openapi_extra=json_request_body(PatchedBroadcastMessageRequest, required=False),
)
def partial_update_message(
    uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody
) -> JSONResponse:
    with sender_session(request, key) as (session, caller):
        message_uuid = path_uuid(uuid)  # an unparseable one is a 404 before the body's 400
        data = parse_message_input(
            body.json_object(), partial=True, today=_settings(request).today()
        )
        message = service.update_message(session, caller, message_uuid, data)
        _record(session, request, caller, "message.update", message)
        counts = service.delivery_counts(session, [message])
    return _message_response(message, counts, None)


@router.delete(
    "/{uuid}/",
    status_code=204,
    operation_id="broadcast_messages_destroy",
    responses={409: {"model": ErrorOut}, **_ERRORS},
)
def delete_message(uuid: str, request: Request, key: ApiKey) -> Response:
    with sender_session(request, key) as (session, caller):
        message = service.get_message(session, path_uuid(uuid), caller)
        service.delete_message(session, caller, message.uuid)
        _record(session, request, caller, "message.delete", message)
    return Response(status_code=204)


@router.post(
    "/{uuid}/schedule/",
    operation_id="broadcast_messages_schedule",
    responses={200: {"description": "Scheduled; no body"}, 409: {"model": ErrorOut}, **_ERRORS},
)
def schedule_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """A scoped sender's schedule waits for staff review (SPEC 9): 202, unchanged."""
    once = Idempotency.of(request)
    with sender_session(request, key) as (session, caller):
        user = caller.user
        if replayed := once.replay(session, user.uuid):
            return replayed
        message = service.get_message(session, path_uuid(uuid), caller)
        asked = service.schedule_message(session, caller, message.uuid, _settings(request).today())
        action = "message.review-request" if asked else "message.schedule"
        _record(
            session, request, caller, action, message, {"action": "schedule"} if asked else None
        )
        return once.remember(session, user.uuid, Response(status_code=202 if asked else 200))


@router.post(
    "/{uuid}/send/",
    operation_id="broadcast_messages_send",
    responses={200: {"description": "Sent; no body"}, 409: {"model": ErrorOut}, **_ERRORS},
)
def send_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """Answers at once: the first addresses are queued now, the rest right after the
    answer (`delivery.status` is `preparing` meanwhile)."""
    once = Idempotency.of(request)
    settings = _settings(request)
    with sender_session(request, key) as (session, caller):
        user = caller.user
        if replayed := once.replay(session, user.uuid):
            return replayed
        message = service.get_message(session, path_uuid(uuid), caller, with_emails=False)
        message_uuid = message.uuid
        if caller.scopes is not None and caller.review:
            # A scoped sender's send waits for staff review (SPEC 9): 202, unchanged.
            service.request_review(session, caller, message, ReviewAction.SEND)
            _record(session, request, caller, "message.review-request", message,
                    {"action": "send"})  # fmt: skip
            return once.remember(session, user.uuid, Response(status_code=202))
        prepared = sending.send_message(
            session, message_uuid, settings.today(), settings.prepare_batch
        )
        _record(session, request, caller, "message.send", message)
        response = once.remember(session, user.uuid, Response(status_code=200))
    if not prepared:
        # Carried on by this process after the answer; a delivery process
        # finishes it too, should this one die first.
        response.background = BackgroundTask(
            _prepare_in_background, request.app.state.database, message_uuid, settings.prepare_batch
        )
    return response


def _prepare_in_background(database: Database, message_uuid: str, batch: int) -> None:
    try:
        sending.prepare_by_uuid(database, message_uuid, batch)
    except Exception:
        logger.exception(
            "preparing message %s failed here; a delivery process carries it on", message_uuid
        )


def _steering(
    uuid: str,
    request: Request,
    key: ApiKey,
    act: Callable[[Session, str], int],
    halts: Steering | None,
    action: str,
) -> Response:
    """Steer a send; a pause or cancel (`halts`) answers once it holds (see settle)."""
    once = Idempotency.of(request)
    database = request.app.state.database
    with sender_session(request, key) as (session, caller):
        user = caller.user
        if replayed := once.replay(session, user.uuid):
            return replayed
        message = service.get_message(session, path_uuid(uuid), caller)
        message_uuid = message.uuid
        message_id = act(session, message_uuid)
        _record(session, request, caller, action, message)
    if halts is not None:
        # Committed: now wait until no worker holds a delivery of it, so that none
        # starts after this answer (SPEC 4.1), then answer with what it has become.
        sending.settle(database, message_id, halts is Steering.CANCELLED)
    with sender_session(request, key) as (session, caller):
        message = service.get_message(session, message_uuid, caller)
        counts = service.delivery_counts(session, [message])
        body = {"delivery": delivery_json(message, counts.get(message.id))}
        return once.remember(session, caller.user.uuid, JSONResponse(body))


_STEERING: dict[int | str, dict[str, Any]] = {
    200: {"model": SteeredOut},
    409: {"model": ErrorOut},
    **_ERRORS,
}


@router.post("/{uuid}/pause/", operation_id="broadcast_messages_pause", responses=_STEERING)
def pause_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """From `preparing` or `sending`: no delivery of it starts after the answer; mail
    already handed to the relay may finish."""
    return _steering(uuid, request, key, sending.pause, Steering.PAUSED, "message.pause")


@router.post("/{uuid}/resume/", operation_id="broadcast_messages_resume", responses=_STEERING)
def resume_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """From `paused`: delivery goes on."""
    return _steering(uuid, request, key, sending.resume, None, "message.resume")


@router.post("/{uuid}/cancel/", operation_id="broadcast_messages_cancel", responses=_STEERING)
def cancel_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """From `preparing`, `sending` or `paused`: every delivery not yet handed to the
    relay becomes `cancelled` and is never sent. It cannot be resumed."""
    return _steering(uuid, request, key, sending.cancel, Steering.CANCELLED, "message.cancel")


@router.head(
    "/{uuid}/deliveries/",
    operation_id="broadcast_messages_deliveries_count",
    responses={200: {"description": "The count in X-Result-Count; no body"}, **_ERRORS},
)
@router.get(
    "/{uuid}/deliveries/",
    operation_id="broadcast_messages_deliveries_list",
    responses={200: {"model": list[DeliveryOut]}, **_ERRORS},
)
def list_deliveries(
    *,
    uuid: str,
    request: Request,
    key: ApiKey,
    status: Annotated[
        list[str],
        Query(
            default_factory=list, description="any of", json_schema_extra=_enum(DELIVERY_STATUSES)
        ),
    ],
    language: Annotated[
        str | None,
        Query(
            description="only those sent in this variant: its tag; empty: the default",
            max_length=35,
            json_schema_extra=TAG_OR_EMPTY,
        ),
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
    field: Fields = None,
) -> Response:
    """Each recipient's delivery of a message: status, attempts, last error, time sent,
    the variant it went out in."""
    _check_choices("status", status or [], DELIVERY_STATUSES)
    variant = None
    if language is not None:
        variant, problem = read_tag(language)
        if problem is not None:
            raise Invalid.field("language", problem)
    statuses = [DeliveryStatus(value) for value in status or []]
    pages = PageRequest.from_params(page, page_size)
    with sender_session(request, key) as (session, caller):
        message_uuid = path_uuid(uuid)
        total = service.count_deliveries(session, caller, message_uuid, statuses, variant)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows, bounces = service.deliveries_page(
            session, caller, message_uuid, statuses, pages.offset, pages.page_size, variant
        )
    chosen = wanted_fields(field, DELIVERY_FIELDS)
    items = [select(delivery_row_json(r, bounces.get(r.id)), chosen) for r in rows]
    return list_response(request, items, total, pages)


@router.post(
    "/{uuid}/retry-failed/",
    operation_id="broadcast_messages_retry_failed",
    responses={200: {"model": RetriedOut}, 409: {"model": ErrorOut}, **_ERRORS},
)
def retry_failed(uuid: str, request: Request, key: ApiKey) -> Response:
    """Put a sent message's failed deliveries back in the queue."""
    once = Idempotency.of(request)
    with sender_session(request, key) as (session, caller):
        user = caller.user
        if replayed := once.replay(session, user.uuid):
            return replayed
        message = service.get_message(session, path_uuid(uuid), caller)
        retried = service.retry_failed(session, caller, message.uuid)
        _record(session, request, caller, "message.retry-failed", message, {"retried": retried})
        return once.remember(session, user.uuid, JSONResponse({"retried": retried}))


@router.post(
    "/render/",
    operation_id="broadcast_messages_render",
    responses={200: {"model": PreviewOut}, **_ERRORS},
    openapi_extra=json_request_body(RenderRequest),
)
def render_message(request: Request, key: ApiKey, body: AuthenticatedBody) -> JSONResponse:
    """Render an unsaved subject and body for one recipient, exactly as delivery would
    (same placeholders, sandbox and limits); saves and sends nothing. A placeholder
    problem is a 400 naming the field and the line."""
    with sender_session(request, key) as (session, caller):
        user = caller.user
        data = body.json_object()
        errors: dict[str, Any] = {}
        texts = {name: read_text(data, name, True, errors) for name in ("subject", "body")}
        check_message_text(texts["subject"], texts["body"], errors)
        targeting, query_problem = targeting_from_json(data.get("query"))
        if query_problem:
            errors["query"] = query_problem
        email = data.get("email")
        if email is not None and (email_problem := email_error(email)):
            errors["email"] = [email_problem]
        if errors:
            raise Invalid(errors)
        check_targeting(session, targeting, "query", service.scope_limit(caller))
        draft = service.Draft(texts["subject"], texts["body"])
        rendered = service.render_draft(
            session, draft, targeting, email, user, _settings(request).from_email
        )
    return JSONResponse(rendered)


@router.post(
    "/{uuid}/preview/",
    operation_id="broadcast_messages_preview",
    responses={200: {"model": PreviewOut}, 409: {"model": ErrorOut}, **_ERRORS},
    openapi_extra=json_request_body(PreviewRequest, required=False),
)
def preview_message(
    uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody
) -> JSONResponse:
    """The subject, text and HTML one recipient gets (`{"email": ...}`; default: the first)."""
    with sender_session(request, key) as (session, caller):
        message_uuid = path_uuid(uuid)
        data = body.json_object()
        email = data.get("email")
        if email is not None and (problem := email_error(email)):
            raise Invalid.field("email", problem)
        preview = service.preview_message(
            session, caller, message_uuid, email, _settings(request).from_email,
            _language(data),
        )  # fmt: skip
    return JSONResponse(preview)


@router.post(
    "/{uuid}/test-send/",
    operation_id="broadcast_messages_test_send",
    responses={200: {"model": TestSendOut}, **_ERRORS},
    openapi_extra=json_request_body(TestSendRequest),
)
async def send_test(uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody) -> Response:
    """Send the message, marked as a test, to up to 10 addresses now; nothing else changes."""
    settings = _settings(request)
    once = Idempotency.of(request, body.raw)

    def render() -> tuple[Response | None, str, list[tuple[str, bytes]]]:
        with sender_session(request, key) as (session, caller):
            user = caller.user
            if replayed := once.replay(session, user.uuid):
                return replayed, user.uuid, []
            message = service.get_message(session, path_uuid(uuid), caller)
            data = body.json_object()
            addresses = _test_addresses(data)
            mails = service.test_mails(
                session, caller, message.uuid, addresses, settings.from_email, _language(data)
            )
            _record(session, request, caller, "message.test-send", message,
                    {"emails": addresses})  # fmt: skip
            return None, user.uuid, mails

    replayed, user_uuid, mails = await run_in_threadpool(render)
    if replayed is not None:
        return replayed
    # The mail itself goes out on the event loop: a slow relay holds no request thread.
    response = JSONResponse({"results": await send_now(settings, mails)})

    def remember() -> Response:
        with request.app.state.database.transaction() as session:
            return once.remember(session, user_uuid, response)

    return await run_in_threadpool(remember)


def _language(data: dict[str, Any]) -> str | None:
    """`language` of a preview or test-send (SPEC 2.3): a reader's tag, "" for the
    default; None when not given."""
    if data.get("language") is None:
        return None
    tag, problem = read_tag(data["language"])
    if problem is not None:
        raise Invalid.field("language", problem)
    return tag


def _test_addresses(data: dict[str, Any]) -> list[str]:
    emails = data.get("emails")
    most = service.MAX_TEST_ADDRESSES
    if not isinstance(emails, list) or not emails:
        raise Invalid.field("emails", f"Give a list of 1 to {most} addresses.")
    if len(emails) > most:
        raise Invalid.field(
            "emails",
            f"At most {most} addresses for a test; {len(emails)} were given. Nothing was sent.",
        )
    errors = {str(n): [f'"{e}": {p}'] for n, e in enumerate(emails) if (p := email_error(e))}
    if errors:
        raise Invalid({"emails": errors})
    return list(dict.fromkeys(emails))


# --- staff review of scoped senders' sends (SPEC 9) ----------------------------


@router.post(
    "/{uuid}/approve/",
    operation_id="broadcast_messages_approve",
    responses={200: {"description": "Approved and carried out"}, 409: {"model": ErrorOut},
               **_ERRORS},
)  # fmt: skip
def approve_message(uuid: str, request: Request, key: ApiKey) -> Response:
    """Carry out a scoped sender's waiting send or schedule, as if they had asked now."""
    once = Idempotency.of(request)
    settings = _settings(request)
    with staff_session(request, key) as (session, user):
        if replayed := once.replay(session, user.uuid):
            return replayed
        message = service.get_message(session, path_uuid(uuid))
        prepared = service.approve(
            session, user, message.uuid, settings.today(), settings.prepare_batch
        )
        record(session, actor_of(request, user), "message.approve", "message", message.uuid,
               {"action": message.review_action.value if message.review_action else None,
                "scope": {"type": message.scope_type.value if message.scope_type else None,
                          "uuid": message.scope_uuid, "name": message.scope_name}})  # fmt: skip
        response = once.remember(session, user.uuid, Response(status_code=200))
    if not prepared:
        response.background = BackgroundTask(
            _prepare_in_background, request.app.state.database, message.uuid,
            settings.prepare_batch,
        )  # fmt: skip
    return response


@router.post(
    "/{uuid}/reject/",
    operation_id="broadcast_messages_reject",
    responses={200: {"description": "Rejected"}, 409: {"model": ErrorOut}, **_ERRORS},
    openapi_extra=json_request_body(RejectRequest),
)
def reject_message(uuid: str, request: Request, key: ApiKey, body: AuthenticatedBody) -> Response:
    """Say no to a waiting request, with why (`{"note"}`, required)."""
    once = Idempotency.of(request, body.raw)
    with staff_session(request, key) as (session, user):
        if replayed := once.replay(session, user.uuid):
            return replayed
        note = parse_reject(body.json_object())
        message = service.get_message(session, path_uuid(uuid))
        service.reject(session, user, message.uuid, note)
        record(session, actor_of(request, user), "message.reject", "message", message.uuid,
               {"note": note})  # fmt: skip
        return once.remember(session, user.uuid, Response(status_code=200))
