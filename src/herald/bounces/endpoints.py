"""/api/bounces/ and /api/suppressions/ (SPEC 4.2): thin endpoints over the services."""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.responses import Response

from herald.api.openapi import UUID_PATTERN, Email, Uuid, json_request_body
from herald.api.pagination import PageRequest, list_response, paginate
from herald.api.params import parse_uuid, path_uuid, read_body
from herald.api.responses import JSONResponse
from herald.audit.service import actor_of
from herald.auth.dependencies import (
    ApiKey,
    AuthenticatedBody,
    authenticate_staff,
    session_idle,
    staff_session,
)
from herald.bounces import repository, service
from herald.bounces.schemas import bounce_json, suppression_json
from herald.core.clock import utc_now
from herald.core.config import Settings
from herald.core.db import Database
from herald.core.errors import Invalid, NotFound
from herald.core.models import BounceKind, SuppressionReason
from herald.core.text import NOTE_MAX, text_problem
from herald.idempotency.http import Idempotency
from herald.suppressions import repository as suppressions
from herald.suppressions import service as suppression_rules

bounces_router = APIRouter(prefix="/api/bounces", tags=["bounces"])
suppressions_router = APIRouter(prefix="/api/suppressions", tags=["suppressions"])

# The idempotency keys of webhook calls made with the webhook's own token (no user).
WEBHOOK_CALLER = "bounce-webhook"


class BounceReport(BaseModel):
    email: Email
    kind: Literal["hard", "soft", "complaint"]
    reason: str = Field("", max_length=NOTE_MAX, description="the relay's words")
    message_uuid: Uuid | None = Field(None, description="the message the bounced mail was")


class ManualSuppressionRequest(BaseModel):
    email: Email
    note: str = Field("", max_length=NOTE_MAX)


def _choices(enum: type[BounceKind] | type[SuppressionReason]) -> dict[str, Any]:
    """Document a filter's choices (checked by hand, for DRF's message)."""
    return {"enum": [*(c.value for c in enum), ""]}  # "": any (last, not a blank first choice)


Choice = TypeVar("Choice", BounceKind, SuppressionReason)


def _choice(name: str, value: str | None, choices: type[Choice]) -> Choice | None:
    if value is None or value == "":
        return None
    try:
        return choices(value)
    except ValueError:
        names = ", ".join(c.value for c in choices)
        raise Invalid.field(
            name, f"Select a valid choice. {value} is not one of the available choices: {names}."
        ) from None


def _search(name: str, value: str | None) -> str | None:
    if value is not None and (problem := text_problem(value)):
        raise Invalid.field(name, problem)
    return value.strip() if value else None


# --- bounces --------------------------------------------------------------------------


@bounces_router.head("/", operation_id="bounces_count")
@bounces_router.get("/", operation_id="bounces_list")
def list_bounces(
    request: Request,
    key: ApiKey,
    email: Annotated[str | None, Query(description="case-insensitive substring")] = None,
    kind: Annotated[
        str | None, Query(description="the kind", json_schema_extra=_choices(BounceKind))
    ] = None,
    message_uuid: Annotated[
        str | None,
        Query(description="bounces of one message", json_schema_extra={"pattern": UUID_PATTERN}),
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
) -> Response:
    wanted = _choice("kind", kind, BounceKind)
    search = _search("email", email)
    message = parse_uuid(message_uuid) if message_uuid is not None else None
    if message_uuid is not None and message is None:
        raise Invalid.field("message_uuid", "Must be a valid UUID.")
    pages = PageRequest.from_params(page, page_size)
    with staff_session(request, key) as (session, _user):
        total = repository.count(session, search, wanted, message)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = repository.page(session, search, wanted, message, pages.offset, pages.page_size)
    return list_response(request, [bounce_json(request, r) for r in rows], total, pages)


@bounces_router.get("/{uuid}/", name="retrieve_bounce", operation_id="bounces_retrieve")
def retrieve_bounce(uuid: str, request: Request, key: ApiKey) -> JSONResponse:
    """One bounce; staff also get `raw`, the notification as it arrived (first 64 kB)."""
    with staff_session(request, key) as (session, user):
        found = repository.get(session, path_uuid(uuid))
    if found is None:
        raise NotFound()
    record, raw = found
    body = bounce_json(request, record)
    if user.is_staff:
        body["raw"] = raw.decode("utf-8", "replace")
    return JSONResponse(body)


def _is_webhook(settings: Settings, key: str) -> bool:
    token = settings.bounce_webhook_token
    return bool(token) and hmac.compare_digest(key.encode(), (token or "").encode())


@bounces_router.post(
    "/",
    status_code=202,
    operation_id="bounces_report",
    openapi_extra=json_request_body(BounceReport),
)
async def report_bounce(request: Request, key: ApiKey) -> Response:
    """A relay or e-mail service reports a bounce (its own bearer token, or staff)."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    if _is_webhook(settings, key):
        caller = WEBHOOK_CALLER
    else:

        def check() -> str:
            with database.transaction(write=False) as session:
                holder = authenticate_staff(
                    session,
                    key,
                    getattr(request.app.state, "token_fallback", None),
                    session_idle(request),
                    staff_only=True,
                )
            return holder.user.uuid

        caller = await run_in_threadpool(check)
    body = await read_body(request, settings.max_body_bytes)

    def record() -> Response:
        once = Idempotency.of(request, body.raw)
        with database.transaction() as session:
            if replayed := once.replay(session, caller):
                return replayed
            report = service.parse_report(body.json_object())
            bounce, suppressed = service.take_report(
                session, report, service.BounceRules.of(settings), utc_now(), body.raw
            )
            answer = JSONResponse(
                {**bounce_json(request, bounce), "suppressed": suppressed}, status_code=202
            )
            return once.remember(session, caller, answer)

    return await run_in_threadpool(record)


# --- suppressions ------------------------------------------------------------------------


@suppressions_router.head("/", operation_id="suppressions_count")
@suppressions_router.get("/", operation_id="suppressions_list")
def list_suppressions(
    request: Request,
    key: ApiKey,
    email: Annotated[str | None, Query(description="case-insensitive substring")] = None,
    reason: Annotated[
        str | None, Query(description="why", json_schema_extra=_choices(SuppressionReason))
    ] = None,
    page: str | None = None,
    page_size: str | None = None,
) -> Response:
    wanted = _choice("reason", reason, SuppressionReason)
    search = _search("email", email)
    pages = PageRequest.from_params(page, page_size)
    with staff_session(request, key) as (session, _user):
        total = suppressions.count(session, search, wanted)
        if (answer := paginate(request, pages, total)) is not None:
            return answer
        rows = suppressions.page(session, search, wanted, pages.offset, pages.page_size)
        people = suppression_rules.people_of(session, rows)
        causes = repository.by_ids(session, [r.bounce_id for r in rows if r.bounce_id])
    items = [
        suppression_json(
            request, r, causes.get(r.bounce_id) if r.bounce_id else None, people.get(r.key, [])
        )
        for r in rows
    ]
    return list_response(request, items, total, pages)


@suppressions_router.post(
    "/",
    status_code=201,
    operation_id="suppressions_create",
    openapi_extra=json_request_body(ManualSuppressionRequest),
    responses={200: {"description": "the address was suppressed already; unchanged"}},
)
def add_suppression(request: Request, key: ApiKey, body: AuthenticatedBody) -> Response:
    once = Idempotency.of(request, body.raw)
    with staff_session(request, key) as (session, user):
        if replayed := once.replay(session, user.uuid):
            return replayed
        wanted = suppression_rules.parse_manual(body.json_object())
        record, added = suppression_rules.add_by_hand(
            session, wanted, actor_of(request, user), utc_now()
        )
        people = suppression_rules.people_of(session, [record])
        cause = repository.by_id(session, record.bounce_id) if record.bounce_id else None
        answer = JSONResponse(
            suppression_json(request, record, cause, people.get(record.key, [])),
            status_code=201 if added else 200,
        )
        return once.remember(session, user.uuid, answer)


@suppressions_router.delete("/{email}/", status_code=204, operation_id="suppressions_destroy")
def remove_suppression(email: str, request: Request, key: ApiKey) -> Response:
    """Mail this address again (a user gave a working address, or it was a mistake)."""
    with staff_session(request, key) as (session, user):
        suppression_rules.remove(session, email, actor_of(request, user))
    return Response(status_code=204)
